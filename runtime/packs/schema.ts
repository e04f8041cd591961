/**
 * The JSON Schema of a flow pack file (draft-07), served as `/api/v1/packs/schema.json`.
 *
 * The schema checks shape only. What JSON Schema cannot say (references between flow nodes, unique
 * ids, a valid semver range, parameter defaults that fit their own schema) is checked in model.ts,
 * and reported in the same list of errors.
 */

/** Reverse-DNS pack ids: lower case, at least two dot-separated segments (`com.fieldflow.telemetry-alarm`). */
export const PACK_ID_PATTERN = '^[a-z][a-z0-9-]*(\\.[a-z0-9][a-z0-9_-]*)+$';

/** Semantic Versioning 2.0.0, the regular expression from semver.org. */
export const SEMVER_PATTERN =
  '^(0|[1-9]\\d*)\\.(0|[1-9]\\d*)\\.(0|[1-9]\\d*)(?:-((?:0|[1-9]\\d*|\\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\\.(?:0|[1-9]\\d*|\\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?(?:\\+([0-9a-zA-Z-]+(?:\\.[0-9a-zA-Z-]+)*))?$';

/**
 * Parameter names: they become env variables of the pack's tabs, so they must be names Node-RED
 * substitutes in `${NAME}` properties (the editor's own pattern).
 */
export const PARAMETER_NAME_PATTERN = '^[A-Za-z_][A-Za-z0-9_]*$';

/** Formats a parameter may declare; model.ts implements them (ajv has none built in). */
export const PARAMETER_FORMATS = ['email', 'uri', 'label-selector'] as const;

const text = (maxLength: number) => ({ type: 'string', maxLength }) as const;

/** Keywords shared by a parameter and the items of an array parameter. */
const scalarKeywords = {
  title: text(128),
  description: text(2048),
  enum: { type: 'array', minItems: 1, maxItems: 256 },
  minimum: { type: 'number' },
  maximum: { type: 'number' },
  exclusiveMinimum: { type: 'number' },
  exclusiveMaximum: { type: 'number' },
  multipleOf: { type: 'number', exclusiveMinimum: 0 },
  minLength: { type: 'integer', minimum: 0 },
  maxLength: { type: 'integer', minimum: 0 },
  pattern: { type: 'string', maxLength: 1024 },
  format: { type: 'string', enum: PARAMETER_FORMATS },
} as const;

const itemSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['type'],
  properties: { type: { type: 'string', enum: ['string', 'number', 'integer', 'boolean'] }, ...scalarKeywords },
} as const;

/** One parameter: a deliberately small subset of JSON Schema that a form can be generated from. */
const parameterSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['type'],
  properties: {
    type: { type: 'string', enum: ['string', 'number', 'integer', 'boolean', 'array'] },
    ...scalarKeywords,
    default: {},
    examples: { type: 'array' },
    writeOnly: { type: 'boolean', description: 'A secret (a token, a signing secret): kept sealed, never shown again, and given only to resources, not to the flows.' },
    items: itemSchema,
    minItems: { type: 'integer', minimum: 0 },
    maxItems: { type: 'integer', minimum: 0 },
    uniqueItems: { type: 'boolean' },
  },
} as const;

/**
 * A platform resource a pack carries (a model, an endpoint, a subscription, a schedule): its
 * pack-local `id` (what the pack's flows and other resources refer to it by), its `name`, and
 * the body of the matching REST create call, checked by that resource's own service.
 */
const resources = {
  type: 'array',
  maxItems: 1000,
  items: {
    type: 'object',
    required: ['id', 'name'],
    properties: {
      id: { type: 'string', minLength: 1, maxLength: 128, description: 'Pack-local id: flows and other resources of the pack refer to the resource by it.' },
      name: { type: 'string', minLength: 1, maxLength: 128 },
    },
  },
} as const;

const portWires = {
  type: 'array',
  items: {
    type: 'object',
    required: ['id'],
    properties: { id: { type: 'string' }, port: { type: 'integer', minimum: 0 } },
  },
} as const;

const port = {
  type: 'object',
  required: ['wires'],
  properties: { x: { type: 'number' }, y: { type: 'number' }, wires: portWires },
} as const;

const envEntries = {
  type: 'array',
  items: {
    type: 'object',
    required: ['name'],
    properties: { name: { type: 'string', minLength: 1 }, type: { type: 'string' } },
  },
} as const;

