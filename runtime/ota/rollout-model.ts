import { Errors, type FieldError } from '../errors';

/** Per-device update states, in the order an update moves through them. */
export const UPDATE_STATES = ['pending', 'offered', 'downloading', 'downloaded', 'installing', 'succeeded', 'failed', 'cancelled'] as const;
export type UpdateState = (typeof UPDATE_STATES)[number];
export const TERMINAL: ReadonlySet<UpdateState> = new Set(['succeeded', 'failed', 'cancelled']);
/** States with a timeout: the device has the offer and the next step is its move. */
export type TimedState = 'offered' | 'downloading' | 'downloaded' | 'installing';
export const TIMED_STATES: readonly TimedState[] = ['offered', 'downloading', 'downloaded', 'installing'];

/** What a device may report from each state (docs/ota.md, "Reports"). Success is not among them: it takes a version report. */
export const DEVICE_STEPS: Readonly<Record<UpdateState, readonly UpdateState[]>> = {
  pending: [],
  offered: ['downloading', 'downloaded', 'failed'],
  downloading: ['downloading', 'downloaded', 'failed'],
  downloaded: ['installing', 'failed'],
  installing: ['failed'],
  succeeded: [],
  failed: [],
  cancelled: [],
};

/** One device's update within a rollout. */
export interface Update {
  /** Same as id: the key VersionedStore files it under. */
  key: string;
  id: string;
  rolloutId: string;
  deviceId: string;
  /** 0 is the canary; waves count from 1. */
  wave: number;
  state: UpdateState;
  /** Why it failed or was cancelled (`checksum_mismatch`, `rolled_back`, `timeout:downloading`...). */
  reason: string | null;
  /** The version the device ran when it was offered the update, if known. */
  fromVersion: string | null;
  bytes: number | null;
  total: number | null;
  createdAt: number;
  updatedAt: number;
  /** When the current state began: timeouts count from here. */
  stateSince: number;
  offeredAt: number | null;
  endedAt: number | null;
}

export const ROLLOUT_STATUSES = ['scheduled', 'running', 'paused', 'halted', 'cancelled', 'completed'] as const;
export type RolloutStatus = (typeof ROLLOUT_STATUSES)[number];
export const ACTIVE_STATUSES: ReadonlySet<RolloutStatus> = new Set(['scheduled', 'running', 'paused']);

export interface Strategy {
  /** Devices in the canary (0: none). */
  canary: number;
  /** Devices per wave after the canary. */
  waveSize: number;
  /** Wait after a wave has ended before the next starts, in ms. */
  wavePauseMs: number;
  /** Halt once failed / offered exceeds this (0-1). A failed canary device always halts. */
  maxFailureRatio: number;
  /** ms since the epoch, or null to start at once. */
  startAt: number | null;
  /** Per-state timeouts, in ms. */
  timeouts: Record<TimedState, number>;
}

/** A fleet member a rollout left out: the artifact does not target its model. */
export interface SkippedDevice {
  id: string;
  model: string | null;
}

export interface Rollout {
  key: string;
  id: string;
  name: string;
  artifactId: string;
  /** Copied from the artifact: it cannot change while the rollout is active, and it explains a finished rollout after the artifact is gone. */
  version: string;
  fleetId: string;
  fleetName: string;
  /** The fleet's members when the rollout was created, in the order they are offered. */
  devices: string[];
  /** Members left out because the artifact does not target their model (absent on rollouts stored before there were any). */
  skipped?: SkippedDevice[];
  strategy: Strategy;
  status: RolloutStatus;
  /** The wave that runs (0: the canary), or -1 before the first. */
  wave: number;
  /** Waves in all, the canary included. */
  waves: number;
  /** When the next wave may start (during a pause between waves), or null. */
  nextWaveAt: number | null;
  haltReason: string | null;
  createdBy: string;
  createdAt: number;
  updatedAt: number;
  startedAt: number | null;
  endedAt: number | null;
}

export interface RolloutInput {
  name?: unknown;
  artifactId?: unknown;
  fleetId?: unknown;
  /** `{count: N}` or `{percent: P}`. */
  canary?: unknown;
  waveSize?: unknown;
  wavePauseSeconds?: unknown;
  maxFailureRatio?: unknown;
  /** ISO 8601 time. */
  startAt?: unknown;
  /** Seconds per state: `{offered, downloading, downloaded, installing}`. */
  timeouts?: unknown;
}

export const DEFAULT_TIMEOUTS_S: Record<TimedState, number> = { offered: 7 * 24 * 3600, downloading: 3600, downloaded: 3600, installing: 1800 };
export const DEFAULT_MAX_FAILURE_RATIO = 0.2;
const MAX_TIMEOUT_S = 365 * 24 * 3600;
const KEYS = ['name', 'artifactId', 'fleetId', 'canary', 'waveSize', 'wavePauseSeconds', 'maxFailureRatio', 'startAt', 'timeouts'];

export interface CheckedRollout {
  name: string | null;
  artifactId: string;
  fleetId: string;
  canary: { count: number } | { percent: number } | null;
  waveSize: number | null;
  strategy: Omit<Strategy, 'canary' | 'waveSize'>;
}

