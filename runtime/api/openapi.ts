import {
  channelPatchSchema,
  deviceCreateSchema,
  deviceListQuerySchema,
  devicePatchSchema,
  historyQuerySchema,
  labelsSchema,
  loginSchema,
  alarmActionSchema,
  alarmListQuerySchema,
  alarmRaiseSchema,
  backtestSchema,
  scheduleCreateSchema,
  schedulePatchSchema,
  storedBacktestSchema,
  tagTypesPatchSchema,
} from './schemas';
import { triggerSpecSchema } from '../triggers/model';
import { errors, idParam, json, list, notFound, oas, ok, problem, queryParams, ref } from './openapi-helpers';
import { notificationPaths, notificationSchemas } from './openapi-notifications';
import { otaPaths, otaSchemas } from './openapi-ota';
import { deviceConfigPaths } from './openapi-devices-config';
import { rolloutPaths, rolloutSchemas } from './openapi-rollouts';
import { packPaths, packSchemas } from './openapi-packs';
import { modelPaths, modelSchemas } from './openapi-models';
import { healthPaths } from './openapi-health';
import { errorCatalog } from '../errors';
import { CHANNEL_NAME_PATTERN } from '../channels/names';
import { TAG_NAME_PATTERN } from '../tags/service';

const deviceId = { name: 'id', in: 'path', required: true, schema: { type: 'string', format: 'uuid' } };
const channel = { name: 'channel', in: 'path', required: true, schema: { type: 'string', pattern: CHANNEL_NAME_PATTERN } };
const appKey = { name: 'appKey', in: 'path', required: true, schema: { type: 'string', pattern: TAG_NAME_PATTERN } };

