import Ajv, { type ValidateFunction } from 'ajv';
import type { Request } from 'express';
import { Errors, toFieldErrors } from '../errors';

export { toFieldErrors };

const bodies = new Ajv({ allErrors: true, allowUnionTypes: true });
// Query strings are text: let "limit=10" satisfy an integer schema.
const queries = new Ajv({ allErrors: true, allowUnionTypes: true, coerceTypes: true });

const cache = new WeakMap<object, ValidateFunction>();

function compiled(ajv: Ajv, schema: object): ValidateFunction {
  let fn = cache.get(schema);
  if (!fn) cache.set(schema, (fn = ajv.compile(schema)));
  return fn;
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
