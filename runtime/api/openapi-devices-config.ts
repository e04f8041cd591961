import { errors, json, ok, problem } from './openapi-helpers';
import { COMMAND_NAME_PATTERN } from '../devices/config';

const deviceId = { name: 'id', in: 'path', required: true, schema: { type: 'string', format: 'uuid' }, description: 'The device id' };
const commandName = { name: 'name', in: 'path', required: true, schema: { type: 'string', pattern: COMMAND_NAME_PATTERN }, description: 'The command name: the last level of its topic' };
const forbidden = problem('A device token (FF_FORBIDDEN)');
const notFound = problem('Unknown device (FF_DEVICE_NOT_FOUND)');

const configView = {
  type: 'object',
  properties: {
    config: { type: 'object', additionalProperties: true, description: 'The configuration; `{}` when none was set' },
    updatedAt: { type: 'string', format: 'date-time', nullable: true, description: 'When it was set; null when never' },
  },
};

const commandView = {
  type: 'object',
  properties: {
    id: { type: 'string', format: 'uuid', description: 'The id the device receives with the command' },
    name: { type: 'string' },
    sentAt: { type: 'string', format: 'date-time' },
    delivered: { type: 'boolean', description: 'Whether the device had a live MQTT connection when it was sent; not an acknowledgement from the device' },
  },
};

/** Paths of device configuration and commands (docs/api.md#device-config-and-commands). */
export function deviceConfigPaths() {
  return {
    '/devices/{id}/config': {
      parameters: [deviceId],
      get: { summary: "The device's configuration", responses: { 200: ok('The configuration', configView), 401: errors[401], 403: forbidden, 404: notFound } },
      put: {
        summary: 'Replace the configuration: stored, then published retained on devices/{id}/config',
        requestBody: { required: true, content: json({ type: 'object', additionalProperties: true, description: 'Any JSON object within the message size and depth limits' }) },
        responses: {
          200: ok('The stored configuration', configView),
          400: problem('Not a JSON object, or over the size or depth limit (FF_INVALID_CONFIG); not JSON (FF_MALFORMED_JSON)'),
          401: errors[401],
          403: forbidden,
          404: notFound,
          415: problem('Not sent as application/json (FF_UNSUPPORTED_MEDIA_TYPE)'),
          422: problem("Fails the config schema of the device's model, with JSON paths (FF_CONFIG_SCHEMA_MISMATCH)"),
        },
      },
    },
    '/devices/{id}/commands/{name}': {
      parameters: [deviceId, commandName],
      post: {
        summary: 'Send a command: published QoS 1, not retained, on devices/{id}/commands/{name} as {"id","args","sentAt"}',
        requestBody: {
          required: false,
          content: json({ type: 'object', additionalProperties: false, properties: { args: { type: 'object', additionalProperties: true, description: 'Default {}' } } }),
        },
        responses: {
          202: ok('Sent', commandView),
          400: problem('Invalid name, body or arguments (FF_INVALID_COMMAND); not JSON (FF_MALFORMED_JSON)'),
          401: errors[401],
          403: forbidden,
          404: notFound,
          415: problem('Not sent as application/json (FF_UNSUPPORTED_MEDIA_TYPE)'),
          503: problem('The broker is not running (FF_UNAVAILABLE)'),
        },
      },
    },
  };
}
