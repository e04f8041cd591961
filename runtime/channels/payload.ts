import { Errors } from '../errors';

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
  assertDepth(data, limits.maxDepth);
  return { data, json: text };
}

/** Data from a flow or an API call: serialise it and apply the same limits. */
export function serializeData(data: unknown, limits: PayloadLimits): ParsedPayload {
  if (data === undefined || typeof data === 'function' || typeof data === 'symbol' || typeof data === 'bigint') {
    throw Errors.MALFORMED_JSON(`A message must be a JSON value; got ${typeof data}`);
  }
  assertDepth(data, limits.maxDepth);
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

/** Recursion here is bounded by maxDepth, so a hostile payload cannot exhaust the stack. */
function assertDepth(value: unknown, maxDepth: number, depth = 0): void {
  if (typeof value !== 'object' || value === null) return;
  if (depth >= maxDepth) {
    throw Errors.PAYLOAD_TOO_DEEP(`Payload nests objects and arrays deeper than ${maxDepth} levels`);
  }
  if (Array.isArray(value)) {
    for (const item of value) assertDepth(item, maxDepth, depth + 1);
  } else {
    for (const key in value) assertDepth((value as Record<string, unknown>)[key], maxDepth, depth + 1);
  }
}