/** Check a rollout request's shape (references are resolved by the engine). */
export function checkRolloutInput(input: RolloutInput, now: number): CheckedRollout {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) throw Errors.INVALID_ROLLOUT('A rollout is a JSON object');
  const errors: FieldError[] = [];
  const bad = (path: string, message: string) => errors.push({ path, message });
  for (const key of Object.keys(input)) if (!KEYS.includes(key)) bad(`/${key}`, 'is not allowed');
  if (input.name !== undefined && (typeof input.name !== 'string' || input.name.trim() === '' || input.name.length > 128)) bad('/name', 'must be a string of 1-128 characters');
  if (typeof input.artifactId !== 'string' || input.artifactId === '') bad('/artifactId', 'is required');
  if (typeof input.fleetId !== 'string' || input.fleetId === '') bad('/fleetId', 'is required');
  let canary: CheckedRollout['canary'] = null;
  if (input.canary !== undefined && input.canary !== null) {
    const c = input.canary as Record<string, unknown>;
    if (typeof c === 'object' && !Array.isArray(c) && Object.keys(c).length === 1 && isInt(c.count, 1, 100_000)) canary = { count: c.count as number };
    else if (typeof c === 'object' && !Array.isArray(c) && Object.keys(c).length === 1 && typeof c.percent === 'number' && c.percent > 0 && c.percent < 100) canary = { percent: c.percent };
    else bad('/canary', 'must be {"count": N} (N >= 1) or {"percent": P} (0 < P < 100)');
  }
  if (input.waveSize !== undefined && input.waveSize !== null && !isInt(input.waveSize, 1, 100_000)) bad('/waveSize', 'must be an integer from 1');
  const pause = input.wavePauseSeconds ?? 0;
  if (typeof pause !== 'number' || !(pause >= 0 && pause <= MAX_TIMEOUT_S)) bad('/wavePauseSeconds', 'must be a number of seconds from 0');
  const ratio = input.maxFailureRatio ?? DEFAULT_MAX_FAILURE_RATIO;
  if (typeof ratio !== 'number' || !(ratio >= 0 && ratio <= 1)) bad('/maxFailureRatio', 'must be a number from 0 to 1');
  let startAt: number | null = null;
  if (input.startAt !== undefined && input.startAt !== null) {
    startAt = typeof input.startAt === 'string' && /^\d{4}-\d\d-\d\dT/.test(input.startAt) ? Date.parse(input.startAt) : NaN;
    if (!Number.isFinite(startAt)) bad('/startAt', 'must be an ISO 8601 time such as 2026-12-01T10:00:00Z');
    else if (startAt <= now) startAt = null;
  }
  const timeouts = { ...DEFAULT_TIMEOUTS_S };
  if (input.timeouts !== undefined) {
    const t = input.timeouts as Record<string, unknown>;
    if (typeof t !== 'object' || t === null || Array.isArray(t)) bad('/timeouts', 'must be an object of state to seconds');
    else for (const [state, value] of Object.entries(t)) {
      if (!(TIMED_STATES as readonly string[]).includes(state)) bad(`/timeouts/${state}`, `is not a state with a timeout (${TIMED_STATES.join(', ')})`);
      else if (typeof value !== 'number' || !(value > 0 && value <= MAX_TIMEOUT_S)) bad(`/timeouts/${state}`, 'must be a number of seconds above 0');
      else timeouts[state as TimedState] = value;
    }
  }
  if (errors.length) throw Errors.INVALID_ROLLOUT(errors.map((e) => `${e.path} ${e.message}`).join('; '), { errors });
  const ms = Object.fromEntries(TIMED_STATES.map((s) => [s, Math.max(1, Math.round(timeouts[s] * 1000))])) as Record<TimedState, number>;
  return {
    name: typeof input.name === 'string' ? input.name.trim() : null,
    artifactId: input.artifactId as string,
    fleetId: input.fleetId as string,
    canary,
    waveSize: (input.waveSize as number | undefined) ?? null,
    strategy: { wavePauseMs: Math.round((pause as number) * 1000), maxFailureRatio: ratio as number, startAt, timeouts: ms },
  };
}

/** The wave of each of `n` devices: the canary first (wave 0), then waves of `waveSize` (all the rest when null). */
export function planWaves(n: number, canary: CheckedRollout['canary'], waveSize: number | null): { canary: number; waveSize: number; waveOf: number[]; waves: number } {
  const c = canary === null ? 0 : Math.min(n, 'count' in canary ? canary.count : Math.max(1, Math.ceil((n * canary.percent) / 100)));
  const size = waveSize ?? Math.max(1, n - c);
  const waveOf = Array.from({ length: n }, (_, i) => (i < c ? 0 : 1 + Math.floor((i - c) / size)));
  const waves = (c > 0 ? 1 : 0) + Math.ceil((n - c) / size);
  return { canary: c, waveSize: size, waveOf, waves };
}

function isInt(v: unknown, min: number, max: number): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max;
}
