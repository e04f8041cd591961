import Ajv, { type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import type { FieldError } from '../errors';

/** The largest config schema a model may hold, as compact JSON. */
export const MAX_CONFIG_SCHEMA_BYTES = 64 * 1024;

/** The only `$schema` values accepted: ajv's default draft, with or without the empty fragment. */
const DRAFT_07 = new Set(['http://json-schema.org/draft-07/schema#', 'http://json-schema.org/draft-07/schema']);

/**
 * Checks schemas against the draft-07 meta-schema. Shared, so its meta validator is compiled once;
 * it never compiles a model's schema, so nothing of one model is registered in it.
 */
const meta = new Ajv({ allErrors: true, logger: false });

/**
 * A fresh ajv per schema: a schema's `$id`s are registered in the instance that compiles it, and
 * must neither collide with nor be reachable from another model's schema.
 */
function schemaAjv(): Ajv {
  const ajv = new Ajv({
    allErrors: true,
    allowUnionTypes: true,
    // Refusing `properties` without `type: "object"` would refuse most schemas written by hand.
    strictTypes: false,
    strictTuples: false,
    validateSchema: false,
    logger: false,
  });
  // Formats a device configuration is likely to use; any other is a compile error (strict mode), not a check that never runs.
  return addFormats(ajv, ['date', 'time', 'date-time', 'email', 'hostname', 'ipv4', 'ipv6', 'uri', 'uuid', 'regex']);
}

export type CompiledSchema = { validate: ValidateFunction; errors?: undefined } | { validate?: undefined; errors: FieldError[] };

/**
 * Compile a device config schema, or say why it cannot be one, with JSON paths under `at`.
 * Checked: size, `$schema`, the draft-07 meta-schema, then ajv's own compile (unknown keywords and
 * formats, unresolvable `$ref`s, invalid patterns).
 */
export function compileConfigSchema(schema: Record<string, unknown>, at = '/configSchema'): CompiledSchema {
  const fail = (message: string, path = at): CompiledSchema => ({ errors: [{ path, message }] });
  let bytes: number;
  try {
    bytes = Buffer.byteLength(JSON.stringify(schema));
  } catch {
    return fail('must be JSON');
  }
  if (bytes > MAX_CONFIG_SCHEMA_BYTES) return fail(`must be at most ${MAX_CONFIG_SCHEMA_BYTES} bytes as JSON; it is ${bytes}`);
  if (schema.$schema !== undefined && !DRAFT_07.has(schema.$schema as string)) {
    return fail('must be "http://json-schema.org/draft-07/schema#": draft-07 is the only draft supported', `${at}/$schema`);
  }
  try {
    if (!meta.validateSchema(schema)) {
      const errors: FieldError[] = [];
      // The meta-schema reports one failure several ways (enum, type, anyOf); the first says it best.
      for (const e of meta.errors ?? []) {
        const path = at + e.instancePath;
        if (!errors.some((x) => x.path === path)) errors.push({ path, message: e.message ?? 'is invalid' });
      }
      return { errors };
    }
    const validate = schemaAjv().compile(schema);
    // An async validator returns a promise, which is truthy: every configuration would pass.
    if ((validate as { $async?: boolean }).$async) return fail('must not be asynchronous ($async)');
    return { validate };
  } catch (err) {
    // Too deep to compile shows as a RangeError; say so rather than "maximum call stack size".
    if (err instanceof RangeError) return fail('is nested too deeply to compile');
    return fail(`does not compile: ${String((err as Error).message).slice(0, 300)}`);
  }
}