/** The OpenAPI 3.0 description of /api/v1, built from the same schemas the validators use. */
export function openApiDocument() {
  return {
    openapi: '3.0.3',
    info: {
      title: 'Fieldflow REST API',
      version: '1',
      description:
        'Devices, channels, messages and aggregates; tags, triggers, alarms, schedules and notifications. Authenticate with `Authorization: Bearer <token>`; ' +
        'user tokens come from POST /auth/token. Errors are application/problem+json with a stable `code` (see GET /errors).',
    },
    servers: [{ url: '/api/v1' }],
    security: [{ bearer: [] }],
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
      schemas: {
        ...notificationSchemas(),
        ...otaSchemas(),
        ...rolloutSchemas(),
        ...packSchemas(),
        ...modelSchemas(),
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
        TagSet: {
          type: 'object',
          properties: {
            appKey: { type: 'string' },
            values: { type: 'object', additionalProperties: { oneOf: [{ type: 'number' }, { type: 'boolean' }, { type: 'string' }] } },
            types: { type: 'object', additionalProperties: { type: 'string', enum: ['number', 'boolean', 'string'] } },
            updatedAt: { type: 'string', format: 'date-time', nullable: true },
          },
        },
        TriggerDefinition: oas(triggerSpecSchema),
        Trigger: {
          allOf: [
            ref('TriggerDefinition'),
            {
              type: 'object',
              properties: { id: { type: 'string' }, owner: { type: 'string', enum: ['api', 'flow'] }, running: { type: 'boolean' }, createdAt: { type: 'string', format: 'date-time' }, updatedAt: { type: 'string', format: 'date-time' } },
            },
          ],
        },
        Backtest: {
          type: 'object',
          properties: {
            from: { type: 'string', format: 'date-time' },
            to: { type: 'string', format: 'date-time' },
            devices: { type: 'integer' },
            scanned: { type: 'integer', description: 'Messages read' },
            count: { type: 'integer', description: 'Fires in the range' },
            truncated: { type: 'boolean', description: 'True when fires holds fewer than count' },
            elapsedMs: { type: 'integer' },
            fires: { type: 'array', items: { type: 'object', properties: { device: { type: 'string' }, ts: { type: 'string', format: 'date-time' }, edge: { type: 'string' }, value: {}, previous: {}, since: { type: 'string', format: 'date-time' }, messageId: { type: 'string', nullable: true } } } },
          },
        },
        Alarm: {
          type: 'object',
          properties: {
            id: { type: 'string', format: 'uuid' },
            device: { type: 'string', format: 'uuid' },
            type: { type: 'string' },
            severity: { type: 'string', enum: ['critical', 'major', 'minor', 'warning', 'info'] },
            message: { type: 'string' },
            details: { type: 'object' },
            status: { type: 'string', enum: ['active', 'cleared'] },
            acknowledged: { type: 'boolean' },
            count: { type: 'integer' },
            source: { type: 'object', properties: { kind: { type: 'string', enum: ['trigger', 'flow', 'api'] }, id: { type: 'string' } } },
            createdAt: { type: 'string', format: 'date-time' },
            updatedAt: { type: 'string', format: 'date-time' },
            lastRaisedAt: { type: 'string', format: 'date-time' },
            ackedAt: { type: 'string', format: 'date-time', nullable: true },
            ackedBy: { type: 'string', nullable: true },
            ackComment: { type: 'string', nullable: true },
            clearedAt: { type: 'string', format: 'date-time', nullable: true },
            clearedBy: { type: 'string', nullable: true },
            clearComment: { type: 'string', nullable: true },
          },
        },
        Schedule: {
          type: 'object',
          properties: {
            id: { type: 'string', format: 'uuid' },
            name: { type: 'string' },
            cron: { type: 'string' },
            timezone: { type: 'string' },
            payload: {},
            enabled: { type: 'boolean' },
            nextRunAt: { type: 'string', format: 'date-time', nullable: true },
            lastRunAt: { type: 'string', format: 'date-time', nullable: true },
            createdAt: { type: 'string', format: 'date-time' },
            updatedAt: { type: 'string', format: 'date-time' },
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
      '/auth/tokens': {
        delete: {
          summary: "Revoke every session of the caller: API tokens and editor sessions, this request's token included",
          responses: { 200: ok('How many sessions were revoked', { type: 'object', properties: { revoked: { type: 'integer' } } }), 401: errors[401] },
        },
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
          responses: {
            200: ok('The device', ref('Device')),
            400: errors[400],
            401: errors[401],
            404: errors[404],
            422: problem("The new model's config schema refuses the stored configuration (FF_CONFIG_SCHEMA_MISMATCH)"),
          },
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
      '/devices/{id}/tags': {
        parameters: [deviceId],
        get: { summary: "Every app key's tags on the device: {appKey: {tag: value}}", responses: { 200: ok('Tags', { type: 'object' }), 401: errors[401], 404: errors[404] } },
      },
      '/devices/{id}/tags/{appKey}': {
        parameters: [deviceId, appKey],
        get: { summary: "An app key's tags (user or device token)", responses: { 200: ok('Tags', ref('TagSet')), 401: errors[401], 404: errors[404] } },
        patch: {
          summary: 'Commit several tags as one message on tag_values (null deletes a tag); user or device token',
          requestBody: { required: true, content: json({ type: 'object', additionalProperties: { oneOf: [{ type: 'number' }, { type: 'boolean' }, { type: 'string' }], nullable: true } }) },
          responses: { 200: ok('Tags after the commit', ref('TagSet')), 400: problem('FF_INVALID_TAG, FF_TAG_TYPE_MISMATCH, FF_MALFORMED_JSON'), 401: errors[401], 404: errors[404] },
        },
      },
      '/tags/{appKey}/types': {
        parameters: [appKey],
        get: { summary: "An app key's declared tag types", responses: { 200: ok('Types', { type: 'object' }), 401: errors[401] } },
        patch: {
          summary: 'Declare tag types for an app key (null undeclares); values of another type are then refused',
          requestBody: { required: true, content: json(oas(tagTypesPatchSchema)) },
          responses: { 200: ok('Types', { type: 'object' }), 400: errors[400], 401: errors[401] },
        },
      },
      '/triggers': {
        get: { summary: 'List triggers (api and flow-owned)', responses: { 200: ok('Triggers', list('Trigger')), 401: errors[401] } },
        post: {
          summary: 'Create a trigger; it runs at once',
          requestBody: { required: true, content: json(ref('TriggerDefinition')) },
          responses: { 201: ok('Created', ref('Trigger')), 400: problem('Invalid definition (FF_INVALID_TRIGGER)'), 401: errors[401] },
        },
      },
      '/triggers/backtest': {
        post: {
          summary: 'Run a definition over stored history and return the fires it would have produced',
          requestBody: { required: true, content: json(oas(backtestSchema)) },
          responses: { 200: ok('Fires', ref('Backtest')), 400: problem('FF_VALIDATION, FF_INVALID_TRIGGER'), 401: errors[401], 404: errors[404] },
        },
      },
      '/triggers/{id}': {
        parameters: [idParam('trigger')],
        get: { summary: 'Get a trigger', responses: { 200: ok('Trigger', ref('Trigger')), 401: errors[401], 404: notFound('FF_TRIGGER_NOT_FOUND') } },
        put: {
          summary: "Replace an api trigger's definition; its state starts afresh",
          requestBody: { required: true, content: json(ref('TriggerDefinition')) },
          responses: { 200: ok('Trigger', ref('Trigger')), 400: problem('FF_INVALID_TRIGGER'), 401: errors[401], 404: notFound('FF_TRIGGER_NOT_FOUND'), 409: problem('Owned by a flow (FF_CONFLICT)') },
        },
        delete: { summary: 'Delete an api trigger and its state', responses: { 204: { description: 'Deleted' }, 401: errors[401], 404: notFound('FF_TRIGGER_NOT_FOUND'), 409: problem('Owned by a flow (FF_CONFLICT)') } },
      },
      '/triggers/{id}/backtest': {
        parameters: [idParam('trigger')],
        post: {
          summary: "Backtest a stored trigger's definition",
          requestBody: { required: true, content: json(oas(storedBacktestSchema)) },
          responses: { 200: ok('Fires', ref('Backtest')), 400: errors[400], 401: errors[401], 404: notFound('FF_TRIGGER_NOT_FOUND') },
        },
      },
      '/alarms': {
        get: { summary: 'List alarms, newest first, with filters', parameters: queryParams(alarmListQuerySchema), responses: { 200: ok('Alarms', list('Alarm')), 400: errors[400], 401: errors[401] } },
        post: {
          summary: 'Raise an alarm, or update the open one of the same device and type (201 when new, 200 when updated)',
          requestBody: { required: true, content: json(oas(alarmRaiseSchema)) },
          responses: { 200: ok('Updated', ref('Alarm')), 201: ok('Raised', ref('Alarm')), 400: errors[400], 401: errors[401], 404: errors[404] },
        },
      },
      '/alarms/{id}': {
        parameters: [idParam('alarm')],
        get: { summary: 'Get an alarm', responses: { 200: ok('Alarm', ref('Alarm')), 401: errors[401], 404: notFound('FF_ALARM_NOT_FOUND') } },
      },
      '/alarms/{id}/ack': {
        parameters: [idParam('alarm')],
        post: { summary: 'Acknowledge, with an optional comment', requestBody: { required: false, content: json(oas(alarmActionSchema)) }, responses: { 200: ok('Alarm', ref('Alarm')), 400: errors[400], 401: errors[401], 404: notFound('FF_ALARM_NOT_FOUND') } },
      },
      '/alarms/{id}/clear': {
        parameters: [idParam('alarm')],
        post: { summary: 'Clear, with an optional comment', requestBody: { required: false, content: json(oas(alarmActionSchema)) }, responses: { 200: ok('Alarm', ref('Alarm')), 400: errors[400], 401: errors[401], 404: notFound('FF_ALARM_NOT_FOUND') } },
      },
      '/schedules': {
        get: { summary: 'List stored schedules', responses: { 200: ok('Schedules', list('Schedule')), 401: errors[401] } },
        post: {
          summary: 'Create a stored cron schedule; each run is a Schedule event',
          requestBody: { required: true, content: json(oas(scheduleCreateSchema)) },
          responses: { 201: ok('Created', ref('Schedule')), 400: problem('FF_INVALID_CRON, FF_VALIDATION'), 401: errors[401] },
        },
      },
      '/schedules/{id}': {
        parameters: [idParam('schedule')],
        get: { summary: 'Get a schedule', responses: { 200: ok('Schedule', ref('Schedule')), 401: errors[401], 404: notFound('FF_SCHEDULE_NOT_FOUND') } },
        patch: {
          summary: 'Change a schedule',
          requestBody: { required: true, content: json(oas(schedulePatchSchema)) },
          responses: { 200: ok('Schedule', ref('Schedule')), 400: problem('FF_INVALID_CRON, FF_VALIDATION'), 401: errors[401], 404: notFound('FF_SCHEDULE_NOT_FOUND') },
        },
        delete: { summary: 'Delete a schedule', responses: { 204: { description: 'Deleted' }, 401: errors[401], 404: notFound('FF_SCHEDULE_NOT_FOUND') } },
      },
      ...deviceConfigPaths(),
      ...modelPaths(),
      ...notificationPaths(),
      ...otaPaths(),
      ...rolloutPaths(),
      ...packPaths(),
      ...healthPaths(),
      '/errors': { get: { summary: 'The error catalog', security: [], responses: { 200: ok('Catalog', { type: 'object' }) } } },
      '/openapi.json': { get: { summary: 'This document', security: [], responses: { 200: ok('OpenAPI', { type: 'object' }) } } },
    },
  };
}
