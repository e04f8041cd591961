/**
 * The one error catalog (modelled on Fastify's lib/errors.js).
 *
 * Every error that leaves the platform (an HTTP problem+json body, an MQTT ingest-error counter,
 * a node's `done(err)`) carries a stable `code` from this table. docs/errors.md has one row per
 * entry; a unit test keeps the two in step.
 */

import type { ErrorObject } from 'ajv';

/** A failing JSON path in a request, as returned in a problem's `errors` list. */
export interface FieldError {
  path: string;
  message: string;
}

export class FieldflowError extends Error {
  readonly code: string;
  readonly status: number;
  readonly title: string;
  readonly errors?: FieldError[];
  /** Extra response headers (for example `Retry-After`); never secrets. */
  readonly headers?: Record<string, string>;

  constructor(def: ErrorDef, detail?: string, extra: { errors?: FieldError[]; headers?: Record<string, string> } = {}) {
    super(detail ?? def.title);
    this.name = 'FieldflowError';
    this.code = def.code;
    this.status = def.status;
    this.title = def.title;
    if (extra.errors) this.errors = extra.errors;
    if (extra.headers) this.headers = extra.headers;
  }
}

export interface ErrorDef {
  code: string;
  status: number;
  title: string;
}

type ErrorFactory = ((detail?: string, extra?: { errors?: FieldError[]; headers?: Record<string, string> }) => FieldflowError) & ErrorDef;

function define(code: string, status: number, title: string): ErrorFactory {
  const def: ErrorDef = { code, status, title };
  const factory = (detail?: string, extra?: { errors?: FieldError[]; headers?: Record<string, string> }) =>
    new FieldflowError(def, detail, extra);
  return Object.assign(factory, def);
}

