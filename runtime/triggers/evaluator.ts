import type { Edge, Scalar, TriggerKind, TriggerSpec } from './model';
import { MISSING } from './path';

/**
 * A trigger's state for one device. It is what is persisted, so a restart resumes exactly here:
 * nothing that fired fires again, and a held condition keeps its deadline.
 */
export interface TriggerState {
  /** The raw condition, with hysteresis applied (cross, range). */
  cond?: boolean;
  /** The confirmed condition: the raw one once it has held for forSeconds (cross, range). */
  level?: boolean;
  /** The last value seen. */
  value?: Scalar;
  /** No data: time of the last message seen. Not persisted; rebuilt from the channel on start. */
  lastTs?: number;
  /** Fired and not yet reset: while true, an alarm raised by the trigger stays open. */
  active: boolean;
  /** A condition that must hold until `deadline` before it fires. */
  pending?: Pending;
}

export interface Pending {
  since: number;
  deadline: number;
  /** The confirmed condition the fire will set (cross, range). */
  target: boolean;
  edge: Edge;
  value: Scalar;
  previous: Scalar;
  messageId: string | null;
}

export interface FireData {
  ts: number;
  edge: Edge;
  value: Scalar;
  previous: Scalar;
  messageId: string | null;
  since: number;
}

export type Outcome = { type: 'fire'; fire: FireData } | { type: 'reset'; ts: number };

export interface Step {
  outcomes: Outcome[];
  /** Whether the persisted part of the state changed. */
  changed: boolean;
}

const NOTHING: Step = Object.freeze({ outcomes: Object.freeze([]) as unknown as Outcome[], changed: false });

/**
 * The trigger state machine, with no I/O and no clock: time comes in with each observation and
 * with advance(). Live evaluation and backtests both run this, so a backtest produces what live
 * evaluation would have over the same messages.
 */
export class Evaluator {
  readonly kind: TriggerKind;
  private readonly holdMs: number;
  private readonly silenceMs: number;
  private readonly condition: (value: number, previous: boolean | undefined) => boolean;
  /** Whether the confirmed condition going to `c` is a fire (otherwise it is a reset). */
  private readonly firesOn: (c: boolean) => boolean;
  private readonly edgeOf: (c: boolean) => Edge;

  constructor(private readonly spec: TriggerSpec) {
    this.kind = spec.kind;
    this.holdMs = Math.round((spec.forSeconds ?? 0) * 1000);
    this.silenceMs = Math.round((spec.durationSeconds ?? 0) * 1000);
    const both = spec.kind === 'cross' && spec.direction === 'both';
    this.firesOn = both ? () => true : (c) => c;
    this.edgeOf = edgeNames(spec);
    this.condition = conditionOf(spec);
  }

  initial(): TriggerState {
    return { active: false };
  }

  /** A message arrived at `ts` carrying `value` at the watched path (MISSING if absent). */
  observe(state: TriggerState, value: unknown, ts: number, messageId: string): Step {
    const due = state.pending && state.pending.deadline <= ts ? this.advance(state, ts) : NOTHING;
    const step = this.kind === 'nodata' ? this.observeSilence(state, ts) : this.observeValue(state, value, ts, messageId);
    if (due === NOTHING) return step;
    return { outcomes: [...due.outcomes, ...step.outcomes], changed: true };
  }

  /** Time has reached `now`: fire a held condition or a silence whose time is up. */
  advance(state: TriggerState, now: number): Step {
    const pending = state.pending;
    if (pending && pending.deadline <= now) {
      state.pending = undefined;
      const outcomes: Outcome[] = [{ type: 'fire', fire: { ts: pending.deadline, edge: pending.edge, value: pending.value, previous: pending.previous, messageId: pending.messageId, since: pending.since } }];
      if (this.kind === 'change') {
        state.active = true;
      } else {
        state.level = pending.target;
        this.settle(state, pending.target, pending.deadline, outcomes);
      }
      return { outcomes, changed: true };
    }
    if (this.kind === 'nodata' && !state.active && state.lastTs !== undefined && now >= state.lastTs + this.silenceMs) {
      state.active = true;
      const ts = state.lastTs + this.silenceMs;
      return { outcomes: [{ type: 'fire', fire: { ts, edge: 'silent', value: null, previous: null, messageId: null, since: state.lastTs } }], changed: true };
    }
    return NOTHING;
  }

  /** When advance() next has something to do, or null. */
  nextDeadline(state: TriggerState): number | null {
    if (state.pending) return state.pending.deadline;
    if (this.kind === 'nodata' && !state.active && state.lastTs !== undefined) return state.lastTs + this.silenceMs;
    return null;
  }

