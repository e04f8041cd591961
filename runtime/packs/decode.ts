import { Errors } from '../errors';
import { assertFiniteNumbers } from '../finite-numbers';

/** What reading a pack file's bytes gave: its text or JSON value, or why it is unusable. */
export type Decoded = { ok: true; value: unknown } | { ok: false; message: string };

/** UTF-8 text (or, with `json`, its JSON value), for the pack file and for the files of a folder pack. */
export function decodePackText(bytes: Buffer | string, json: boolean): Decoded {
  let text: string;
  try {
    text = typeof bytes === 'string' ? bytes : new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return { ok: false, message: 'is not UTF-8 text' };
  }
  // Editors on Windows save a byte order mark; it is not JSON but means nothing either.
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  if (!json) return { ok: true, value: text };
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch (err) {
    return { ok: false, message: `is not JSON: ${(err as Error).message}` };
  }
}

/** The pack file's JSON value, or FF_MALFORMED_JSON (FF_NUMBER_OUT_OF_RANGE for `1e999`). */
export function packJson(bytes: Buffer | string): unknown {
  const read = decodePackText(bytes, true);
  if (!read.ok) throw Errors.MALFORMED_JSON(`The pack file ${read.message}`, { errors: [{ path: '/', message: read.message }] });
  assertFiniteNumbers(read.value);
  return read.value;
}

/** FF_PACK_TOO_LARGE, at the JSON path of the part that went over. */
export function packTooLarge(size: number, maxBytes: number, at = '/', what = 'The pack file'): Error {
  const message = `is ${size} bytes; the limit is ${maxBytes}`;
  return Errors.PACK_TOO_LARGE(`${what} ${message}`, { errors: [{ path: at, message }] });
}
