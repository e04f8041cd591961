import Ajv from 'ajv';
import { Errors, type FieldError } from '../errors';
import { CHANNEL_NAME_PATTERN } from '../channels/names';
import { parseSelector } from '../devices/selector';
import { TAG_NAME_PATTERN, TAGS_CHANNEL } from '../tags/service';
import { SEVERITIES, type Severity } from '../alarms/severity';

export type Scalar = number | string | boolean | null;
export type TriggerKind = 'cross' | 'change' | 'range' | 'nodata';
export type Direction = 'rising' | 'falling' | 'both';
export type Edge = 'rising' | 'falling' | 'enter' | 'leave' | 'change' | 'silent';

/** A trigger as a user writes it (REST body, `trigger` node settings, pack). */
export interface TriggerSpec {
  name: string;
  /** One device by id; or `selector` for devices whose labels match; or neither for every device. */
  device?: string;
  selector?: string;
  /** The watched channel; `+` (no data only) for any channel. Not used with `tag`. */
  channel?: string;
  /** Dotted path into the message data, such as `tank.level` or `readings.0`. */
  path?: string;
  /** Watch a tag instead of a channel field. */
  tag?: { appKey: string; name: string };
  kind: TriggerKind;
  threshold?: number;
  direction?: Direction;
  /** Hysteresis: how far back past the threshold (or the range's edges) the value must go to re-arm. */
  deadband?: number;
  /** change: the value before (absent = any) and after (absent = any). */
  from?: Scalar;
  to?: Scalar;
  low?: number;
  high?: number;
  on?: 'enter' | 'leave';
  /** nodata: how long without a message. */
  durationSeconds?: number;
  /** The condition must hold this long before the trigger fires. */
  forSeconds?: number;
  /** Raise an alarm on fire, and clear it when the condition clears. */
  alarm?: { type?: string; severity?: Severity; message?: string; clear?: boolean } | null;
  enabled?: boolean;
}

export interface Trigger extends TriggerSpec {
  id: string;
  /** `api` triggers run always; `flow` triggers run while their `trigger` node is deployed. */
  owner: 'api' | 'flow';
  createdAt: number;
  updatedAt: number;
}

/** One fire: what the trigger produced, as logged on the device's `events` channel. */
export interface TriggerFire {
  /** Unique per trigger, device and time: lets recovery tell whether a fire was already logged. */
  id: string;
  trigger: { id: string; name: string; kind: TriggerKind };
  device: string;
  /** When it fired, in ms since the epoch: the message time, or the end of the hold / silence. */
  ts: number;
  edge: Edge;
  value: Scalar;
  previous: Scalar;
  channel: string;
  path: string | null;
  /** The message that made the condition true (null for no data). */
  messageId: string | null;
  /** When the condition started to hold (differs from ts when forSeconds is set). */
  since: number;
}

/** Where fires are logged on each device. */
export const EVENTS_CHANNEL = 'events';
/** The settings that belong to one kind; any other kind refuses them. */
export const KIND_SETTINGS = {
  cross: ['threshold', 'direction', 'deadband', 'forSeconds'],
  change: ['from', 'to', 'forSeconds'],
  range: ['low', 'high', 'on', 'deadband', 'forSeconds'],
  nodata: ['durationSeconds'],
} as const satisfies Record<TriggerKind, ReadonlyArray<keyof TriggerSpec>>;
const KIND_SPECIFIC = [...new Set(Object.values(KIND_SETTINGS).flat())];

const MAX_SECONDS = 366 * 24 * 3600;
const scalar = { type: ['number', 'string', 'boolean', 'null'] } as const;
const seconds = { type: 'number', minimum: 0, maximum: MAX_SECONDS } as const;

/** The JSON Schema of a trigger definition; kind-specific rules are checked in code below. */
export const triggerSpecSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['name', 'kind'],
  properties: {
    name: { type: 'string', minLength: 1, maxLength: 128 },
    device: { type: 'string', pattern: '^[0-9a-fA-F-]{36}$' },
    selector: { type: 'string', minLength: 1, maxLength: 1024 },
    channel: { type: 'string', anyOf: [{ pattern: CHANNEL_NAME_PATTERN }, { const: '+' }] },
    path: { type: 'string', minLength: 1, maxLength: 256, pattern: '^[^.]+(\\.[^.]+)*$' },
    tag: {
      type: 'object',
      additionalProperties: false,
      required: ['appKey', 'name'],
      properties: { appKey: { type: 'string', pattern: TAG_NAME_PATTERN }, name: { type: 'string', pattern: TAG_NAME_PATTERN } },
    },
    kind: { type: 'string', enum: ['cross', 'change', 'range', 'nodata'] },
    threshold: { type: 'number' },
    direction: { type: 'string', enum: ['rising', 'falling', 'both'] },
    deadband: { type: 'number', minimum: 0 },
    from: scalar,
    to: scalar,
    low: { type: 'number' },
    high: { type: 'number' },
    on: { type: 'string', enum: ['enter', 'leave'] },
    durationSeconds: { ...seconds, exclusiveMinimum: 0 },
    forSeconds: seconds,
    alarm: {
      type: ['object', 'null'],
      additionalProperties: false,
      properties: {
        type: { type: 'string', minLength: 1, maxLength: 128 },
        severity: { type: 'string', enum: SEVERITIES },
        message: { type: 'string', maxLength: 1024 },
        clear: { type: 'boolean' },
      },
    },
    enabled: { type: 'boolean' },
  },
} as const;

