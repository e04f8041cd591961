import {
  channelPatchSchema,
  deviceCreateSchema,
  deviceListQuerySchema,
  devicePatchSchema,
  historyQuerySchema,
  labelsSchema,
  loginSchema,
} from './schemas';
import { errorCatalog } from '../errors';
import { CHANNEL_NAME_PATTERN } from '../channels/names';

/** Draft-07 `type: [x, 'null']` is written `nullable` in OpenAPI 3.0. */
function oas(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(oas);
  if (typeof schema !== 'object' || schema === null) return schema;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(schema)) {
    if (k === 'type' && Array.isArray(v)) {
      const types = v.filter((t) => t !== 'null');
      out.type = types[0];
      if (types.length !== v.length) out.nullable = true;
    } else if (k === 'propertyNames') {
      out['x-propertyNames'] = v;
    } else {
      out[k] = oas(v);
    }
  }
  return out;
}

const json = (schema: unknown) => ({ 'application/json': { schema } });
const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const problem = (description: string) => ({ description, content: { 'application/problem+json': { schema: ref('Problem') } } });
const ok = (description: string, schema: unknown) => ({ description, content: json(schema) });

const errors = {
  400: problem('Invalid input (FF_VALIDATION, FF_INVALID_QUERY, FF_MALFORMED_JSON, ...)'),
  401: problem('Missing or invalid credentials (FF_AUTH_REQUIRED, FF_AUTH_INVALID)'),
  404: problem('Unknown device or channel (FF_DEVICE_NOT_FOUND, FF_CHANNEL_NOT_FOUND)'),
};

function queryParams(schema: { properties: Record<string, unknown> }) {
  return Object.entries(schema.properties).map(([name, s]) => ({ name, in: 'query', required: false, schema: oas(s) }));
}

const deviceId = { name: 'id', in: 'path', required: true, schema: { type: 'string', format: 'uuid' } };
const channel = { name: 'channel', in: 'path', required: true, schema: { type: 'string', pattern: CHANNEL_NAME_PATTERN } };

