import { Errors } from '../errors';
import { isSnowflake, timeToMinId, EPOCH_MS } from '../ids/snowflake';

/** A history bound: a message id (decimal string), or a time (ISO string, Date, or ms since the epoch). */
export type Bound = string | number | Date;

/**
 * Turn a history bound into an exclusive id bound for the log.
 * Digit-only strings are ids; other strings are parsed as times. A time bound is inclusive on the
 * `after` side and exclusive on the `before` side, so consecutive windows neither overlap nor gap.
 */
export function resolveBound(value: Bound | undefined, side: 'after' | 'before'): string | undefined {
  if (value === undefined || value === '') return undefined;
  let ms: number;
  if (value instanceof Date) {
    ms = value.getTime();
  } else if (typeof value === 'number') {
    ms = value;
  } else if (typeof value === 'string' && /^[0-9]+$/.test(value)) {
    if (!isSnowflake(value)) throw invalid(side, 'is not a message id');
    return value;
  } else if (typeof value === 'string') {
    ms = Date.parse(value);
  } else {
    throw invalid(side, 'must be a message id or a time');
  }
  if (!Number.isFinite(ms)) throw invalid(side, 'is neither a message id nor a valid time');
  if (side === 'before') return timeToMinId(ms);
  // ids >= minId(ms) were made at or after ms: the exclusive bound is one below it.
  if (ms <= EPOCH_MS) return undefined;
  return (BigInt(timeToMinId(ms)) - 1n).toString();
}

function invalid(side: string, why: string) {
  return Errors.INVALID_QUERY(`"${side}" ${why}`, { errors: [{ path: `/${side}`, message: why }] });
}
