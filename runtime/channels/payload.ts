import { Errors } from '../errors';
import { nonFiniteNumberPath, numberOutOfRange } from '../finite-numbers';

export interface PayloadLimits {
  maxPayloadBytes: number;
  maxDepth: number;
}

export interface ParsedPayload {
  data: unknown;
  /** The data as JSON text, as it is stored. */
  json: string;
}

/**
 * Turn a message body from MQTT or HTTP into data. The checks are the same for both transports,
 * so a payload is accepted or refused with the same error code whichever way it came.
 */
export function parsePayload(raw: Buffer | string, limits: PayloadLimits): ParsedPayload {
  const size = typeof raw === 'string' ? Buffer.byteLength(raw) : raw.length;
  if (size > limits.maxPayloadBytes) {
    throw Errors.PAYLOAD_TOO_LARGE(`Payload is ${size} bytes; the limit is ${limits.maxPayloadBytes}`);
  }
  let text = typeof raw === 'string' ? raw : raw.toString('utf8');
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  text = text.trim();
  if (text === '') throw Errors.MALFORMED_JSON('Payload is empty; a message must be a JSON value');
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    // The parser's message quotes the input; keep payload text out of errors and logs.
    throw Errors.MALFORMED_JSON('Payload is not valid JSON');
  }
  checkValues(data, limits.maxDepth);
  return { data, json: text };
}

/** Data from a flow or an API call: serialise it and apply the same limits. */
export function serializeData(data: unknown, limits: PayloadLimits): ParsedPayload {
  if (data === undefined || typeof data === 'function' || typeof data === 'symbol' || typeof data === 'bigint') {
    throw Errors.MALFORMED_JSON(`A message must be a JSON value; got ${typeof data}`);
  }
  checkValues(data, limits.maxDepth);
  let json: string;
  try {
    json = JSON.stringify(data);
  } catch (err) {
    throw Errors.MALFORMED_JSON(`Data cannot be serialised as JSON: ${(err as Error).message}`);
  }
  const size = Buffer.byteLength(json);
  if (size > limits.maxPayloadBytes) {
    throw Errors.PAYLOAD_TOO_LARGE(`Payload is ${size} bytes; the limit is ${limits.maxPayloadBytes}`);
  }
  // Round-trip so what is merged and emitted is exactly what is stored (no Dates, no undefined).
  return { data: JSON.parse(json), json };
}

/** Thrown inside the walk; the path is worked out only once something is wrong. */
const NOT_FINITE = Symbol('not finite');

/**
 * One walk for both checks on every message: nesting within maxDepth, and numbers JSON can store
 * (`1e999` parses as Infinity, which would be stored as null while the aggregate held Infinity).
 */
function checkValues(data: unknown, maxDepth: number): void {
  try {
    walk(data, maxDepth, 0);
  } catch (err) {
    if (err === NOT_FINITE) throw numberOutOfRange(nonFiniteNumberPath(data) ?? '/');
    throw err;
  }
}

/** Recursion here is bounded by maxDepth, so a hostile payload cannot exhaust the stack. */
function walk(value: unknown, maxDepth: number, depth: number): void {
  if (typeof value !== 'object' || value === null) {
    if (typeof value === 'number' && !Number.isFinite(value)) throw NOT_FINITE;
    return;
  }
  if (depth >= maxDepth) {
    throw Errors.PAYLOAD_TOO_DEEP(`Payload nests objects and arrays deeper than ${maxDepth} levels`);
  }
  if (Array.isArray(value)) {
    for (const item of value) walk(item, maxDepth, depth + 1);
  } else {
    for (const key in value) walk((value as Record<string, unknown>)[key], maxDepth, depth + 1);
  }
}