/** The OpenAPI 3.0 description of /api/v1, built from the same schemas the validators use. */
export function openApiDocument() {
  return {
    openapi: '3.0.3',
    info: {
      title: 'Fieldflow REST API',
      version: '1',
      description:
        'Devices, channels, messages and aggregates. Authenticate with `Authorization: Bearer <token>`; ' +
        'user tokens come from POST /auth/token. Errors are application/problem+json with a stable `code` (see GET /errors).',
    },
    servers: [{ url: '/api/v1' }],
    security: [{ bearer: [] }],
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
      schemas: {
        Problem: {
          type: 'object',
          required: ['type', 'title', 'status', 'detail', 'code'],
          properties: {
            type: { type: 'string' },
            title: { type: 'string' },
            status: { type: 'integer' },
            detail: { type: 'string' },
            code: { type: 'string', enum: errorCatalog().map((e) => e.code) },
            instance: { type: 'string' },
            errors: { type: 'array', items: { type: 'object', properties: { path: { type: 'string' }, message: { type: 'string' } } } },
          },
        },
        Labels: oas(labelsSchema),
        Device: {
          type: 'object',
          properties: {
            id: { type: 'string', format: 'uuid' },
            name: { type: 'string' },
            model: { type: 'string', nullable: true },
            labels: ref('Labels'),
            online: { type: 'boolean' },
            lastSeen: { type: 'string', format: 'date-time', nullable: true },
            createdAt: { type: 'string', format: 'date-time' },
            updatedAt: { type: 'string', format: 'date-time' },
            ingestErrors: { type: 'object', additionalProperties: { type: 'integer' } },
            lastIngestError: { type: 'object', nullable: true },
          },
        },
        DeviceWithToken: {
          allOf: [ref('Device'), { type: 'object', properties: { token: { type: 'string', description: 'Shown only here.' } } }],
        },
        Channel: {
          type: 'object',
          properties: {
            name: { type: 'string' },
            messageCount: { type: 'integer' },
            firstMessageAt: { type: 'string', format: 'date-time', nullable: true },
            lastMessageAt: { type: 'string', format: 'date-time', nullable: true },
            retention: { type: 'object', properties: { maxAgeSeconds: { type: 'integer' }, maxCount: { type: 'integer' } } },
            retentionOverrides: { type: 'object' },
          },
        },
        Message: {
          type: 'object',
          properties: {
            id: { type: 'string', description: '64-bit snowflake id as a decimal string' },
            ts: { type: 'string', format: 'date-time' },
            data: {},
          },
        },
        Aggregate: {
          type: 'object',
          properties: {
            data: {},
            updatedAt: { type: 'string', format: 'date-time', nullable: true },
            lastMessageId: { type: 'string', nullable: true },
          },
        },
      },
    },
    paths: {
      '/auth/token': {
        post: {
          summary: 'Log in: exchange a username and password for a user token',
          security: [],
          requestBody: { required: true, content: json(oas(loginSchema)) },
          responses: {
            200: ok('A token', { type: 'object', properties: { token: { type: 'string' }, tokenType: { type: 'string' }, expiresAt: { type: 'string' } } }),
            401: errors[401],
            429: problem('Too many failed attempts (FF_TOO_MANY_ATTEMPTS)'),
          },
        },
        delete: { summary: 'Revoke the token used for this request', responses: { 204: { description: 'Revoked' }, 401: errors[401] } },
      },
      '/devices': {
        post: {
          summary: 'Create a device; the response holds its token, shown only this once',
          requestBody: { required: true, content: json(oas(deviceCreateSchema)) },
          responses: { 201: ok('Created', ref('DeviceWithToken')), 400: errors[400], 401: errors[401] },
        },
        get: {
          summary: 'List devices, optionally filtered by a label selector (site=north,tier!=canary,env,!legacy)',
          parameters: queryParams(deviceListQuerySchema),
          responses: {
            200: ok('A page of devices', { type: 'object', properties: { items: { type: 'array', items: ref('Device') }, next: { type: 'string', nullable: true } } }),
            400: errors[400],
            401: errors[401],
          },
        },
      },
      '/devices/{id}': {
        parameters: [deviceId],
        get: { summary: 'Get a device', responses: { 200: ok('The device', ref('Device')), 401: errors[401], 404: errors[404] } },
        patch: {
          summary: 'Change name, model or labels (a null label deletes it)',
          requestBody: { required: true, content: json(oas(devicePatchSchema)) },
          responses: { 200: ok('The device', ref('Device')), 400: errors[400], 401: errors[401], 404: errors[404] },
        },
        delete: {
          summary: 'Delete a device, its channels and messages; its connections are closed at once',
          responses: { 204: { description: 'Deleted' }, 401: errors[401], 404: errors[404] },
        },
      },
      '/devices/{id}/token': {
        parameters: [deviceId],
        post: {
          summary: 'Rotate the device token; the old one stops working at once',
          responses: { 200: ok('The device with its new token', ref('DeviceWithToken')), 401: errors[401], 404: errors[404] },
        },
      },
      '/devices/{id}/channels': {
        parameters: [deviceId],
        get: {
          summary: "List a device's channels",
          responses: { 200: ok('Channels', { type: 'object', properties: { items: { type: 'array', items: ref('Channel') } } }), 401: errors[401], 404: errors[404] },
        },
      },
      '/devices/{id}/channels/{channel}': {
        parameters: [deviceId, channel],
        get: { summary: 'Get a channel', responses: { 200: ok('The channel', ref('Channel')), 401: errors[401], 404: errors[404] } },
        patch: {
          summary: "Set the channel's retention (null restores the default)",
          requestBody: { required: true, content: json(oas(channelPatchSchema)) },
          responses: { 200: ok('The channel', ref('Channel')), 400: errors[400], 401: errors[401], 404: errors[404] },
        },
      },
      '/devices/{id}/channels/{channel}/messages': {
        parameters: [deviceId, channel],
        post: {
          summary: 'Publish a message (any JSON value); with a user token or the device token',
          requestBody: { required: true, content: json({}) },
          responses: {
            201: ok('Stored', { type: 'object', properties: { id: { type: 'string' }, ts: { type: 'string', format: 'date-time' } } }),
            400: errors[400],
            401: errors[401],
            404: errors[404],
            413: problem('Payload over the limit (FF_PAYLOAD_TOO_LARGE)'),
            415: problem('Body is not JSON (FF_UNSUPPORTED_MEDIA_TYPE)'),
          },
        },
        get: {
          summary: 'History: a page of messages. after/before take a message id or an ISO time; next is the cursor for the following page.',
          parameters: queryParams(historyQuerySchema),
          responses: {
            200: ok('A page of messages', { type: 'object', properties: { items: { type: 'array', items: ref('Message') }, next: { type: 'string', nullable: true } } }),
            400: errors[400],
            401: errors[401],
            404: errors[404],
          },
        },
      },
      '/devices/{id}/channels/{channel}/aggregate': {
        parameters: [deviceId, channel],
        get: { summary: "The channel's aggregate", responses: { 200: ok('Aggregate', ref('Aggregate')), 401: errors[401], 404: errors[404] } },
        patch: {
          summary: 'Merge-patch the aggregate (RFC 7386); recorded as a message',
          requestBody: { required: true, content: { 'application/merge-patch+json': { schema: {} } } },
          responses: { 200: ok('Aggregate', ref('Aggregate')), 400: errors[400], 401: errors[401], 404: errors[404] },
        },
      },
      '/health': { get: { summary: 'Liveness', security: [], responses: { 200: ok('Up', { type: 'object' }) } } },
      '/errors': { get: { summary: 'The error catalog', security: [], responses: { 200: ok('Catalog', { type: 'object' }) } } },
      '/openapi.json': { get: { summary: 'This document', security: [], responses: { 200: ok('OpenAPI', { type: 'object' }) } } },
    },
  };
}
