import { randomUUID } from 'node:crypto';
import { Errors, type FieldError } from '../errors';
import type { Collection, Store } from '../store';
import type { EventBus, AlarmEvent } from '../events';
import { deviceRef, type DeviceRegistry } from '../devices/registry';
import { isSeverity, severityRank, SEVERITIES, type Severity } from './severity';
import { alarmView } from './views';
import { GroupCommit } from '../store/group-commit';
import type { WriteHealth } from '../store/write-health';

export interface Alarm {
  id: string;
  device: string;
  type: string;
  severity: Severity;
  message: string;
  details: Record<string, unknown>;
  status: 'active' | 'cleared';
  acknowledged: boolean;
  /** How many times it was raised while open. */
  count: number;
  /** Who raised it: a trigger, a flow, a REST user, or an OTA rollout (`ota`, with the rollout id). */
  source: { kind: 'trigger' | 'flow' | 'api' | 'ota'; id?: string };
  createdAt: number;
  updatedAt: number;
  lastRaisedAt: number;
  ackedAt: number | null;
  ackedBy: string | null;
  ackComment: string | null;
  clearedAt: number | null;
  clearedBy: string | null;
  clearComment: string | null;
}

type AlarmDoc = Omit<Alarm, 'id'> & { _id: string };

export interface RaiseInput {
  device: string;
  type: string;
  severity?: Severity;
  message?: string;
  details?: Record<string, unknown>;
  source?: Alarm['source'];
}

export interface AlarmFilter {
  device?: string;
  type?: string;
  /** One severity, or several. */
  severity?: Severity | Severity[];
  status?: 'active' | 'cleared';
  acknowledged?: boolean;
}

export interface Actor {
  /** Who acted: a username, `trigger:<id>`, `flow:<node id>`. */
  by: string;
  comment?: string;
}

/** Closed alarms (cleared and acknowledged) kept for history; the oldest go first. */
const MAX_CLOSED = 10_000;
const MAX_COMMENT = 1024;

/**
 * Alarms: raised by triggers, flows or people; active/cleared x acknowledged/unacknowledged.
 * At most one alarm per (device, type) is open (not cleared): raising it again counts up and can
 * escalate its severity. State changes apply in memory first (so two raises in the same tick
 * cannot open two alarms), are written through, and then announced as events.
 */
export class AlarmService {
  private readonly alarms = new Map<string, Alarm>();
  private readonly open = new Map<string, Alarm>();
  private collection!: Collection<AlarmDoc>;
  /**
   * New alarms are inserted with group commit: a burst of raises (a fleet going over a threshold at
   * once) costs a few file appends, not one per alarm.
   */
  private readonly inserts = new GroupCommit<AlarmDoc>((docs) => this.insertBatch(docs));
  private health!: WriteHealth;
  /** Each alarm's last write: the next one for the same alarm waits for it, so NeDB sees them in order. */
  private readonly chains = new Map<string, Promise<void>>();

  constructor(
    private readonly deps: { devices: DeviceRegistry; events: EventBus; now: () => number },
  ) {}

  async start(store: Store): Promise<void> {
    this.health = store.writeHealth;
    this.collection = await store.collection<AlarmDoc>('alarms');
    for (const { _id, ...doc } of await this.collection.all()) {
      const alarm = { id: _id, ...doc };
      this.alarms.set(alarm.id, alarm);
      if (alarm.status === 'active') this.open.set(openKey(alarm.device, alarm.type), alarm);
    }
  }

  /** Raise an alarm, or update the open one of the same (device, type). */
  async raise(input: RaiseInput): Promise<{ alarm: Alarm; created: boolean }> {
    const device = this.deps.devices.require(input.device);
    checkRaise(input);
    const severity = input.severity ?? 'major';
    const now = this.deps.now();
    const existing = this.open.get(openKey(device.id, input.type));
    if (existing) {
      const before = { ...existing };
      existing.count++;
      existing.lastRaisedAt = now;
      existing.updatedAt = now;
      if (input.message !== undefined) existing.message = input.message;
      if (input.details !== undefined) existing.details = JSON.parse(JSON.stringify(input.details));
      if (severityRank(severity) > severityRank(existing.severity)) {
        // A worse condition needs someone's attention again, even if the milder one was acknowledged.
        existing.severity = severity;
        existing.acknowledged = false;
        existing.ackedAt = existing.ackedBy = existing.ackComment = null;
      }
      await this.write(existing, before, false);
      this.emit('AlarmUpdated', existing);
      return { alarm: { ...existing }, created: false };
    }
    const alarm: Alarm = {
      id: randomUUID(),
      device: device.id,
      type: input.type,
      severity,
      message: input.message ?? input.type,
      details: JSON.parse(JSON.stringify(input.details ?? {})),
      status: 'active',
      acknowledged: false,
      count: 1,
      source: input.source ?? { kind: 'api' },
      createdAt: now,
      updatedAt: now,
      lastRaisedAt: now,
      ackedAt: null,
      ackedBy: null,
      ackComment: null,
      clearedAt: null,
      clearedBy: null,
      clearComment: null,
    };
    this.alarms.set(alarm.id, alarm);
    this.open.set(openKey(alarm.device, alarm.type), alarm);
    await this.write(alarm, null, true);
    this.emit('AlarmRaised', alarm);
    return { alarm: { ...alarm }, created: true };
  }

