import { errors, json, ok, oas, problem, ref } from './openapi-helpers';
import { modelCreateSchema, modelReplaceSchema } from '../devices/models';

/** Components of the device-model part of the API. */
export function modelSchemas() {
  return {
    DeviceModel: {
      type: 'object',
      properties: {
        name: { type: 'string' },
        description: { type: 'string' },
        configSchema: { type: 'object', additionalProperties: true, description: 'A draft-07 JSON Schema every configuration of its devices must satisfy' },
        createdAt: { type: 'string', format: 'date-time' },
        updatedAt: { type: 'string', format: 'date-time' },
      },
    },
  };
}

/** Paths of the device-model part of the API (docs/models.md). */
export function modelPaths() {
  const name = { name: 'name', in: 'path', required: true, schema: { type: 'string' }, description: 'The model name' };
  const notFound = problem('No model of that name (FF_MODEL_NOT_FOUND)');
  const invalid = problem('Invalid body or a config schema that does not compile, with JSON paths (FF_VALIDATION); not JSON (FF_MALFORMED_JSON)');
  const unsupported = problem('Not sent as application/json (FF_UNSUPPORTED_MEDIA_TYPE)');
  return {
    '/models': {
      get: { summary: 'Device models, sorted by name', responses: { 200: ok('Models', { type: 'object', properties: { items: { type: 'array', items: ref('DeviceModel') } } }), 401: errors[401] } },
      post: {
        summary: 'Register a device model with its config JSON Schema',
        requestBody: { required: true, content: json(oas(modelCreateSchema)) },
        responses: { 201: ok('Created', ref('DeviceModel')), 400: invalid, 401: errors[401], 409: problem('A model of that name exists (FF_CONFLICT)'), 413: problem('Body over 128 KiB (FF_PAYLOAD_TOO_LARGE)'), 415: unsupported },
      },
    },
    '/models/{name}': {
      parameters: [name],
      get: { summary: 'A device model', responses: { 200: ok('The model', ref('DeviceModel')), 401: errors[401], 404: notFound } },
      put: {
        summary: "Replace a model's description and config schema; stored configurations are not checked again",
        requestBody: { required: true, content: json(oas(modelReplaceSchema)) },
        responses: { 200: ok('The model', ref('DeviceModel')), 400: invalid, 401: errors[401], 404: notFound, 413: problem('Body over 128 KiB (FF_PAYLOAD_TOO_LARGE)'), 415: unsupported },
      },
      delete: {
        summary: 'Delete a device model that no device has',
        responses: { 204: { description: 'Deleted' }, 401: errors[401], 404: notFound, 409: problem('Devices have this model (FF_MODEL_IN_USE)') },
      },
    },
  };
}
