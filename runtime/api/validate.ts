import Ajv, { type ErrorObject, type ValidateFunction } from 'ajv';
import type { Request } from 'express';
import { Errors, type FieldError } from '../errors';

const bodies = new Ajv({ allErrors: true, allowUnionTypes: true });
// Query strings are text: let "limit=10" satisfy an integer schema.
const queries = new Ajv({ allErrors: true, allowUnionTypes: true, coerceTypes: true });

const cache = new WeakMap<object, ValidateFunction>();

function compiled(ajv: Ajv, schema: object): ValidateFunction {
  let fn = cache.get(schema);
  if (!fn) cache.set(schema, (fn = ajv.compile(schema)));
  return fn;
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

/** Validate a JSON body; returns it typed, or throws FF_VALIDATION listing every failing path. */
export function validBody<T>(req: Request, schema: object): T {
  const fn = compiled(bodies, schema);
  if (!fn(req.body)) {
    const errors = toFieldErrors(fn.errors);
    throw Errors.VALIDATION(errors.map((e) => `${e.path} ${e.message}`).join('; '), { errors });
  }
  return req.body as T;
}

/** Validate (and coerce) the query string; throws FF_INVALID_QUERY. */
export function validQuery<T>(req: Request, schema: object): T {
  const query = { ...req.query };
  const fn = compiled(queries, schema);
  if (!fn(query)) {
    const errors = toFieldErrors(fn.errors);
    throw Errors.INVALID_QUERY(errors.map((e) => `${e.path} ${e.message}`).join('; '), { errors });
  }
  return query as T;
}
