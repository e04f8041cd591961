/** What readPath returns when the path is not in the data: the message says nothing about the field. */
export const MISSING: unique symbol = Symbol('missing');

/** Split a dotted path once, when the trigger is compiled. */
export function compilePath(path: string): string[] {
  return path.split('.');
}

/** The value at a dotted path (array indexes are numbers: `readings.0`), or MISSING. */
export function readPath(data: unknown, parts: readonly string[]): unknown {
  let value = data;
  for (const part of parts) {
    if (typeof value !== 'object' || value === null) return MISSING;
    if (!Object.prototype.hasOwnProperty.call(value, part)) return MISSING;
    value = (value as Record<string, unknown>)[part];
  }
  return value;
}