  /** Acknowledge: someone has seen it. Acknowledging twice keeps the first acknowledgement. */
  async ack(id: string, actor: Actor): Promise<Alarm> {
    const alarm = this.require(id);
    checkComment(actor.comment);
    if (alarm.acknowledged) return { ...alarm };
    const before = { ...alarm };
    const now = this.deps.now();
    alarm.acknowledged = true;
    alarm.ackedAt = now;
    alarm.ackedBy = actor.by;
    alarm.ackComment = actor.comment ?? null;
    alarm.updatedAt = now;
    await this.write(alarm, before, false);
    this.emit('AlarmAcked', alarm);
    this.prune();
    return { ...alarm };
  }

  /** Clear: the condition is over. Clearing twice keeps the first clear. */
  async clear(id: string, actor: Actor): Promise<Alarm> {
    const alarm = this.require(id);
    checkComment(actor.comment);
    if (alarm.status === 'cleared') return { ...alarm };
    const before = { ...alarm };
    const now = this.deps.now();
    alarm.status = 'cleared';
    alarm.clearedAt = now;
    alarm.clearedBy = actor.by;
    alarm.clearComment = actor.comment ?? null;
    alarm.updatedAt = now;
    this.open.delete(openKey(alarm.device, alarm.type));
    await this.write(alarm, before, false);
    this.emit('AlarmCleared', alarm);
    this.prune();
    return { ...alarm };
  }

  /** The open alarm of a (device, type), or undefined. */
  findOpen(deviceId: string, type: string): Alarm | undefined {
    const alarm = this.open.get(openKey(deviceId, type));
    return alarm && { ...alarm };
  }

  get(id: string): Alarm {
    return { ...this.require(id) };
  }

  /** Alarms matching a filter, newest first, in pages; `after` is the last id of the previous page. */
  list(filter: AlarmFilter, page: { limit: number; after?: string }): { items: Alarm[]; next: string | null } {
    const severities = filter.severity === undefined ? null : new Set(Array.isArray(filter.severity) ? filter.severity : [filter.severity]);
    const matching = [...this.alarms.values()]
      .filter(
        (a) =>
          (filter.device === undefined || a.device === filter.device) &&
          (filter.type === undefined || a.type === filter.type) &&
          (severities === null || severities.has(a.severity)) &&
          (filter.status === undefined || a.status === filter.status) &&
          (filter.acknowledged === undefined || a.acknowledged === filter.acknowledged),
      )
      .sort((a, b) => b.createdAt - a.createdAt || (a.id < b.id ? -1 : 1));
    let start = 0;
    if (page.after !== undefined) {
      const at = matching.findIndex((a) => a.id === page.after);
      if (at < 0) throw Errors.INVALID_QUERY('"after" is not an alarm of this listing', { errors: [{ path: '/after', message: 'is not a cursor returned by this endpoint' }] });
      start = at + 1;
    }
    const items = matching.slice(start, start + page.limit).map((a) => ({ ...a }));
    return { items, next: start + page.limit < matching.length ? items[items.length - 1].id : null };
  }

  /** Forget the alarms of a deleted device. */
  async dropDevice(deviceId: string): Promise<void> {
    const ids = [...this.alarms.values()].filter((a) => a.device === deviceId).map((a) => a.id);
    for (const id of ids) {
      const alarm = this.alarms.get(id)!;
      this.alarms.delete(id);
      if (alarm.status === 'active') this.open.delete(openKey(alarm.device, alarm.type));
    }
    await Promise.allSettled(ids.map((id) => this.chains.get(id)));
    await this.collection.removeMany(ids);
  }

  private require(id: string): Alarm {
    const alarm = typeof id === 'string' ? this.alarms.get(id) : undefined;
    if (!alarm) throw Errors.ALARM_NOT_FOUND(`No alarm has id ${JSON.stringify(String(id).slice(0, 64))}`);
    return alarm;
  }