  private observeSilence(state: TriggerState, ts: number): Step {
    if (state.lastTs === undefined || ts > state.lastTs) state.lastTs = ts;
    if (!state.active) return NOTHING;
    state.active = false;
    return { outcomes: [{ type: 'reset', ts }], changed: true };
  }

  private observeValue(state: TriggerState, value: unknown, ts: number, messageId: string): Step {
    if (this.kind === 'change') return this.observeChange(state, value, ts, messageId);
    if (typeof value !== 'number' || !Number.isFinite(value)) return NOTHING;
    const previous = state.value ?? null;
    const c = this.condition(value, state.cond);
    let changed = c !== state.cond;
    state.value = value;
    state.cond = c;
    if (state.level === undefined) {
      // The first value only tells where the signal is; a change seen later is what fires.
      state.level = c;
      return { outcomes: [], changed: true };
    }
    if (c === state.level) {
      if (state.pending) {
        state.pending = undefined;
        changed = true;
      }
      return changed ? { outcomes: [], changed } : NOTHING;
    }
    const outcomes: Outcome[] = [];
    if (this.firesOn(c)) {
      if (this.holdMs === 0) {
        state.level = c;
        outcomes.push({ type: 'fire', fire: { ts, edge: this.edgeOf(c), value, previous, messageId, since: ts } });
        this.settle(state, c, ts, outcomes);
      } else if (!state.pending) {
        state.pending = { since: ts, deadline: ts + this.holdMs, target: c, edge: this.edgeOf(c), value, previous, messageId };
      }
    } else {
      state.level = c;
      this.settle(state, c, ts, outcomes);
    }
    return { outcomes, changed: true };
  }

  /** After the confirmed condition became `c`: open or close the active period. */
  private settle(state: TriggerState, c: boolean, ts: number, outcomes: Outcome[]): void {
    if (c) {
      state.active = true;
    } else if (state.active) {
      state.active = false;
      outcomes.push({ type: 'reset', ts });
    }
  }

  private observeChange(state: TriggerState, value: unknown, ts: number, messageId: string): Step {
    if (value === MISSING || !isScalar(value)) return NOTHING;
    if (state.value === undefined) {
      state.value = value;
      return { outcomes: [], changed: true };
    }
    if (value === state.value) return NOTHING;
    const previous = state.value;
    state.value = value;
    state.pending = undefined;
    const outcomes: Outcome[] = [];
    if (state.active) {
      state.active = false;
      outcomes.push({ type: 'reset', ts });
    }
    const { from, to } = this.spec;
    if ((from === undefined || from === previous) && (to === undefined || to === value)) {
      if (this.holdMs === 0) {
        state.active = true;
        outcomes.push({ type: 'fire', fire: { ts, edge: 'change', value, previous, messageId, since: ts } });
      } else {
        state.pending = { since: ts, deadline: ts + this.holdMs, target: true, edge: 'change', value, previous, messageId };
      }
    }
    return { outcomes, changed: true };
  }
}

function isScalar(value: unknown): value is Scalar {
  return value === null || typeof value === 'string' || typeof value === 'boolean' || (typeof value === 'number' && Number.isFinite(value));
}

/**
 * The raw condition for a number, given the previous raw condition. Hysteresis: inside the
 * deadband the condition keeps its previous value, so noise there cannot flip it.
 */
function conditionOf(spec: TriggerSpec): (v: number, prev: boolean | undefined) => boolean {
  const d = spec.deadband ?? 0;
  if (spec.kind === 'cross') {
    const t = spec.threshold!;
    if (spec.direction === 'falling') return (v, prev) => (v <= t ? true : v > t + d || prev === undefined ? false : prev);
    return (v, prev) => (v >= t ? true : v < t - d || prev === undefined ? false : prev);
  }
  if (spec.kind === 'range') {
    const lo = spec.low!;
    const hi = spec.high!;
    if (spec.on === 'leave') return (v, prev) => (v < lo || v > hi ? true : (v >= lo + d && v <= hi - d) || prev === undefined ? false : prev);
    return (v, prev) => (v >= lo && v <= hi ? true : v < lo - d || v > hi + d || prev === undefined ? false : prev);
  }
  return () => false;
}

function edgeNames(spec: TriggerSpec): (c: boolean) => Edge {
  if (spec.kind === 'range') return spec.on === 'leave' ? () => 'leave' : () => 'enter';
  if (spec.kind === 'cross' && spec.direction === 'falling') return () => 'falling';
  return (c) => (c ? 'rising' : 'falling');
}
