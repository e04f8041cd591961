import fs from 'node:fs';
import { isAscii } from 'node:buffer';
import { segmentBytes } from './memory-model';

/**
 * Reading a message file without loading it: what its segments will cost on the heap once NeDB loads them, so a
 * start can refuse (or trim) a history that would not fit before it runs out of memory. The file is read line by
 * line in a fixed buffer and nothing of a line is kept but its segment's id, message count and modelled bytes, in
 * typed arrays (outside the heap).
 *
 * NeDB appends a line per insert, update and removal and keeps the last one per `_id`, so the scan does the same:
 * a line for an id already seen replaces it, a `$$deleted` line takes it out. Ids of new segments only grow, so the
 * table stays sorted and a replaced or deleted id is found by binary search.
 */

const ID_WIDTH = 19;
const SEGMENT_PREFIX = Buffer.from('{"_id":"', 'latin1');
const DELETED_PREFIX = Buffer.from('{"$$deleted":true,"_id":"', 'latin1');
const KEYS_FIELD = Buffer.from('"k":"', 'latin1');
const ENDS_FIELD = Buffer.from('"o":[', 'latin1');
const QUOTE = 0x22;
const COMMA = 0x2c;
const CLOSE_BRACKET = 0x5d;
const NEWLINE = 0x0a;
/** UTF-8 lead bytes from here on start characters above U+00FF, which V8 stores in two bytes. */
const TWO_BYTE_LEAD = 0xc4;
const READ_CHUNK = 4 * 1024 * 1024;

/** The live segments of one message file, in id order. */
export class SegmentTable {
  length = 0;
  /** The id split in two exact numbers: its first 10 digits and its last 9. */
  private hi = new Float64Array(1024);
  private lo = new Uint32Array(1024);
  private msgs = new Uint32Array(1024);
  private cost = new Float64Array(1024);
  private dead = new Uint8Array(1024);
  liveSegments = 0;
  liveMessages = 0;
  liveBytes = 0;

  idAt(i: number): string {
    return String(this.hi[i]).padStart(10, '0') + String(this.lo[i]).padStart(9, '0');
  }

  messagesAt(i: number): number {
    return this.dead[i] ? 0 : this.msgs[i];
  }

  bytesAt(i: number): number {
    return this.dead[i] ? 0 : this.cost[i];
  }

  /** A segment line: a new segment, or a new version of one (a rewrite). */
  put(hi: number, lo: number, messages: number, bytes: number): void {
    const at = this.find(hi, lo);
    if (at >= 0) {
      this.drop(at);
      this.dead[at] = 0;
      this.set(at, messages, bytes);
      return;
    }
    if (this.length > 0 && !this.before(this.length - 1, hi, lo)) {
      // Out of order, which NeDB allows but the log never writes: keep the table sorted the slow way.
      this.insertAt(this.lowerBound(hi, lo), hi, lo, messages, bytes);
      return;
    }
    this.insertAt(this.length, hi, lo, messages, bytes);
  }

  /** A `$$deleted` line. */
  remove(hi: number, lo: number): void {
    const at = this.find(hi, lo);
    if (at >= 0) this.drop(at);
  }

  private set(i: number, messages: number, bytes: number): void {
    this.msgs[i] = messages;
    this.cost[i] = bytes;
    this.liveSegments++;
    this.liveMessages += messages;
    this.liveBytes += bytes;
  }

  private drop(i: number): void {
    if (this.dead[i]) return;
    this.dead[i] = 1;
    this.liveSegments--;
    this.liveMessages -= this.msgs[i];
    this.liveBytes -= this.cost[i];
  }

  private insertAt(i: number, hi: number, lo: number, messages: number, bytes: number): void {
    if (this.length === this.hi.length) this.grow();
    if (i < this.length) {
      this.hi.copyWithin(i + 1, i, this.length);
      this.lo.copyWithin(i + 1, i, this.length);
      this.msgs.copyWithin(i + 1, i, this.length);
      this.cost.copyWithin(i + 1, i, this.length);
      this.dead.copyWithin(i + 1, i, this.length);
    }
    this.hi[i] = hi;
    this.lo[i] = lo;
    this.dead[i] = 0;
    this.length++;
    this.set(i, messages, bytes);
  }

  private grow(): void {
    const n = this.hi.length * 2;
    const grown = <T extends Float64Array | Uint32Array | Uint8Array>(a: T, to: T): T => (to.set(a), to);
    this.hi = grown(this.hi, new Float64Array(n));
    this.lo = grown(this.lo, new Uint32Array(n));
    this.msgs = grown(this.msgs, new Uint32Array(n));
    this.cost = grown(this.cost, new Float64Array(n));
    this.dead = grown(this.dead, new Uint8Array(n));
  }

  private before(i: number, hi: number, lo: number): boolean {
    return this.hi[i] < hi || (this.hi[i] === hi && this.lo[i] < lo);
  }

  private lowerBound(hi: number, lo: number): number {
    let a = 0;
    let b = this.length;
    while (a < b) {
      const mid = (a + b) >>> 1;
      if (this.before(mid, hi, lo)) a = mid + 1;
      else b = mid;
    }
    return a;
  }

