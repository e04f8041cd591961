import { LABEL_KEY_PATTERN, LABEL_VALUE_PATTERN } from '../devices/selector';
import { HISTORY_MAX_LIMIT } from '../channels/service';

/**
 * JSON Schemas of the REST boundary. The validators and the OpenAPI document are both built from
 * these, so the documentation cannot drift from what is enforced.
 */
export const MODEL_NAME_PATTERN = '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$';
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
