import { errors, idParam, list, notFound, ok, problem, ref } from './openapi-helpers';

/** Components of the OTA part of the API. */
export function otaSchemas() {
  return {
    Fleet: {
      type: 'object',
      properties: {
        id: { type: 'string', format: 'uuid' },
        name: { type: 'string' },
        selector: { type: 'string', description: 'Label selector; may be empty' },
        devices: { type: 'array', items: { type: 'string' } },
        createdAt: { type: 'string', format: 'date-time' },
        updatedAt: { type: 'string', format: 'date-time' },
      },
    },
    Artifact: {
      type: 'object',
      properties: {
        id: { type: 'string', format: 'uuid' },
        name: { type: 'string' },
        version: { type: 'string', description: 'Semantic version' },
        models: { type: 'array', items: { type: 'string' } },
        notes: { type: 'string' },
        sha256: { type: 'string' },
        size: { type: 'integer' },
        signature: { type: 'string', nullable: true, description: 'Ed25519 over JSON.stringify({version, sha256, size}), base64' },
        createdAt: { type: 'string', format: 'date-time' },
      },
    },
  };
}

const metaParams = ['name', 'version', 'models', 'notes'].map((name) => ({ name, in: 'query', required: false, schema: { type: 'string' }, description: name === 'models' ? 'Comma-separated (raw uploads)' : `The artifact's ${name} (raw uploads)` }));

/** Paths of the OTA part of the API. */
export function otaPaths() {
  const fleetBody = { required: true, content: { 'application/json': { schema: { type: 'object', properties: { name: { type: 'string' }, selector: { type: 'string' }, devices: { type: 'array', items: { type: 'string' } } } } } } };
  return {
    '/ota/signing-key': {
      get: { summary: 'The Ed25519 public key (PEM) that artifact signatures verify with', responses: { 200: ok('Key', { type: 'object', properties: { algorithm: { type: 'string' }, publicKey: { type: 'string' } } }), 401: errors[401], 404: problem('Artifacts are not signed (FF_NOT_FOUND)') } },
    },
    '/ota/fleets': {
      get: { summary: 'List fleets', responses: { 200: ok('Fleets', list('Fleet')), 401: errors[401] } },
      post: { summary: 'Create a fleet: a label selector, a device list, or both', requestBody: fleetBody, responses: { 201: ok('Created', ref('Fleet')), 400: problem('FF_INVALID_FLEET'), 401: errors[401], 409: problem('The name is taken (FF_CONFLICT)') } },
    },
    '/ota/fleets/{id}': {
      parameters: [idParam('fleet')],
      get: { summary: 'Get a fleet', responses: { 200: ok('Fleet', ref('Fleet')), 401: errors[401], 404: notFound('FF_FLEET_NOT_FOUND') } },
      patch: { summary: 'Change a fleet', requestBody: fleetBody, responses: { 200: ok('Fleet', ref('Fleet')), 400: problem('FF_INVALID_FLEET'), 401: errors[401], 404: notFound('FF_FLEET_NOT_FOUND') } },
      delete: { summary: 'Delete a fleet', responses: { 204: { description: 'Deleted' }, 401: errors[401], 404: notFound('FF_FLEET_NOT_FOUND') } },
    },
    '/ota/fleets/{id}/devices': {
      parameters: [idParam('fleet')],
      get: { summary: 'The devices in the fleet now', responses: { 200: ok('Devices', { type: 'object', properties: { items: { type: 'array', items: { type: 'object' } } } }), 401: errors[401], 404: notFound('FF_FLEET_NOT_FOUND') } },
    },
    '/ota/artifacts': {
      get: { summary: 'List artifacts, newest first', responses: { 200: ok('Artifacts', list('Artifact')), 401: errors[401] } },
      post: {
        summary: 'Upload an artifact: the raw body with the metadata in the query, or multipart/form-data (fields first, then the file)',
        parameters: metaParams,
        requestBody: { required: true, content: { 'application/octet-stream': { schema: { type: 'string', format: 'binary' } }, 'multipart/form-data': { schema: { type: 'object', properties: { name: { type: 'string' }, version: { type: 'string' }, models: { type: 'string' }, notes: { type: 'string' }, file: { type: 'string', format: 'binary' } } } } } },
        responses: {
          201: ok('Stored', ref('Artifact')),
          400: problem('FF_INVALID_VERSION, FF_INVALID_ARTIFACT, FF_ARTIFACT_EMPTY'),
          401: errors[401],
          409: problem('The version exists (FF_CONFLICT)'),
          413: problem('Over the size limit (FF_ARTIFACT_TOO_LARGE)'),
        },
      },
    },
    '/ota/artifacts/{id}': {
      parameters: [idParam('artifact')],
      get: { summary: 'Get an artifact', responses: { 200: ok('Artifact', ref('Artifact')), 401: errors[401], 404: notFound('FF_ARTIFACT_NOT_FOUND') } },
      delete: { summary: 'Delete an artifact', responses: { 204: { description: 'Deleted' }, 401: errors[401], 404: notFound('FF_ARTIFACT_NOT_FOUND'), 409: problem('Used by an active rollout (FF_ARTIFACT_IN_USE)') } },
    },
    '/ota/artifacts/{id}/download': {
      parameters: [idParam('artifact')],
      get: {
        summary: 'Download the file; single byte ranges (Range, If-Range) resume an interrupted download',
        responses: {
          200: { description: 'The file', content: { 'application/octet-stream': { schema: { type: 'string', format: 'binary' } } } },
          206: { description: 'The range asked for', content: { 'application/octet-stream': { schema: { type: 'string', format: 'binary' } } } },
          401: errors[401],
          404: notFound('FF_ARTIFACT_NOT_FOUND'),
          416: problem('Range outside the file (FF_RANGE_NOT_SATISFIABLE)'),
        },
      },
    },
  };
}