  private find(hi: number, lo: number): number {
    const i = this.lowerBound(hi, lo);
    return i < this.length && this.hi[i] === hi && this.lo[i] === lo ? i : -1;
  }
}

/** What a message file will hold once loaded. */
export interface FileScan {
  file: string;
  /** Its size on disk. */
  fileBytes: number;
  segments: number;
  messages: number;
  /** Its segments' heap bytes by the memory model. */
  estimatedBytes: number;
  table: SegmentTable;
}

/** Scan one message file (a missing file is empty). A line cut off at the end is skipped, as loading cuts it. */
export function scanMessageFile(file: string): FileScan {
  const table = new SegmentTable();
  let fileBytes = 0;
  if (fs.existsSync(file)) {
    fileBytes = fs.statSync(file).size;
    forEachLine(file, (buf, start, end) => scanLine(table, buf, start, end));
  }
  return { file, fileBytes, segments: table.liveSegments, messages: table.liveMessages, estimatedBytes: table.liveBytes, table };
}

/** The segment id of a line at `at` (19 digits and a closing quote), as two numbers; null if it is not one. */
function idAt(buf: Buffer, at: number, end: number): { hi: number; lo: number } | null {
  if (at + ID_WIDTH >= end || buf[at + ID_WIDTH] !== QUOTE) return null;
  for (let i = at; i < at + ID_WIDTH; i++) if (buf[i] < 0x30 || buf[i] > 0x39) return null;
  return { hi: Number(buf.toString('latin1', at, at + 10)), lo: Number(buf.toString('latin1', at + 10, at + ID_WIDTH)) };
}

function startsWith(buf: Buffer, start: number, end: number, prefix: Buffer): boolean {
  return end - start >= prefix.length && buf.compare(prefix, 0, prefix.length, start, start + prefix.length) === 0;
}

/** The segment id a line is about (a segment or its removal), or null for other lines (horizons). */
export function lineId(buf: Buffer, start: number, end: number): { hi: number; lo: number; deleted: boolean } | null {
  if (startsWith(buf, start, end, SEGMENT_PREFIX)) {
    const id = idAt(buf, start + SEGMENT_PREFIX.length, end);
    return id && { ...id, deleted: false };
  }
  if (startsWith(buf, start, end, DELETED_PREFIX)) {
    const id = idAt(buf, start + DELETED_PREFIX.length, end);
    return id && { ...id, deleted: true };
  }
  return null;
}

function scanLine(table: SegmentTable, buf: Buffer, start: number, end: number): void {
  const id = lineId(buf, start, end);
  if (!id) return;
  if (id.deleted) return table.remove(id.hi, id.lo);
  // The keys are 19 digits per message; the text ends ("o") are numbers, the last one the length of all texts.
  // Neither can be mistaken inside the texts, where every quote is escaped.
  const keys = buf.indexOf(KEYS_FIELD, start);
  if (keys < 0 || keys >= end) return;
  const keysEnd = buf.indexOf(QUOTE, keys + KEYS_FIELD.length);
  const ends = buf.lastIndexOf(ENDS_FIELD, end);
  if (keysEnd < 0 || ends < keysEnd) return;
  const close = buf.indexOf(CLOSE_BRACKET, ends);
  if (close < 0 || close > end) return;
  const lastComma = buf.lastIndexOf(COMMA, close);
  const textChars = Number(buf.toString('latin1', Math.max(lastComma + 1, ends + ENDS_FIELD.length), close));
  const messages = (keysEnd - keys - KEYS_FIELD.length) / ID_WIDTH;
  if (!Number.isInteger(messages) || messages === 0 || !Number.isInteger(textChars)) return;
  const textBytes = twoByte(buf, start, end) ? 2 * textChars : textChars;
  table.put(id.hi, id.lo, messages, segmentBytes(messages, textBytes));
}

function twoByte(buf: Buffer, start: number, end: number): boolean {
  const line = buf.subarray(start, end);
  if (isAscii(line)) return false;
  for (let i = 0; i < line.length; i++) if (line[i] >= TWO_BYTE_LEAD && line[i] < 0xf8) return true;
  return false;
}

/**
 * Call `visit` with each complete line of a file (without its newline), read in a fixed buffer that grows only
 * for a line longer than it. A last line without a newline is not visited.
 */
export function forEachLine(file: string, visit: (buf: Buffer, start: number, end: number) => void): void {
  const fd = fs.openSync(file, 'r');
  try {
    let buf = Buffer.allocUnsafe(READ_CHUNK);
    let filled = 0;
    for (;;) {
      if (filled === buf.length) {
        const bigger = Buffer.allocUnsafe(buf.length * 2);
        buf.copy(bigger, 0, 0, filled);
        buf = bigger;
      }
      const n = fs.readSync(fd, buf, filled, buf.length - filled, null);
      if (n === 0) return;
      filled += n;
      let start = 0;
      for (;;) {
        const nl = buf.indexOf(NEWLINE, start);
        if (nl < 0 || nl >= filled) break;
        visit(buf, start, nl);
        start = nl + 1;
      }
      buf.copy(buf, 0, start, filled);
      filled -= start;
    }
  } finally {
    fs.closeSync(fd);
  }
}
