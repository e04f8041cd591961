import { errors, list, notFound, ok, problem, ref } from './openapi-helpers';
import { exportRequestSchema } from '../packs/schema';

/** Components of the flow-pack part of the API. */
export function packSchemas() {
  return {
    ImportRequest: {
      type: 'object',
      required: ['pack'],
      properties: {
        pack: { type: 'object', description: 'The pack file (see /packs/schema.json)' },
        params: { type: 'object', description: "Values for the pack's parameters; text is coerced to the declared types" },
        force: { type: 'boolean', description: "Overwrite edits made in the pack's tabs since it was installed" },
        allowDowngrade: { type: 'boolean' },
      },
    },
    InstalledPack: {
      type: 'object',
      properties: {
        id: { type: 'string' },
        name: { type: 'string' },
        version: { type: 'string' },
        params: { type: 'object' },
        nodes: { type: 'integer' },
        resources: { type: 'array', items: { type: 'object', properties: { kind: { type: 'string', enum: ['models', 'endpoints', 'subscriptions', 'schedules'] }, id: { type: 'string' }, name: { type: 'string' } } } },
        installedAt: { type: 'string', format: 'date-time' },
        installedBy: { type: 'string' },
        history: { type: 'array', items: { type: 'object', properties: { version: { type: 'string' }, installedAt: { type: 'string', format: 'date-time' } } } },
      },
    },
    PackPlan: {
      type: 'object',
      properties: { id: { type: 'string' }, name: { type: 'string' }, from: { type: 'string', nullable: true }, to: { type: 'string' }, params: { type: 'object' }, modified: { type: 'boolean' }, diff: { type: 'object' }, resources: { type: 'object', description: 'Resources added, changed and removed, each {kind, name}' } },
    },
    ExportRequest: exportRequestSchema,
    BuiltinPack: { type: 'object', properties: { file: { type: 'string' }, id: { type: 'string' }, name: { type: 'string' }, version: { type: 'string' }, description: { type: 'string' } } },
  };
}

/** Paths of the flow-pack part of the API. */
export function packPaths() {
  const body = { required: true, content: { 'application/json': { schema: ref('ImportRequest') } } };
  const refused = {
    400: problem('FF_MALFORMED_JSON, FF_INVALID_PACK, FF_INVALID_PACK_PARAMETERS, FF_DUPLICATE_NODE_ID'),
    401: errors[401],
    409: problem('FF_PACK_MODIFIED, FF_PACK_DOWNGRADE, FF_PACK_ID_CONFLICT'),
    413: problem('FF_PACK_TOO_LARGE'),
    422: problem('FF_MISSING_NODE_TYPES, FF_PACK_INCOMPATIBLE'),
  };
  const idParam = { name: 'id', in: 'path', required: true, schema: { type: 'string' }, description: 'The pack id (reverse-DNS)' };
  return {
    '/packs/schema.json': { get: { summary: 'The JSON Schema of a pack file (no authentication)', responses: { 200: ok('Schema', { type: 'object' }) } } },
    '/packs': {
      get: { summary: 'Installed packs', responses: { 200: ok('Packs', list('InstalledPack')), 401: errors[401] } },
      post: { summary: 'Import a pack, or upgrade it in place', requestBody: body, responses: { 200: ok('Upgraded', ref('InstalledPack')), 201: ok('Imported', ref('InstalledPack')), ...refused } },
    },
    '/packs/dry-run': { post: { summary: 'What an import would change, without changing anything', requestBody: body, responses: { 200: ok('Plan', ref('PackPlan')), ...refused } } },
    '/packs/{id}': {
      parameters: [idParam],
      get: { summary: 'An installed pack', responses: { 200: ok('Pack', ref('InstalledPack')), 401: errors[401], 404: notFound('FF_PACK_NOT_FOUND') } },
      delete: {
        summary: "Remove the pack's tabs, the resources it created and its record",
        responses: { 200: ok('Removed; `kept` lists resources that could not be removed (a model devices still use)', { type: 'object', properties: { id: { type: 'string' }, kept: { type: 'array', items: { type: 'object' } } } }), 401: errors[401], 404: notFound('FF_PACK_NOT_FOUND') },
      },
    },
    '/packs/export': {
      post: {
        summary: 'Deployed tabs, with the subflows, config nodes and resources they use, as a pack file',
        requestBody: { required: true, content: { 'application/json': { schema: ref('ExportRequest') } } },
        responses: { 200: ok('The pack file', { type: 'object' }), 400: problem('FF_VALIDATION (an unknown tab), FF_INVALID_PACK'), 401: errors[401] },
      },
    },
    '/packs/builtin': { get: { summary: 'The packs shipped with Fieldflow (flows/)', responses: { 200: ok('Built-in packs', list('BuiltinPack')), 401: errors[401] } } },
    '/packs/builtin/{file}': {
      get: {
        summary: 'A built-in pack file',
        parameters: [{ name: 'file', in: 'path', required: true, schema: { type: 'string' } }],
        responses: { 200: ok('The pack file', { type: 'object' }), 401: errors[401], 404: notFound('FF_PACK_NOT_FOUND') },
      },
    },
    '/packs/{id}/rollback': {
      parameters: [idParam],
      post: { summary: 'Deploy the previous version again with its parameters', responses: { 200: ok('Pack', ref('InstalledPack')), 401: errors[401], 404: notFound('FF_PACK_NOT_FOUND'), 409: problem('No earlier version (FF_CONFLICT), or edited tabs (FF_PACK_MODIFIED)') } },
    },
  };
}