export const Errors = {
  AUTH_REQUIRED: define('FF_AUTH_REQUIRED', 401, 'Authentication required'),
  AUTH_INVALID: define('FF_AUTH_INVALID', 401, 'Invalid credentials'),
  FORBIDDEN: define('FF_FORBIDDEN', 403, 'Not allowed'),
  TOO_MANY_ATTEMPTS: define('FF_TOO_MANY_ATTEMPTS', 429, 'Too many failed attempts'),
  NOT_FOUND: define('FF_NOT_FOUND', 404, 'No such resource'),
  DEVICE_NOT_FOUND: define('FF_DEVICE_NOT_FOUND', 404, 'Device not found'),
  CHANNEL_NOT_FOUND: define('FF_CHANNEL_NOT_FOUND', 404, 'Channel not found'),
  MALFORMED_JSON: define('FF_MALFORMED_JSON', 400, 'Malformed JSON'),
  PAYLOAD_TOO_LARGE: define('FF_PAYLOAD_TOO_LARGE', 413, 'Payload too large'),
  PAYLOAD_TOO_DEEP: define('FF_PAYLOAD_TOO_DEEP', 400, 'Payload nested too deeply'),
  NUMBER_OUT_OF_RANGE: define('FF_NUMBER_OUT_OF_RANGE', 400, 'Number outside the range of a 64-bit float'),
  UNSUPPORTED_MEDIA_TYPE: define('FF_UNSUPPORTED_MEDIA_TYPE', 415, 'Unsupported media type'),
  VALIDATION: define('FF_VALIDATION', 400, 'Request body is invalid'),
  INVALID_QUERY: define('FF_INVALID_QUERY', 400, 'Query parameter is invalid'),
  INVALID_CHANNEL_NAME: define('FF_INVALID_CHANNEL_NAME', 400, 'Invalid channel name'),
  INVALID_SELECTOR: define('FF_INVALID_SELECTOR', 400, 'Invalid label selector'),
  CHANNEL_LIMIT: define('FF_CHANNEL_LIMIT', 409, 'Too many channels on this device'),
  AGGREGATE_TOO_LARGE: define('FF_AGGREGATE_TOO_LARGE', 413, 'Aggregate would be too large'),
  BAD_REQUEST: define('FF_BAD_REQUEST', 400, 'Malformed request'),
  CONFLICT: define('FF_CONFLICT', 409, 'Conflicts with the current state'),
  RESERVED_CHANNEL: define('FF_RESERVED_CHANNEL', 409, 'Channel is written by the platform'),
  INVALID_TAG: define('FF_INVALID_TAG', 400, 'Invalid tag'),
  TAG_TYPE_MISMATCH: define('FF_TAG_TYPE_MISMATCH', 400, 'Tag value has the wrong type'),
  INVALID_TRIGGER: define('FF_INVALID_TRIGGER', 400, 'Invalid trigger definition'),
  TRIGGER_NOT_FOUND: define('FF_TRIGGER_NOT_FOUND', 404, 'Trigger not found'),
  INVALID_ALARM: define('FF_INVALID_ALARM', 400, 'Invalid alarm'),
  ALARM_NOT_FOUND: define('FF_ALARM_NOT_FOUND', 404, 'Alarm not found'),
  INVALID_CRON: define('FF_INVALID_CRON', 400, 'Invalid cron expression or timezone'),
  INVALID_SCHEDULE: define('FF_INVALID_SCHEDULE', 400, 'Invalid schedule'),
  SCHEDULE_NOT_FOUND: define('FF_SCHEDULE_NOT_FOUND', 404, 'Schedule not found'),
  INVALID_ENDPOINT: define('FF_INVALID_ENDPOINT', 400, 'Invalid notification endpoint'),
  INVALID_EMAIL: define('FF_INVALID_EMAIL', 400, 'Invalid email address'),
  INVALID_PHONE: define('FF_INVALID_PHONE', 400, 'Invalid phone number (E.164 expected)'),
  INVALID_URL: define('FF_INVALID_URL', 400, 'Invalid URL'),
  FORBIDDEN_TARGET: define('FF_FORBIDDEN_TARGET', 400, 'Notifications may not go to this address'),
  INVALID_TEMPLATE: define('FF_INVALID_TEMPLATE', 400, 'Template does not compile'),
  INVALID_PUSH_SUBSCRIPTION: define('FF_INVALID_PUSH_SUBSCRIPTION', 400, 'Invalid push subscription'),
  MISSING_CREDENTIALS: define('FF_MISSING_CREDENTIALS', 400, 'Endpoint credentials missing'),
  ENDPOINT_NOT_FOUND: define('FF_ENDPOINT_NOT_FOUND', 404, 'Notification endpoint not found'),
  INVALID_SUBSCRIPTION: define('FF_INVALID_SUBSCRIPTION', 400, 'Invalid notification subscription'),
  SUBSCRIPTION_NOT_FOUND: define('FF_SUBSCRIPTION_NOT_FOUND', 404, 'Notification subscription not found'),
  INVALID_NOTIFICATION: define('FF_INVALID_NOTIFICATION', 400, 'Invalid notification'),
  ATTACHMENT_TOO_LARGE: define('FF_ATTACHMENT_TOO_LARGE', 413, 'Attachments too large'),
  DELIVERY_NOT_FOUND: define('FF_DELIVERY_NOT_FOUND', 404, 'Delivery not found'),
  SMTP_UNREACHABLE: define('FF_SMTP_UNREACHABLE', 502, 'SMTP server unreachable'),
  PROVIDER_UNREACHABLE: define('FF_PROVIDER_UNREACHABLE', 502, 'Notification provider unreachable'),
  PROVIDER_TIMEOUT: define('FF_PROVIDER_TIMEOUT', 504, 'Notification provider timed out'),
  PROVIDER_REJECTED: define('FF_PROVIDER_REJECTED', 502, 'Notification provider refused the message'),
  PUSH_SUBSCRIPTION_EXPIRED: define('FF_PUSH_SUBSCRIPTION_EXPIRED', 410, 'Push subscription expired'),
  ENDPOINT_DISABLED: define('FF_ENDPOINT_DISABLED', 409, 'Notification endpoint disabled'),
  INVALID_ARTIFACT: define('FF_INVALID_ARTIFACT', 400, 'Invalid artifact metadata'),
  INVALID_VERSION: define('FF_INVALID_VERSION', 400, 'Not a semantic version'),
  ARTIFACT_EMPTY: define('FF_ARTIFACT_EMPTY', 400, 'Empty upload'),
  ARTIFACT_TOO_LARGE: define('FF_ARTIFACT_TOO_LARGE', 413, 'Artifact too large'),
  ARTIFACT_NOT_FOUND: define('FF_ARTIFACT_NOT_FOUND', 404, 'Artifact not found'),
  INVALID_FLEET: define('FF_INVALID_FLEET', 400, 'Invalid fleet'),
  FLEET_NOT_FOUND: define('FF_FLEET_NOT_FOUND', 404, 'Fleet not found'),
  RANGE_NOT_SATISFIABLE: define('FF_RANGE_NOT_SATISFIABLE', 416, 'Range not satisfiable'),
  ARTIFACT_IN_USE: define('FF_ARTIFACT_IN_USE', 409, 'Artifact used by an active rollout'),
  INVALID_ROLLOUT: define('FF_INVALID_ROLLOUT', 400, 'Invalid rollout'),
  ROLLOUT_NOT_FOUND: define('FF_ROLLOUT_NOT_FOUND', 404, 'Rollout not found'),
  ROLLOUT_STATE: define('FF_ROLLOUT_STATE', 409, 'Not possible in the rollout\'s state'),
  FLEET_EMPTY: define('FF_FLEET_EMPTY', 422, 'Fleet has no devices'),
  MODEL_MISMATCH: define('FF_MODEL_MISMATCH', 422, 'Artifact does not target the device model'),
  INVALID_OTA_REPORT: define('FF_INVALID_OTA_REPORT', 400, 'Invalid OTA report'),
  OTA_UPDATE_NOT_FOUND: define('FF_OTA_UPDATE_NOT_FOUND', 404, 'OTA update not found'),
  OTA_NOT_YOUR_UPDATE: define('FF_OTA_NOT_YOUR_UPDATE', 403, 'OTA update belongs to another device'),
  OTA_INVALID_TRANSITION: define('FF_OTA_INVALID_TRANSITION', 409, 'OTA state transition not allowed'),
  INVALID_MESSAGE_ID: define('FF_INVALID_MESSAGE_ID', 400, 'Invalid client message id'),
  INVALID_CONFIG: define('FF_INVALID_CONFIG', 400, 'Invalid device configuration'),
  INVALID_COMMAND: define('FF_INVALID_COMMAND', 400, 'Invalid device command'),
  CONFIG_SCHEMA_MISMATCH: define('FF_CONFIG_SCHEMA_MISMATCH', 422, "Configuration does not satisfy the device model's schema"),
  MODEL_NOT_FOUND: define('FF_MODEL_NOT_FOUND', 404, 'Device model not found'),
  MODEL_IN_USE: define('FF_MODEL_IN_USE', 409, 'Device model used by devices'),
  INVALID_PACK: define('FF_INVALID_PACK', 400, 'Invalid flow pack'),
  INVALID_PACK_PARAMETERS: define('FF_INVALID_PACK_PARAMETERS', 400, 'Invalid pack parameters'),
  DUPLICATE_NODE_ID: define('FF_DUPLICATE_NODE_ID', 400, 'Duplicate node id in the pack flows'),
  PACK_TOO_LARGE: define('FF_PACK_TOO_LARGE', 413, 'Pack file too large'),
  PACK_INCOMPATIBLE: define('FF_PACK_INCOMPATIBLE', 422, 'Pack needs another Fieldflow version'),
  MISSING_NODE_TYPES: define('FF_MISSING_NODE_TYPES', 422, 'Node types the pack needs are not installed'),
  PACK_DOWNGRADE: define('FF_PACK_DOWNGRADE', 409, 'Pack version is lower than the installed one'),
  PACK_ID_CONFLICT: define('FF_PACK_ID_CONFLICT', 409, 'Pack collides with another pack'),
  PACK_NOT_FOUND: define('FF_PACK_NOT_FOUND', 404, 'Pack not installed'),
  PACK_MODIFIED: define('FF_PACK_MODIFIED', 409, 'Pack tabs were edited since it was installed'),
  FLOWS_CHANGED: define('FF_FLOWS_CHANGED', 409, 'The flows changed during the deploy'),
  MQTT_TOPIC_DENIED: define('FF_MQTT_TOPIC_DENIED', 403, 'Topic outside the device namespace'),
  MQTT_CLIENT_ID_REJECTED: define('FF_MQTT_CLIENT_ID_REJECTED', 400, 'MQTT client id rejected'),
  MQTT_PACKET_TOO_LARGE: define('FF_MQTT_PACKET_TOO_LARGE', 413, 'MQTT packet too large'),
  MQTT_INVALID_TOPIC: define('FF_MQTT_INVALID_TOPIC', 400, 'MQTT topic name is not well-formed UTF-8'),
  STORAGE_FULL: define('FF_STORAGE_FULL', 503, 'Storage full'),
  STORAGE_UNAVAILABLE: define('FF_STORAGE_UNAVAILABLE', 503, 'Storage write failed'),
  HISTORY_TOO_LARGE: define('FF_HISTORY_TOO_LARGE', 503, 'Stored history does not fit in memory'),
  UNAVAILABLE: define('FF_UNAVAILABLE', 503, 'Service unavailable'),
  NOT_READY: define('FF_NOT_READY', 503, 'Not ready'),
  INTERNAL: define('FF_INTERNAL', 500, 'Internal error'),
} as const;

/** The catalog as data: for docs, the `/api/v1/errors` endpoint and the docs test. */
export function errorCatalog(): ErrorDef[] {
  return Object.values(Errors).map(({ code, status, title }) => ({ code, status, title }));
}

export function isFieldflowError(err: unknown): err is FieldflowError {
  return err instanceof FieldflowError;
}

/** ajv's errors as JSON-pointer paths a client can act on. */
export function toFieldErrors(errors: ErrorObject[] | null | undefined): FieldError[] {
  // Inside propertyNames ajv reports the key's own failure too; the propertyNames error says it better.
  return (errors ?? []).filter((e) => e.propertyName === undefined).map((e) => {
    if (e.keyword === 'required') return { path: `${e.instancePath}/${e.params.missingProperty}`, message: 'is required' };
    if (e.keyword === 'additionalProperties') return { path: `${e.instancePath}/${e.params.additionalProperty}`, message: 'is not allowed' };
    if (e.keyword === 'propertyNames') return { path: `${e.instancePath}/${e.params.propertyName}`, message: 'is not a valid key' };
    return { path: e.instancePath || '/', message: e.message ?? 'is invalid' };
  });
}
