import { LABEL_KEY_PATTERN, LABEL_VALUE_PATTERN, MODEL_NAME_PATTERN } from '../devices/selector';

export { MODEL_NAME_PATTERN };
import { HISTORY_MAX_LIMIT } from '../channels/service';

/**
 * JSON Schemas of the REST boundary. The validators and the OpenAPI document are both built from
 * these, so the documentation cannot drift from what is enforced.
 */
const name = { type: 'string', minLength: 1, maxLength: 128 } as const;
const model = { type: ['string', 'null'], pattern: MODEL_NAME_PATTERN } as const;

export const labelsSchema = {
  type: 'object',
  maxProperties: 64,
  propertyNames: { pattern: LABEL_KEY_PATTERN },
  additionalProperties: { type: 'string', pattern: LABEL_VALUE_PATTERN },
} as const;

export const deviceCreateSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['name'],
  properties: { name, model, labels: labelsSchema },
} as const;

export const devicePatchSchema = {
  type: 'object',
  additionalProperties: false,
  minProperties: 1,
  properties: {
    name,
    model,
    labels: {
      type: 'object',
      maxProperties: 64,
      propertyNames: { pattern: LABEL_KEY_PATTERN },
      additionalProperties: { type: ['string', 'null'], pattern: LABEL_VALUE_PATTERN },
    },
  },
} as const;

export const channelPatchSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['retention'],
  properties: {
    retention: {
      type: 'object',
      additionalProperties: false,
      minProperties: 1,
      properties: {
        maxAgeSeconds: { type: ['integer', 'null'], minimum: 1, maximum: 10 * 365 * 24 * 3600 },
        maxCount: { type: ['integer', 'null'], minimum: 1, maximum: 100_000_000 },
      },
    },
  },
} as const;

export const loginSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['username', 'password'],
  properties: {
    username: { type: 'string', minLength: 1, maxLength: 128 },
    password: { type: 'string', minLength: 1, maxLength: 1024 },
  },
} as const;

export const historyQuerySchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    after: { type: 'string', maxLength: 64 },
    before: { type: 'string', maxLength: 64 },
    limit: { type: 'integer', minimum: 1, maximum: HISTORY_MAX_LIMIT },
    order: { type: 'string', enum: ['asc', 'desc'] },
  },
} as const;

export const deviceListQuerySchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    selector: { type: 'string', maxLength: 1024 },
    limit: { type: 'integer', minimum: 1, maximum: 1000 },
    after: { type: 'string', maxLength: 512 },
  },
} as const;

export const tagTypesPatchSchema = {
  type: 'object',
  minProperties: 1,
  maxProperties: 256,
  additionalProperties: { type: ['string', 'null'], enum: ['number', 'boolean', 'string', null] },
} as const;

export const backtestSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['trigger', 'from'],
  properties: {
    trigger: { type: 'object' },
    device: { type: 'string', maxLength: 64 },
    from: { type: ['string', 'number'] },
    to: { type: ['string', 'number'] },
    maxFires: { type: 'integer', minimum: 0, maximum: 100_000 },
  },
} as const;

export const storedBacktestSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['from'],
  properties: { device: backtestSchema.properties.device, from: backtestSchema.properties.from, to: backtestSchema.properties.to, maxFires: backtestSchema.properties.maxFires },
} as const;

export const alarmRaiseSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['device', 'type'],
  properties: {
    device: { type: 'string', maxLength: 64 },
    type: { type: 'string', minLength: 1, maxLength: 128 },
    severity: { type: 'string', enum: ['critical', 'major', 'minor', 'warning', 'info'] },
    message: { type: 'string', maxLength: 1024 },
    details: { type: 'object' },
  },
} as const;

export const alarmActionSchema = {
  type: 'object',
  additionalProperties: false,
  properties: { comment: { type: 'string', maxLength: 1024 } },
} as const;

export const alarmListQuerySchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    device: { type: 'string', maxLength: 64 },
    type: { type: 'string', maxLength: 128 },
    severity: { type: 'string', pattern: '^(critical|major|minor|warning|info)(,(critical|major|minor|warning|info))*$' },
    status: { type: 'string', enum: ['active', 'cleared'] },
    acknowledged: { type: 'boolean' },
    limit: { type: 'integer', minimum: 1, maximum: 1000 },
    after: { type: 'string', maxLength: 64 },
  },
} as const;

const scheduleFields = {
  name: { type: 'string', minLength: 1, maxLength: 128 },
  cron: { type: 'string', minLength: 1, maxLength: 256 },
  timezone: { type: 'string', minLength: 1, maxLength: 64 },
  payload: {},
  enabled: { type: 'boolean' },
} as const;

export const scheduleCreateSchema = { type: 'object', additionalProperties: false, required: ['name', 'cron'], properties: scheduleFields } as const;
export const schedulePatchSchema = { type: 'object', additionalProperties: false, minProperties: 1, properties: scheduleFields } as const;

export const deliveryListQuerySchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    status: { type: 'string', pattern: '^(queued|held|sending|sent|dead|cancelled)(,(queued|held|sending|sent|dead|cancelled))*$' },
    endpoint: { type: 'string', maxLength: 64 },
    subscription: { type: 'string', maxLength: 64 },
    event: { type: 'string', maxLength: 256, description: 'An event id, or an event type such as AlarmRaised' },
    device: { type: 'string', maxLength: 64 },
    since: { type: 'string', maxLength: 64, description: 'Created at or after: an ISO 8601 time or ms since the epoch' },
    until: { type: 'string', maxLength: 64, description: 'Created before: an ISO 8601 time or ms since the epoch' },
    before: { type: 'string', maxLength: 64, description: 'Cursor: the `next` of the previous page' },
    limit: { type: 'integer', minimum: 1, maximum: 1000 },
  },
} as const;

export const pushSubscribeSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['subscription'],
  properties: { subscription: { type: 'object' }, name: { type: 'string', maxLength: 128 } },
} as const;
