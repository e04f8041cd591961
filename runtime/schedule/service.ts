import { randomUUID } from 'node:crypto';
import nodeSchedule from 'node-schedule';
import { Errors, type FieldError } from '../errors';
import type { Collection, Store } from '../store';
import type { EventBus } from '../events';
import type { Logger } from '../log';
import { checkCron } from './cron';

export interface Schedule {
  id: string;
  name: string;
  cron: string;
  timezone: string;
  /** Sent with each run as the Schedule event's payload. */
  payload: unknown;
  enabled: boolean;
  createdAt: number;
  updatedAt: number;
}

export interface ScheduleInput {
  name?: unknown;
  cron?: unknown;
  timezone?: unknown;
  payload?: unknown;
  enabled?: unknown;
}

/** A running cron job. */
export interface CronJob {
  /** The next run, in ms since the epoch, or null if there is none. */
  next(): number | null;
  cancel(): void;
}

type ScheduleDoc = Omit<Schedule, 'id'> & { _id: string };

const MAX_PAYLOAD = 16 * 1024;

/**
 * Schedules: cron jobs (node-schedule) with a timezone. Stored schedules (REST, packs) survive
 * restarts and announce each run as a Schedule event; `schedule` nodes run jobs of their own
 * that live as long as the node. Runs missed while the platform was stopped are not made up.
 */
export class ScheduleService {
  private readonly schedules = new Map<string, Schedule>();
  private readonly jobs = new Map<string, CronJob>();
  private readonly all = new Set<CronJob>();
  private readonly lastRun = new Map<string, number>();
  private collection!: Collection<ScheduleDoc>;

  constructor(private readonly deps: { events: EventBus; log: Logger; now: () => number }) {}

  async start(store: Store): Promise<void> {
    this.collection = await store.collection<ScheduleDoc>('schedules');
    for (const { _id, ...doc } of await this.collection.all()) {
      const schedule = { id: _id, ...doc };
      this.schedules.set(schedule.id, schedule);
      if (schedule.enabled) this.startJob(schedule);
    }
  }

  stop(): void {
    for (const job of [...this.all]) job.cancel();
    this.jobs.clear();
  }

  /**
   * Run `onRun` on a cron expression until the returned job is cancelled. Throws FF_INVALID_CRON
   * for an expression or timezone that would never run, rather than accepting it silently.
   */
  run(cron: string, timezone: string | undefined, onRun: (scheduledFor: number) => void): CronJob {
    const checked = checkCron(cron, timezone);
    const job = nodeSchedule.scheduleJob({ rule: checked.cron, tz: checked.timezone }, (fireDate: Date) => {
      try {
        onRun(fireDate instanceof Date ? fireDate.getTime() : this.deps.now());
      } catch (err) {
        this.deps.log.error('scheduled run failed', { error: (err as Error).message });
      }
    });
    if (!job) throw Errors.INVALID_CRON(`"${checked.cron}" has no future run time`, { errors: [{ path: '/cron', message: 'never runs' }] });
    const handle: CronJob = {
      next: () => job.nextInvocation()?.getTime() ?? null,
      cancel: () => {
        job.cancel();
        this.all.delete(handle);
      },
    };
    this.all.add(handle);
    return handle;
  }

  list(): Array<Schedule & { nextRunAt: number | null; lastRunAt: number | null }> {
    return [...this.schedules.values()].map((s) => this.withRuns(s));
  }

  get(id: string): Schedule & { nextRunAt: number | null; lastRunAt: number | null } {
    return this.withRuns(this.require(id));
  }

  /** Check a create body and write nothing (a flow pack checks all its resources before it applies any). */
  check(input: ScheduleInput): void {
    checkInput(input, true);
  }

  /** `id` is given by flow packs, whose resources keep the same id in every version; otherwise a new UUID. */
  async create(input: ScheduleInput, options: { id?: string } = {}): Promise<Schedule> {
    const fields = checkInput(input, true);
    this.assertFreeName(fields.name!);
    const id = options.id ?? randomUUID();
    if (this.schedules.has(id)) throw Errors.CONFLICT(`A schedule with id ${id} exists`);
    const now = this.deps.now();
    const schedule: Schedule = { id, name: fields.name!, cron: fields.cron!, timezone: fields.timezone!, payload: fields.payload ?? null, enabled: fields.enabled ?? true, createdAt: now, updatedAt: now };
    await this.collection.insert(toDoc(schedule));
    this.schedules.set(schedule.id, schedule);
    if (schedule.enabled) this.startJob(schedule);
    return { ...schedule };
  }