/** A node of Node-RED flow JSON. Only the properties Node-RED itself interprets are typed. */
const flowNodeSchema = {
  type: 'object',
  required: ['id', 'type'],
  properties: {
    id: { type: 'string', minLength: 1, maxLength: 256 },
    type: { type: 'string', minLength: 1, maxLength: 256 },
    z: { type: 'string' },
    g: { type: 'string' },
    x: { type: 'number' },
    y: { type: 'number' },
    d: { type: 'boolean' },
    wires: { type: 'array', items: { type: 'array', items: { type: 'string' } } },
    env: envEntries,
  },
  allOf: [
    { if: { required: ['type'], properties: { type: { const: 'tab' } } }, then: { properties: { label: { type: 'string' }, info: { type: 'string' }, disabled: { type: 'boolean' } } } },
    { if: { required: ['type'], properties: { type: { const: 'subflow' } } }, then: { properties: { name: { type: 'string' }, in: { type: 'array', items: port }, out: { type: 'array', items: port }, status: port } } },
    { if: { required: ['type'], properties: { type: { const: 'group' } } }, then: { properties: { nodes: { type: 'array', items: { type: 'string' } } } } },
    { if: { required: ['type'], properties: { type: { enum: ['link in', 'link out', 'link call'] } } }, then: { properties: { links: { type: 'array', items: { type: 'string' } } } } },
  ],
} as const;

/** The JSON Schema of a pack file. */
export const packSchema = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  title: 'Fieldflow flow pack',
  description: 'A manifest, a parameters schema, Node-RED flows and optional platform resources. See docs/packs.md.',
  type: 'object',
  additionalProperties: false,
  required: ['manifest', 'flows'],
  properties: {
    $schema: { type: 'string' },
    manifest: {
      type: 'object',
      additionalProperties: false,
      required: ['id', 'name', 'version', 'requires'],
      properties: {
        id: { type: 'string', maxLength: 128, pattern: PACK_ID_PATTERN, description: 'Reverse-DNS id, stable across versions: it seeds the deployed node ids.' },
        name: { type: 'string', minLength: 1, maxLength: 128 },
        version: { type: 'string', maxLength: 64, pattern: SEMVER_PATTERN },
        description: text(4096),
        author: text(256),
        requires: {
          type: 'object',
          additionalProperties: false,
          required: ['fieldflow'],
          properties: {
            fieldflow: { type: 'string', minLength: 1, maxLength: 256, description: 'A semver range the running Fieldflow version must satisfy.' },
            nodes: { type: 'array', maxItems: 1000, uniqueItems: true, items: { type: 'string', minLength: 1, maxLength: 256 } },
          },
        },
      },
    },
    parameters: {
      type: 'object',
      additionalProperties: false,
      required: ['type', 'properties'],
      properties: {
        type: { const: 'object' },
        title: text(128),
        description: text(4096),
        properties: {
          type: 'object',
          maxProperties: 100,
          propertyNames: { pattern: PARAMETER_NAME_PATTERN, not: { pattern: '^(NR_|__proto__$)' } },
          additionalProperties: parameterSchema,
        },
        required: { type: 'array', uniqueItems: true, items: { type: 'string' } },
      },
    },
    flows: { type: 'array', minItems: 1, maxItems: 10000, items: flowNodeSchema },
    models: { ...resources, description: 'Device models, each the body of POST /api/v1/models plus a pack-local id.' },
    endpoints: { ...resources, description: 'Notification endpoints (email, SMS, webhook), each the body of POST /api/v1/notifications/endpoints plus a pack-local id.' },
    subscriptions: { ...resources, description: 'Notification subscriptions, each the body of POST /api/v1/notifications/subscriptions plus a pack-local id.' },
    schedules: { ...resources, description: 'Stored schedules, each the body of POST /api/v1/schedules plus a pack-local id.' },
  },
} as const;

/** The body of an export request: which deployed tabs, and the new pack's manifest. */
export const exportRequestSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['tabs', 'manifest'],
  properties: {
    tabs: { type: 'array', minItems: 1, maxItems: 100, uniqueItems: true, items: { type: 'string', minLength: 1, maxLength: 256 }, description: 'Tab ids or labels' },
    manifest: {
      type: 'object',
      additionalProperties: false,
      required: ['id', 'name', 'version'],
      properties: {
        id: { type: 'string', maxLength: 128, pattern: PACK_ID_PATTERN },
        name: { type: 'string', minLength: 1, maxLength: 128 },
        version: { type: 'string', maxLength: 64, pattern: SEMVER_PATTERN },
        description: text(4096),
        author: text(256),
      },
    },
  },
} as const;
