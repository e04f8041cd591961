/**
 * Snowflake message ids: 41 bits of milliseconds since EPOCH, 10 bits of worker id, 12 bits of
 * sequence. They are 63-bit positive integers, written as decimal strings in the API because
 * JSON numbers lose precision past 2^53.
 *
 * In storage the ids are left-padded to ID_WIDTH digits, so that string order is numeric order.
 */

/** 2024-01-01T00:00:00Z. Ids before this time cannot be made. */
export const EPOCH_MS = 1704067200000;
const WORKER_BITS = 10n;
const SEQ_BITS = 12n;
const TIME_SHIFT = WORKER_BITS + SEQ_BITS;
const MAX_SEQ = (1 << Number(SEQ_BITS)) - 1;
export const MAX_WORKER = (1 << Number(WORKER_BITS)) - 1;
const MAX_ID = (1n << 63n) - 1n;
/** 2^63 - 1 has 19 decimal digits. */
export const ID_WIDTH = 19;

const ID_PATTERN = /^[0-9]{1,19}$/;

export class SnowflakeGenerator {
  private lastMs = 0;
  private seq = 0;
  private readonly worker: bigint;

  constructor(workerId = 0, private readonly now: () => number = Date.now) {
    if (!Number.isInteger(workerId) || workerId < 0 || workerId > MAX_WORKER) {
      throw new RangeError(`worker id must be an integer in 0..${MAX_WORKER}`);
    }
    this.worker = BigInt(workerId);
  }

  /** The next id. Strictly greater than every id this generator made or observed. */
  next(): string {
    return this.nextWithTime().id;
  }

  /** The next id and the millisecond it encodes (saves decoding it again). */
  nextWithTime(): { id: string; ms: number } {
    let ms = this.now();
    // A clock that steps back must not make an id go back: hold the time where it was.
    if (ms < this.lastMs) ms = this.lastMs;
    if (ms === this.lastMs) {
      this.seq++;
      if (this.seq > MAX_SEQ) {
        // 4096 ids in one millisecond: borrow the next millisecond rather than wait for it.
        this.lastMs++;
        this.seq = 0;
      }
    } else {
      this.lastMs = ms;
      this.seq = 0;
    }
    return { id: compose(this.lastMs, this.worker, this.seq), ms: this.lastMs };
  }

  /**
   * Move past an id made earlier (say, the newest stored one from before a restart), so a clock
   * that is now behind it cannot produce a duplicate or an out-of-order id.
   */
  observe(id: string): void {
    const value = BigInt(id);
    const ms = Number(value >> TIME_SHIFT) + EPOCH_MS;
    const seq = Number(value & BigInt(MAX_SEQ));
    if (ms > this.lastMs || (ms === this.lastMs && seq > this.seq)) {
      this.lastMs = ms;
      this.seq = seq;
    }
  }
}

function compose(ms: number, worker: bigint, seq: number): string {
  return ((BigInt(ms - EPOCH_MS) << TIME_SHIFT) | (worker << SEQ_BITS) | BigInt(seq)).toString();
}

/** True for a decimal string that is a possible id. */
export function isSnowflake(value: string): boolean {
  return ID_PATTERN.test(value) && BigInt(value) <= MAX_ID;
}

/** The millisecond timestamp an id was made at. */
export function idToTime(id: string): number {
  return Number(BigInt(id) >> TIME_SHIFT) + EPOCH_MS;
}

/** The smallest id that can be made at `ms`: ids >= it were made at or after `ms`. */
export function timeToMinId(ms: number): string {
  const clamped = Math.max(ms, EPOCH_MS);
  const value = BigInt(Math.floor(clamped) - EPOCH_MS) << TIME_SHIFT;
  return (value > MAX_ID ? MAX_ID : value).toString();
}

/** The storage form: fixed width, so that string order is numeric order. */
export function padId(id: string): string {
  return id.padStart(ID_WIDTH, '0');
}

export function unpadId(padded: string): string {
  let i = 0;
  while (i < padded.length - 1 && padded.charCodeAt(i) === 48) i++;
  return padded.slice(i);
}

/**
 * An id as two exact numbers: its millisecond (a double holds it exactly) and its low 22 bits
 * (worker and sequence). Comparing (ms, low) pairs orders ids like their values, with no strings.
 */
export function splitId(id: string): { ms: number; low: number } {
  const value = BigInt(id);
  return { ms: Number(value >> TIME_SHIFT) + EPOCH_MS, low: Number(value & ((1n << TIME_SHIFT) - 1n)) };
}

export function joinId(ms: number, low: number): string {
  return ((BigInt(ms - EPOCH_MS) << TIME_SHIFT) | BigInt(low)).toString();
}