  async update(id: string, input: ScheduleInput): Promise<Schedule> {
    const existing = this.require(id);
    const fields = checkInput({ cron: existing.cron, timezone: existing.timezone, ...input }, false);
    if (fields.name !== undefined) this.assertFreeName(fields.name, id);
    const schedule: Schedule = { ...existing, ...stripUndefined(fields), updatedAt: this.deps.now() };
    await this.collection.replace(toDoc(schedule));
    if (!this.schedules.has(id)) throw Errors.SCHEDULE_NOT_FOUND(`Schedule ${id} was deleted while it was being changed`);
    this.stopJob(id);
    this.schedules.set(id, schedule);
    if (schedule.enabled) this.startJob(schedule);
    return { ...schedule };
  }

  async remove(id: string): Promise<void> {
    this.require(id);
    await this.collection.remove(id);
    this.stopJob(id);
    this.schedules.delete(id);
    this.lastRun.delete(id);
  }

  /** Flows pick a stored schedule by name, so names are unique. */
  private assertFreeName(name: string, self?: string): void {
    for (const s of this.schedules.values()) {
      if (s.name === name && s.id !== self) throw Errors.CONFLICT(`A schedule named ${JSON.stringify(name)} exists (${s.id}); schedule nodes pick schedules by name`);
    }
  }

  private startJob(schedule: Schedule): void {
    try {
      this.jobs.set(
        schedule.id,
        this.run(schedule.cron, schedule.timezone, (ts) => {
          this.lastRun.set(schedule.id, ts);
          this.deps.events.emit({
            type: 'Schedule',
            schedule: { id: schedule.id, name: schedule.name, cron: schedule.cron, timezone: schedule.timezone },
            ts,
            payload: structuredClone(schedule.payload),
          });
        }),
      );
    } catch (err) {
      // Stored before a validation change, say: keep it, but say why it is not running.
      this.deps.log.error('a stored schedule cannot run', { schedule: schedule.id, error: (err as Error).message });
    }
  }

  private stopJob(id: string): void {
    this.jobs.get(id)?.cancel();
    this.jobs.delete(id);
  }

  private withRuns(s: Schedule) {
    return { ...s, payload: structuredClone(s.payload), nextRunAt: this.jobs.get(s.id)?.next() ?? null, lastRunAt: this.lastRun.get(s.id) ?? null };
  }

  private require(id: string): Schedule {
    const schedule = typeof id === 'string' ? this.schedules.get(id) : undefined;
    if (!schedule) throw Errors.SCHEDULE_NOT_FOUND(`No schedule has id ${JSON.stringify(String(id).slice(0, 64))}`);
    return schedule;
  }
}

function checkInput(input: ScheduleInput, creating: boolean): Partial<Omit<Schedule, 'id' | 'createdAt' | 'updatedAt'>> {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) throw Errors.INVALID_SCHEDULE('A schedule is a JSON object');
  const errors: FieldError[] = [];
  if (creating || input.name !== undefined) {
    if (typeof input.name !== 'string' || input.name.trim() === '' || input.name.length > 128) errors.push({ path: '/name', message: 'must be a string of 1-128 characters' });
  }
  if (input.enabled !== undefined && typeof input.enabled !== 'boolean') errors.push({ path: '/enabled', message: 'must be a boolean' });
  if (input.payload !== undefined) {
    let size = Infinity;
    try {
      size = JSON.stringify(input.payload)?.length ?? Infinity;
    } catch {
      // cycles and BigInt: not JSON
    }
    if (size > MAX_PAYLOAD) errors.push({ path: '/payload', message: `must be JSON of at most ${MAX_PAYLOAD} bytes` });
  }
  if (errors.length) throw Errors.INVALID_SCHEDULE(errors.map((e) => `${e.path} ${e.message}`).join('; '), { errors });
  const { cron, timezone } = checkCron(input.cron, input.timezone);
  return {
    name: input.name as string | undefined,
    cron,
    timezone,
    payload: input.payload === undefined ? undefined : JSON.parse(JSON.stringify(input.payload)),
    enabled: input.enabled as boolean | undefined,
  };
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

function toDoc(s: Schedule): ScheduleDoc {
  const { id, ...rest } = s;
  return { _id: id, ...rest };
}
