import { Errors, type FieldflowError } from './errors';

/**
 * JSON has no limit on a number's exponent, but JSON.parse turns one past a 64-bit float (`1e999`)
 * into Infinity, which JSON.stringify writes back as `null`: stored, it would read back as null
 * while memory held Infinity. JSON also has no NaN. Values like these are refused at the boundary.
 */

/** Longest path quoted in an error: keys come from the client. */
const MAX_PATH = 256;

function escapeKey(key: string): string {
  return key.replace(/~/g, '~0').replace(/\//g, '~1');
}

/**
 * The JSON Pointer (`/` for the value itself) of the first number in `value` that is not finite,
 * or null when there is none. Iterative, because a request body may nest deeper than the stack.
 */
export function nonFiniteNumberPath(value: unknown): string | null {
  const stack: Array<{ value: unknown; path: string }> = [{ value, path: '' }];
  while (stack.length > 0) {
    const item = stack.pop()!;
    const v = item.value;
    if (typeof v === 'number') {
      if (!Number.isFinite(v)) return item.path === '' ? '/' : item.path.slice(0, MAX_PATH);
    } else if (Array.isArray(v)) {
      for (let i = v.length - 1; i >= 0; i--) stack.push({ value: v[i], path: `${item.path}/${i}` });
    } else if (typeof v === 'object' && v !== null) {
      const keys = Object.keys(v);
      for (let i = keys.length - 1; i >= 0; i--) stack.push({ value: (v as Record<string, unknown>)[keys[i]], path: `${item.path}/${escapeKey(keys[i])}` });
    }
  }
  return null;
}

/** What is wrong with a number JSON cannot store, said the same way wherever one is refused. */
export const OUT_OF_RANGE_MESSAGE = 'is not a finite 64-bit float (beyond ±1.7976931348623157e308, or NaN)';

/** FF_NUMBER_OUT_OF_RANGE for the number at `path`. */
export function numberOutOfRange(path: string): FieldflowError {
  return Errors.NUMBER_OUT_OF_RANGE(`The number at ${path} ${OUT_OF_RANGE_MESSAGE}`, { errors: [{ path, message: OUT_OF_RANGE_MESSAGE }] });
}

/** Throw FF_NUMBER_OUT_OF_RANGE when a parsed value holds a number JSON cannot store. */
export function assertFiniteNumbers(value: unknown): void {
  const path = nonFiniteNumberPath(value);
  if (path !== null) throw numberOutOfRange(path);
}
