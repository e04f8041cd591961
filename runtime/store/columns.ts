/**
 * One stream's index: its messages in id order as columns of numbers (typed arrays), so that a
 * retained message costs about 20 bytes here and no object the garbage collector must visit.
 *
 * Each row is (ms, low) = the message id split into two exact numbers, the number of the segment
 * that stores the message, and its position in that segment. Rows are appended at the end and
 * removed from the front (retention only ever trims a stream's oldest messages).
 */
export class StreamColumns {
  private ms = new Float64Array(8);
  private low = new Uint32Array(8);
  private seg = new Uint32Array(8);
  private pos = new Uint32Array(8);
  private start = 0;
  private end = 0;

  get length(): number {
    return this.end - this.start;
  }

  push(ms: number, low: number, seg: number, pos: number): void {
    if (this.end === this.ms.length) this.grow();
    const i = this.end++;
    this.ms[i] = ms;
    this.low[i] = low;
    this.seg[i] = seg;
    this.pos[i] = pos;
  }

  msAt(i: number): number {
    return this.ms[this.start + i];
  }

  lowAt(i: number): number {
    return this.low[this.start + i];
  }

  segAt(i: number): number {
    return this.seg[this.start + i];
  }

  posAt(i: number): number {
    return this.pos[this.start + i];
  }

  /** Point row `i` at another place (its segment was rewritten). */
  move(i: number, seg: number, pos: number): void {
    this.seg[this.start + i] = seg;
    this.pos[this.start + i] = pos;
  }

  /** Drop the `n` oldest rows; calls `onRemoved(seg)` for each. */
  shift(n: number, onRemoved: (seg: number) => void): number {
    const count = Math.min(n, this.length);
    for (let i = 0; i < count; i++) onRemoved(this.seg[this.start + i]);
    this.start += count;
    if (this.start === this.end) {
      this.start = this.end = 0;
    } else if (this.start > this.ms.length / 2) {
      // Give memory back when a stream shrank for good (its retention was lowered, say).
      let capacity = this.ms.length;
      while (capacity > 8 && this.length < capacity / 4) capacity /= 2;
      this.compact(capacity);
    }
    return count;
  }

  /** First row whose id is >= (ms, low). */
  lowerBound(ms: number, low: number): number {
    return this.search(ms, low, false);
  }

  /** First row whose id is > (ms, low). */
  upperBound(ms: number, low: number): number {
    return this.search(ms, low, true);
  }

  /** Binary search for the first row past (ms, low), counting an equal row as past it unless `skipEqual`. */
  private search(ms: number, low: number, skipEqual: boolean): number {
    let lo = 0;
    let hi = this.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const m = this.ms[this.start + mid];
      const l = this.low[this.start + mid];
      const before = m < ms || (m === ms && (skipEqual ? l <= low : l < low));
      if (before) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  private grow(): void {
    // Reuse the space freed at the front before asking for more.
    this.compact(this.start > 0 && this.length < this.ms.length / 2 ? this.ms.length : this.ms.length * 2);
  }

  private compact(capacity: number): void {
    const n = this.length;
    const move = <T extends Float64Array | Uint32Array>(from: T, to: T): T => {
      to.set(from.subarray(this.start, this.end));
      return to;
    };
    this.ms = move(this.ms, new Float64Array(capacity));
    this.low = move(this.low, new Uint32Array(capacity));
    this.seg = move(this.seg, new Uint32Array(capacity));
    this.pos = move(this.pos, new Uint32Array(capacity));
    this.start = 0;
    this.end = n;
  }
}
