import { Errors, type FieldError } from '../errors';
import type { ChannelService } from '../channels/service';
import type { DeviceRegistry } from '../devices/registry';
import { matchesSelector, parseSelector } from '../devices/selector';
import { idToTime } from '../ids/snowflake';
import { Evaluator, type FireData, type Step } from './evaluator';
import { EVENTS_CHANNEL, watched, type TriggerSpec } from './model';
import { compilePath, MISSING, readPath } from './path';

export interface BacktestRange {
  /** One device; otherwise the trigger's own device, or every device its selector matches. */
  device?: string;
  /** Start of the range: an ISO time or ms since the epoch. */
  from: string | number;
  /** End of the range (exclusive); defaults to now. */
  to?: string | number;
  /** How many fires to return (all are counted). */
  maxFires?: number;
}

export interface BacktestFire extends FireData {
  device: string;
}

export interface BacktestResult {
  from: number;
  to: number;
  devices: number;
  /** Messages read. */
  scanned: number;
  /** Fires in the range; `fires` holds the first maxFires of them, oldest first. */
  count: number;
  fires: BacktestFire[];
  truncated: boolean;
  elapsedMs: number;
}

const DEFAULT_MAX_FIRES = 1000;
const MAX_DEVICES = 10_000;

interface Deps {
  channels: ChannelService;
  devices: DeviceRegistry;
  now: () => number;
}

/**
 * Run a trigger definition over stored messages with the same state machine as live evaluation.
 * The state at `from` is rebuilt from the last message before it, so a signal that was already
 * high at the start of the range does not count as a crossing.
 */
export async function runBacktest(spec: TriggerSpec, range: BacktestRange, deps: Deps): Promise<BacktestResult> {
  const started = performance.now();
  const { from, to, maxFires } = checkRange(range, deps.now());
  const devices = targets(spec, range, deps.devices);
  const result: BacktestResult = { from, to, devices: devices.length, scanned: 0, count: 0, fires: [], truncated: false, elapsedMs: 0 };
  const keep = (device: string, step: Step) => {
    for (const o of step.outcomes) {
      if (o.type !== 'fire' || o.fire.ts < from || o.fire.ts >= to) continue;
      result.count++;
      if (result.fires.length < maxFires) result.fires.push({ device, ...o.fire });
      else result.truncated = true;
    }
  };
  for (const device of devices) {
    result.scanned += spec.kind === 'nodata' ? await silence(spec, device, from, to, deps, keep) : await values(spec, device, from, to, deps, keep);
  }
  result.fires.sort((a, b) => a.ts - b.ts);
  result.elapsedMs = Math.round(performance.now() - started);
  return result;
}

type Keep = (device: string, step: Step) => void;

async function values(spec: TriggerSpec, device: string, from: number, to: number, deps: Deps, keep: Keep): Promise<number> {
  const { channel, path } = watched(spec);
  const parts = compilePath(path!);
  const evaluator = new Evaluator(spec);
  const state = evaluator.initial();
  const seed = await deps.channels.lastBefore(device, channel, from);
  if (seed) {
    const value = readPath(JSON.parse(seed.json), parts);
    if (value !== MISSING) evaluator.observe(state, value, idToTime(seed.id), seed.id);
  }
  const scanned = await deps.channels.scan(device, channel, { after: from, before: to }, (record) => {
    const value = readPath(JSON.parse(record.json), parts);
    if (value !== MISSING) keep(device, evaluator.observe(state, value, idToTime(record.id), record.id));
  });
  keep(device, evaluator.advance(state, to));
  return scanned;
}

async function silence(spec: TriggerSpec, device: string, from: number, to: number, deps: Deps, keep: Keep): Promise<number> {
  const { channel } = watched(spec);
  const channels = channel === '+' ? deps.channels.channelNames(device).filter((n) => n !== EVENTS_CHANNEL) : [channel];
  const evaluator = new Evaluator(spec);
  const state = evaluator.initial();
  let seed: number | null = null;
  const ids: string[] = [];
  for (const name of channels) {
    const before = await deps.channels.lastBefore(device, name, from);
    if (before) seed = Math.max(seed ?? -Infinity, idToTime(before.id));
    await deps.channels.scan(device, name, { after: from, before: to }, (record) => ids.push(record.id));
  }
  // Several channels interleave by time; ids order by time, then by length-free decimal value.
  if (channels.length > 1) ids.sort((a, b) => a.length - b.length || (a < b ? -1 : a > b ? 1 : 0));
  // With nothing before the range, the silence is counted from its start.
  state.lastTs = seed ?? from;
  for (const id of ids) keep(device, evaluator.observe(state, undefined, idToTime(id), id));
  keep(device, evaluator.advance(state, to));
  return ids.length;
}

function targets(spec: TriggerSpec, range: BacktestRange, devices: DeviceRegistry): string[] {
  const one = range.device ?? spec.device;
  if (one !== undefined) return [devices.require(one).id];
  const selector = spec.selector ? parseSelector(spec.selector) : null;
  const ids: string[] = [];
  for (const d of devices.all()) if (!selector || matchesSelector(d.labels, selector)) ids.push(d.id);
  if (ids.length > MAX_DEVICES) {
    throw Errors.VALIDATION(`The trigger matches ${ids.length} devices; a backtest runs over at most ${MAX_DEVICES}. Pick a device or narrow the selector.`, { errors: [{ path: '/device', message: 'is required for this many devices' }] });
  }
  return ids;
}

function checkRange(range: BacktestRange, now: number): { from: number; to: number; maxFires: number } {
  const errors: FieldError[] = [];
  const time = (value: unknown, path: string): number => {
    const ms = typeof value === 'number' ? value : typeof value === 'string' ? Date.parse(value) : NaN;
    if (!Number.isFinite(ms)) errors.push({ path, message: 'must be an ISO time or ms since the epoch' });
    return ms;
  };
  const from = time(range.from, '/from');
  // Exclusive end, never past now: a hold still running now has not fired yet.
  const to = Math.min(range.to === undefined ? Infinity : time(range.to, '/to'), now + 1);
  if (errors.length === 0 && from >= to) errors.push({ path: '/from', message: 'must be before to (and before now)' });
  const maxFires = range.maxFires ?? DEFAULT_MAX_FIRES;
  if (!Number.isInteger(maxFires) || maxFires < 0 || maxFires > 100_000) errors.push({ path: '/maxFires', message: 'must be an integer from 0 to 100000' });
  if (errors.length) throw Errors.VALIDATION(errors.map((e) => `${e.path} ${e.message}`).join('; '), { errors });
  return { from, to, maxFires };
}