const ajv = new Ajv({ allErrors: true, allowUnionTypes: true });
const validateSchema = ajv.compile(triggerSpecSchema);

/**
 * Check a trigger definition: the schema, then what each kind needs. Every problem is reported
 * at once as FF_INVALID_TRIGGER with JSON paths. Returns the definition with defaults filled in.
 */
export function validateTrigger(input: unknown): TriggerSpec {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw Errors.INVALID_TRIGGER('A trigger definition is a JSON object', { errors: [{ path: '/', message: 'must be an object' }] });
  }
  const errors: FieldError[] = [];
  if (!validateSchema(input)) {
    for (const e of validateSchema.errors ?? []) {
      if (e.keyword === 'required') errors.push({ path: `${e.instancePath}/${e.params.missingProperty}`, message: 'is required' });
      else if (e.keyword === 'additionalProperties') errors.push({ path: `${e.instancePath}/${e.params.additionalProperty}`, message: 'is not a trigger setting' });
      else if (e.keyword !== 'anyOf' && e.keyword !== 'if') errors.push({ path: e.instancePath || '/', message: e.message ?? 'is invalid' });
    }
  }
  const spec = input as TriggerSpec;
  if (errors.length === 0) errors.push(...kindErrors(spec));
  if (errors.length) throw Errors.INVALID_TRIGGER(errors.map((e) => `${e.path} ${e.message}`).join('; '), { errors });
  const out: TriggerSpec = { ...spec, forSeconds: spec.forSeconds ?? 0, enabled: spec.enabled ?? true };
  if (spec.kind === 'cross') {
    out.direction = spec.direction ?? 'rising';
    out.deadband = spec.deadband ?? 0;
  }
  if (spec.kind === 'range') {
    out.on = spec.on ?? 'enter';
    out.deadband = spec.deadband ?? 0;
  }
  if (spec.alarm) out.alarm = { type: spec.alarm.type ?? spec.name, severity: spec.alarm.severity ?? 'major', clear: spec.alarm.clear ?? true, ...(spec.alarm.message ? { message: spec.alarm.message } : {}) };
  return out;
}

function kindErrors(spec: TriggerSpec): FieldError[] {
  const errors: FieldError[] = [];
  const need = (field: keyof TriggerSpec, why: string) => {
    if (spec[field] === undefined) errors.push({ path: `/${field}`, message: `is required ${why}` });
  };
  const forbid = (field: keyof TriggerSpec, why: string) => {
    if (spec[field] !== undefined) errors.push({ path: `/${field}`, message: `is not used ${why}` });
  };
  if (spec.device !== undefined && spec.selector !== undefined) errors.push({ path: '/selector', message: 'cannot be combined with device' });
  if (spec.selector !== undefined) {
    try {
      parseSelector(spec.selector);
    } catch (err) {
      errors.push({ path: '/selector', message: (err as Error).message });
    }
  }
  if (spec.channel === EVENTS_CHANNEL) errors.push({ path: '/channel', message: 'cannot be the events channel: triggers write their fires there' });
  if (spec.tag) {
    forbid('channel', 'with tag (a tag trigger watches the tag_values channel)');
    forbid('path', 'with tag');
  } else {
    need('channel', 'unless tag is set');
    if (spec.channel === '+' && spec.kind !== 'nodata') errors.push({ path: '/channel', message: 'can be "+" (any channel) only for kind nodata' });
    if (spec.kind !== 'nodata') need('path', `for kind ${spec.kind} (the field to watch)`);
  }
  switch (spec.kind) {
    case 'cross':
      need('threshold', 'for kind cross');
      break;
    case 'range':
      need('low', 'for kind range');
      need('high', 'for kind range');
      if (spec.low !== undefined && spec.high !== undefined && spec.low > spec.high) errors.push({ path: '/low', message: 'must not be above high' });
      else if (spec.on === 'leave' && spec.deadband !== undefined && spec.low !== undefined && spec.high !== undefined && 2 * spec.deadband > spec.high - spec.low) {
        errors.push({ path: '/deadband', message: 'must be at most half the band for on=leave, or the value could never come back inside' });
      }
      break;
    case 'nodata':
      need('durationSeconds', 'for kind nodata');
      break;
    case 'change':
      if (spec.from !== undefined && spec.to !== undefined && spec.from === spec.to) errors.push({ path: '/to', message: 'must differ from from' });
      break;
  }
  const own: ReadonlyArray<keyof TriggerSpec> = KIND_SETTINGS[spec.kind];
  const hint: Partial<Record<keyof TriggerSpec, string>> = {
    forSeconds: ' (durationSeconds is how long the silence must last)',
    durationSeconds: ' (use forSeconds to require the condition to hold)',
  };
  for (const field of KIND_SPECIFIC) if (!own.includes(field)) forbid(field, `for kind ${spec.kind}${hint[field] ?? ''}`);
  return errors;
}

/** The channel and data path a trigger reads. */
export function watched(spec: TriggerSpec): { channel: string; path: string | null } {
  if (spec.tag) return { channel: TAGS_CHANNEL, path: `${spec.tag.appKey}.${spec.tag.name}` };
  return { channel: spec.channel!, path: spec.kind === 'nodata' ? null : spec.path! };
}
