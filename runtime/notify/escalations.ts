import type { Store } from '../store';
import { VersionedStore } from '../store/versioned';
import type { Alarm } from '../alarms/service';
import type { NotifyClock } from './clock';
import type { Subscription } from './subscription-model';

/** One alarm followed for one subscription: what has been sent and what is due next. */
export interface EscalationRecord {
  key: string;
  subscription: string;
  alarm: string;
  raisedAt: number;
  /** Reminders sent so far. */
  reminders: number;
  /** Escalation steps done so far. */
  steps: number;
}

export type EscalationAction = { kind: 'reminder'; n: number } | { kind: 'escalation'; step: number; endpoints: string[] };

export interface EscalationDeps {
  clock: NotifyClock;
  /** The alarm, or undefined if it no longer exists. */
  alarm(id: string): Alarm | undefined;
  subscription(id: string): Subscription | undefined;
  /** Send what fell due. */
  act(sub: Subscription, alarm: Alarm, action: EscalationAction, record: EscalationRecord): void;
}

const MINUTE = 60_000;

/** When the next reminder or escalation step of a record is due, or null if nothing is left. */
export function nextDue(sub: Subscription, r: EscalationRecord): number | null {
  const times: number[] = [];
  if (sub.reminders && r.reminders < sub.reminders.max) times.push(r.raisedAt + (r.reminders + 1) * sub.reminders.everyMinutes * MINUTE);
  const step = sub.escalation[r.steps];
  if (step) times.push(r.raisedAt + step.afterMinutes * MINUTE);
  return times.length ? Math.min(...times) : null;
}

/**
 * Reminders and escalation for unacknowledged alarms. Each followed (subscription, alarm) pair is
 * persisted, so a restart keeps the schedule. When a step falls due the alarm is looked up again:
 * acknowledged, cleared or gone ends the pair, so nothing is sent for an alarm someone handled
 * even if the Acked event was missed.
 */
export class Escalations {
  private readonly store = new VersionedStore<EscalationRecord>('notify_escalations');
  private readonly records = new Map<string, EscalationRecord>();
  private readonly timers = new Map<string, () => void>();

  constructor(private readonly deps: EscalationDeps) {}

  async load(store: Store): Promise<void> {
    for (const r of await this.store.load(store)) {
      this.records.set(r.key, r);
      this.arm(r);
    }
  }

  /** Follow an alarm that a subscription with reminders or escalation just notified about. */
  track(sub: Subscription, alarm: { id: string }, raisedAt: number): void {
    if (!sub.reminders && !sub.escalation.length) return;
    const key = `${sub.id}|${alarm.id}`;
    if (this.records.has(key)) return;
    const record: EscalationRecord = { key, subscription: sub.id, alarm: alarm.id, raisedAt, reminders: 0, steps: 0 };
    this.records.set(key, record);
    this.save(record);
    this.arm(record);
  }

  /** The alarm was acknowledged or cleared: stop everything for it. */
  stopAlarm(alarmId: string): void {
    for (const r of [...this.records.values()]) if (r.alarm === alarmId) this.drop(r);
  }

  stopSubscription(subId: string): void {
    for (const r of [...this.records.values()]) if (r.subscription === subId) this.drop(r);
  }

  /** Pairs being followed: for tests and health. */
  size(): number {
    return this.records.size;
  }

  stop(): Promise<void> {
    for (const cancel of this.timers.values()) cancel();
    this.timers.clear();
    return this.store.drain();
  }

  private arm(r: EscalationRecord): void {
    const sub = this.deps.subscription(r.subscription);
    const due = sub ? nextDue(sub, r) : null;
    if (due === null) return this.drop(r);
    this.timers.get(r.key)?.();
    this.timers.set(r.key, this.deps.clock.at(due, () => this.fire(r.key)));
  }

  private fire(key: string): void {
    this.timers.delete(key);
    const r = this.records.get(key);
    if (!r) return;
    const sub = this.deps.subscription(r.subscription);
    const alarm = this.deps.alarm(r.alarm);
    if (!sub || !sub.enabled || !alarm || alarm.status !== 'active' || alarm.acknowledged) return this.drop(r);
    const now = this.deps.clock.now();
    // Every escalation step that fell due is taken (after a restart several can be)...
    for (let step = sub.escalation[r.steps]; step && r.raisedAt + step.afterMinutes * MINUTE <= now; step = sub.escalation[r.steps]) {
      r.steps++;
      this.deps.act(sub, alarm, { kind: 'escalation', step: r.steps, endpoints: step.endpoints }, r);
    }
    // ...but reminders that piled up while the platform was down go out as one.
    if (sub.reminders) {
      const due = Math.min(sub.reminders.max, Math.floor((now - r.raisedAt) / (sub.reminders.everyMinutes * MINUTE)));
      if (due > r.reminders) {
        r.reminders = due;
        this.deps.act(sub, alarm, { kind: 'reminder', n: due }, r);
      }
    }
    this.save(r);
    this.arm(r);
  }

  private drop(r: EscalationRecord): void {
    this.timers.get(r.key)?.();
    this.timers.delete(r.key);
    if (!this.records.delete(r.key)) return;
    void this.store.remove([r.key]).catch(() => undefined);
  }

  private save(r: EscalationRecord): void {
    // A failed write is retried by the store; the schedule in memory goes on meanwhile.
    this.store.save(r.key, () => this.records.get(r.key) ?? null).catch(() => undefined);
  }
}
