import Ajv from 'ajv';
import { Errors, toFieldErrors } from '../errors';
import { SEVERITIES, type Severity } from '../alarms/severity';
import { parseSelector } from '../devices/selector';
import { checkCron } from '../schedule/cron';
import { HHMM_PATTERN, type QuietHours, type ThrottleSpec } from './policy';
import { checkTemplates, type Template } from './templates';

/** Event types a subscription can match. */
export const NOTIFY_EVENT_TYPES = ['AlarmRaised', 'AlarmUpdated', 'AlarmAcked', 'AlarmCleared', 'TriggerFired', 'DeviceOffline', 'DeviceOnline', 'OtaFailed', 'Custom'] as const;
export type NotifyEventType = (typeof NOTIFY_EVENT_TYPES)[number];

export interface EscalationStep {
  afterMinutes: number;
  endpoints: string[];
}

export interface Subscription {
  id: string;
  name: string;
  enabled: boolean;
  events: NotifyEventType[];
  /** Device ids; empty: any device. */
  devices: string[];
  /** A label selector the device must match; empty: any. */
  selector: string;
  /** Alarm (or event) severities to match; empty: any. */
  severities: Severity[];
  alarmTypes: string[];
  /** Names of Custom events to match; empty: any. */
  customNames: string[];
  endpoints: string[];
  template: Partial<Template>;
  throttle: ThrottleSpec | null;
  quietHours: QuietHours | null;
  /** Re-notify the endpoints while an alarm stays unacknowledged. */
  reminders: { everyMinutes: number; max: number } | null;
  /** Notify further endpoint groups while an alarm stays unacknowledged. */
  escalation: EscalationStep[];
  createdAt: number;
  updatedAt: number;
}

export type SubscriptionInput = Partial<Record<keyof Subscription, unknown>>;

const idList = { type: 'array', maxItems: 100, uniqueItems: true, items: { type: 'string', minLength: 1, maxLength: 128 } } as const;

/** The definition's shape (the REST boundary and the OpenAPI document use it too). */
export const subscriptionSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    name: { type: 'string', minLength: 1, maxLength: 128 },
    enabled: { type: 'boolean' },
    events: { type: 'array', minItems: 1, uniqueItems: true, items: { enum: NOTIFY_EVENT_TYPES } },
    devices: idList,
    selector: { type: 'string', maxLength: 1024 },
    severities: { type: 'array', uniqueItems: true, items: { enum: SEVERITIES } },
    alarmTypes: idList,
    customNames: idList,
    endpoints: { ...idList, minItems: 1 },
    template: {
      type: 'object',
      additionalProperties: false,
      properties: { subject: { type: 'string' }, body: { type: 'string' }, html: { type: ['string', 'null'] } },
    },
    throttle: {
      type: ['object', 'null'],
      additionalProperties: false,
      required: ['max', 'windowSeconds'],
      properties: { max: { type: 'integer', minimum: 1, maximum: 10_000 }, windowSeconds: { type: 'integer', minimum: 1, maximum: 7 * 86400 } },
    },
    quietHours: {
      type: ['object', 'null'],
      additionalProperties: false,
      required: ['start', 'end', 'timezone'],
      properties: {
        start: { type: 'string', pattern: HHMM_PATTERN },
        end: { type: 'string', pattern: HHMM_PATTERN },
        timezone: { type: 'string', minLength: 1, maxLength: 64 },
        belowSeverity: { enum: SEVERITIES },
      },
    },
    reminders: {
      type: ['object', 'null'],
      additionalProperties: false,
      required: ['everyMinutes'],
      properties: { everyMinutes: { type: 'number', minimum: 1, maximum: 7 * 1440 }, max: { type: 'integer', minimum: 1, maximum: 100 } },
    },
    escalation: {
      type: 'array',
      maxItems: 10,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['afterMinutes', 'endpoints'],
        properties: { afterMinutes: { type: 'number', minimum: 1, maximum: 30 * 1440 }, endpoints: { ...idList, minItems: 1 } },
      },
    },
  },
} as const;

const validate = new Ajv({ allErrors: true, allowUnionTypes: true }).compile(subscriptionSchema);

/**
 * Check a subscription (whole, after a PATCH is merged onto the stored one). Shape problems come
 * back together as FF_INVALID_SUBSCRIPTION; templates that do not compile as FF_INVALID_TEMPLATE.
 * `endpointExists` lets the caller refuse ids that name no endpoint.
 */
export function checkSubscription(input: SubscriptionInput, endpointExists: (id: string) => boolean): Omit<Subscription, 'id' | 'createdAt' | 'updatedAt'> {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) throw Errors.INVALID_SUBSCRIPTION('A subscription is a JSON object');
  const errors = validate(input) ? [] : toFieldErrors(validate.errors);
  for (const field of ['name', 'events', 'endpoints'] as const) {
    if (input[field] === undefined && !errors.some((e) => e.path === `/${field}`)) errors.push({ path: `/${field}`, message: 'is required' });
  }
  if (typeof input.selector === 'string') {
    try {
      parseSelector(input.selector);
    } catch (err) {
      errors.push({ path: '/selector', message: (err as Error).message });
    }
  }
  const quiet = input.quietHours as QuietHours | null | undefined;
  if (quiet && typeof quiet.timezone === 'string') {
    try {
      checkCron('0 0 * * *', quiet.timezone);
    } catch {
      errors.push({ path: '/quietHours/timezone', message: `${JSON.stringify(quiet.timezone)} is not an IANA timezone` });
    }
  }
  const groups: Array<[string, unknown]> = [['/endpoints', input.endpoints], ...((Array.isArray(input.escalation) ? input.escalation : []) as Array<{ endpoints?: unknown }>).map((s, i) => [`/escalation/${i}/endpoints`, s?.endpoints] as [string, unknown])];
  for (const [path, ids] of groups) {
    if (!Array.isArray(ids)) continue;
    ids.forEach((id, i) => {
      if (typeof id === 'string' && !endpointExists(id)) errors.push({ path: `${path}/${i}`, message: `no endpoint has id ${JSON.stringify(id)}` });
    });
  }
  if (errors.length) throw Errors.INVALID_SUBSCRIPTION(errors.map((e) => `${e.path} ${e.message}`).join('; '), { errors });
  checkTemplates(input.template as Partial<Template> | undefined, '/template');
  const s = input as Record<string, any>;
  return {
    name: s.name,
    enabled: s.enabled ?? true,
    events: s.events,
    devices: s.devices ?? [],
    selector: s.selector ?? '',
    severities: s.severities ?? [],
    alarmTypes: s.alarmTypes ?? [],
    customNames: s.customNames ?? [],
    endpoints: s.endpoints,
    template: s.template ?? {},
    throttle: s.throttle ?? null,
    quietHours: quiet ? { ...quiet, belowSeverity: quiet.belowSeverity ?? 'critical' } : null,
    reminders: s.reminders ? { max: 3, ...s.reminders } : null,
    escalation: [...(s.escalation ?? [])].sort((a: EscalationStep, b: EscalationStep) => a.afterMinutes - b.afterMinutes),
  };
}
