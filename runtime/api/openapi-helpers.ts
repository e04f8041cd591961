/** Building blocks of the OpenAPI document. */

/** Draft-07 schemas in OpenAPI 3.0's dialect: `type: [x, 'null']` is `nullable`, `const` is a one-value enum. */
export function oas(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(oas);
  if (typeof schema !== 'object' || schema === null) return schema;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(schema)) {
    if (k === 'type' && Array.isArray(v)) {
      const types = v.filter((t) => t !== 'null');
      out.type = types[0];
      if (types.length !== v.length) out.nullable = true;
    } else if (k === 'const') {
      out.enum = [v];
    } else if (k === 'exclusiveMinimum' && typeof v === 'number') {
      // Draft-07's number form is OpenAPI 3.0's minimum plus a boolean.
      out.minimum = v;
      out.exclusiveMinimum = true;
    } else if (k === 'propertyNames') {
      out['x-propertyNames'] = v;
    } else {
      out[k] = oas(v);
    }
  }
  return out;
}

export const json = (schema: unknown) => ({ 'application/json': { schema } });
export const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
export const problem = (description: string) => ({ description, content: { 'application/problem+json': { schema: ref('Problem') } } });
export const ok = (description: string, schema: unknown) => ({ description, content: json(schema) });

export const errors = {
  400: problem('Invalid input (FF_VALIDATION, FF_INVALID_QUERY, FF_MALFORMED_JSON, ...)'),
  401: problem('Missing or invalid credentials (FF_AUTH_REQUIRED, FF_AUTH_INVALID)'),
  404: problem('Unknown device or channel (FF_DEVICE_NOT_FOUND, FF_CHANNEL_NOT_FOUND)'),
};

export function queryParams(schema: { properties: Record<string, unknown> }) {
  return Object.entries(schema.properties).map(([name, s]) => ({ name, in: 'query', required: false, schema: oas(s) }));
}

export const idParam = (what: string) => ({ name: 'id', in: 'path', required: true, schema: { type: 'string' }, description: `The ${what} id` });
export const list = (item: string) => ({ type: 'object', properties: { items: { type: 'array', items: ref(item) }, next: { type: 'string', nullable: true } } });
export const notFound = (code: string) => problem(`Unknown id (${code})`);
