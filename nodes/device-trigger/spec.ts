import { Errors } from '../../runtime/errors';
import { KIND_SETTINGS, type TriggerKind } from '../../runtime/triggers/model';
import type { DeviceMode } from '../lib/common';

/** The settings of a `device trigger` node, as the edit dialog stores them (numbers as text). */
export interface TriggerSettings {
  name?: string;
  deviceMode?: DeviceMode;
  device?: string;
  selector?: string;
  /** Watch a field of a channel's messages, or a tag. */
  source?: 'channel' | 'tag';
  channel?: string;
  path?: string;
  appKey?: string;
  tagName?: string;
  kind?: string;
  threshold?: string | number;
  direction?: string;
  deadband?: string | number;
  low?: string | number;
  high?: string | number;
  on?: string;
  from?: string;
  /** any (no condition), num, str, bool or null. */
  fromType?: string;
  to?: string;
  toType?: string;
  durationSeconds?: string | number;
  forSeconds?: string | number;
  alarm?: boolean;
  alarmType?: string;
  alarmSeverity?: string;
  alarmMessage?: string;
  alarmClear?: boolean;
}

/**
 * The trigger definition (runtime/triggers/model.ts) that node settings describe. Only the
 * fields the kind uses (KIND_SETTINGS) are set, since the platform rejects the others. Checking
 * is left to the platform: a number field holding other text stays text, so its validation names
 * the field.
 */
export function triggerSpec(s: TriggerSettings): Record<string, unknown> {
  const spec: Record<string, unknown> = { name: (s.name || describe(s)).slice(0, 128), kind: s.kind };
  if (s.deviceMode === 'id') spec.device = s.device;
  // An empty selector (a flow pack's `${SELECTOR}` parameter left empty) matches every device, as it does in subscriptions.
  if (s.deviceMode === 'selector' && s.selector !== '') spec.selector = s.selector;
  if (s.source === 'tag') {
    spec.tag = { appKey: s.appKey, name: s.tagName };
  } else {
    spec.channel = s.channel;
    if (s.kind !== 'nodata') spec.path = s.path;
  }
  // Every kind-specific setting as the platform wants it; only the kind's own are sent.
  const read: Record<string, () => unknown> = {
    threshold: () => number(s.threshold),
    direction: () => s.direction || undefined,
    deadband: () => number(s.deadband),
    low: () => number(s.low),
    high: () => number(s.high),
    on: () => s.on || undefined,
    from: () => scalar('from', s.from, s.fromType),
    to: () => scalar('to', s.to, s.toType),
    durationSeconds: () => number(s.durationSeconds),
    forSeconds: () => number(s.forSeconds),
  };
  const own = s.kind && Object.hasOwn(KIND_SETTINGS, s.kind) ? KIND_SETTINGS[s.kind as TriggerKind] : [];
  for (const field of own) {
    const value = read[field]();
    if (value !== undefined) spec[field] = value;
  }
  if (s.alarm) {
    const alarm: Record<string, unknown> = { severity: s.alarmSeverity || 'major', clear: s.alarmClear !== false };
    if (s.alarmType) alarm.type = s.alarmType;
    if (s.alarmMessage) alarm.message = s.alarmMessage;
    spec.alarm = alarm;
  }
  return spec;
}

/** A default trigger name: what it watches and how, such as "telemetry.temp cross". */
function describe(s: TriggerSettings): string {
  const what = s.source === 'tag' ? `${s.appKey}.${s.tagName}` : s.kind === 'nodata' || !s.path ? `${s.channel}` : `${s.channel}.${s.path}`;
  return `${what} ${s.kind}`;
}

/** Empty means "not set"; text that is not a number is passed on for validation to report. */
function number(value: string | number | undefined): number | string | undefined {
  if (value === undefined || value === '') return undefined;
  const n = Number(value);
  return typeof value === 'number' || (Number.isFinite(n) && String(value).trim() !== '') ? n : value;
}

function scalar(field: string, value: string | undefined, type: string | undefined): unknown {
  switch (type) {
    case 'num': {
      // Text would be a valid (string) value here, so a bad number must be caught now.
      const n = number(value);
      if (typeof n !== 'number') throw Errors.INVALID_TRIGGER(`/${field} must be a number`, { errors: [{ path: `/${field}`, message: 'must be a number' }] });
      return n;
    }
    case 'str':
      return value ?? '';
    case 'bool':
      return value === 'true';
    case 'null':
      return null;
    default:
      return undefined;
  }
}