  /** One group commit of new alarms, reported to write health (raises from triggers swallow their errors). */
  private async insertBatch(docs: AlarmDoc[]): Promise<void> {
    try {
      await this.collection.insertMany(docs);
    } catch (err) {
      this.health.failed('alarms', err);
      throw err;
    }
    this.health.ok('alarms');
  }

  /** Write an alarm; if the write fails, undo the in-memory change so memory matches the disk. */
  private async write(alarm: Alarm, before: Alarm | null, isNew: boolean): Promise<void> {
    const { id, ...rest } = alarm;
    const doc: AlarmDoc = { _id: id, ...structuredClone(rest) };
    const previous = this.chains.get(id);
    const written = (async () => {
      await previous?.catch(() => undefined);
      if (isNew) return this.inserts.submit(doc);
      // The insert before this change failed and took the alarm away: do not report a write that matched nothing.
      if (this.alarms.get(id) !== alarm) throw Errors.ALARM_NOT_FOUND(`Alarm ${id} could not be stored`);
      await this.collection.replace(doc);
    })();
    this.chains.set(id, written);
    void written.catch(() => undefined).then(() => {
      if (this.chains.get(id) === written) this.chains.delete(id);
    });
    try {
      await written;
    } catch (err) {
      if (before) {
        Object.assign(alarm, before);
        // Re-open only if no alarm of the same (device, type) was raised meanwhile.
        const key = openKey(alarm.device, alarm.type);
        if (alarm.status === 'active' && !this.open.has(key) && this.alarms.get(alarm.id) === alarm) this.open.set(key, alarm);
      } else {
        this.alarms.delete(id);
        this.open.delete(openKey(alarm.device, alarm.type));
      }
      throw err;
    }
  }

  private emit(type: AlarmEvent['type'], alarm: Alarm): void {
    const device = this.deps.devices.get(alarm.device);
    if (!device || !this.deps.events.has(type)) return;
    this.deps.events.emit({ type, device: deviceRef(device), alarm: alarmView(alarm), ts: alarm.updatedAt });
  }

  /** Keep history bounded: drop the oldest closed alarms past the limit. */
  private prune(): void {
    const closed = [...this.alarms.values()].filter((a) => a.status === 'cleared' && a.acknowledged);
    if (closed.length <= MAX_CLOSED) return;
    const drop = closed.sort((a, b) => a.updatedAt - b.updatedAt).slice(0, closed.length - MAX_CLOSED);
    for (const a of drop) this.alarms.delete(a.id);
    void Promise.allSettled(drop.map((a) => this.chains.get(a.id)))
      .then(() => this.collection.removeMany(drop.map((a) => a.id)))
      .catch(() => undefined);
  }
}

function openKey(deviceId: string, type: string): string {
  return `${deviceId}\u0000${type}`;
}

function checkRaise(input: RaiseInput): void {
  const errors: FieldError[] = [];
  if (typeof input.type !== 'string' || input.type.length < 1 || input.type.length > 128) errors.push({ path: '/type', message: 'must be a string of 1-128 characters' });
  if (input.severity !== undefined && !isSeverity(input.severity)) errors.push({ path: '/severity', message: `must be one of ${SEVERITIES.join(', ')}` });
  if (input.message !== undefined && (typeof input.message !== 'string' || input.message.length > MAX_COMMENT)) errors.push({ path: '/message', message: `must be a string of at most ${MAX_COMMENT} characters` });
  if (input.details !== undefined && (typeof input.details !== 'object' || input.details === null || Array.isArray(input.details))) errors.push({ path: '/details', message: 'must be an object' });
  else if (input.details !== undefined && jsonSize(input.details) > 16 * 1024) errors.push({ path: '/details', message: 'must be JSON of at most 16 KiB' });
  if (errors.length) throw Errors.INVALID_ALARM(errors.map((e) => `${e.path} ${e.message}`).join('; '), { errors });
}

function checkComment(comment: unknown): void {
  if (comment !== undefined && (typeof comment !== 'string' || comment.length > MAX_COMMENT)) {
    throw Errors.INVALID_ALARM(`A comment is a string of at most ${MAX_COMMENT} characters`, { errors: [{ path: '/comment', message: 'is invalid' }] });
  }
}

/** Size as JSON; Infinity for what JSON cannot hold (cycles, BigInt). */
function jsonSize(value: unknown): number {
  try {
    return JSON.stringify(value).length;
  } catch {
    return Infinity;
  }
}
