/**
 * Group commit: callers submit items; whatever was submitted while the previous write was in
 * flight goes out together in the next write. A write starts as soon as the current synchronous
 * run of the event loop ends (one microtask), so a burst parsed from one socket read shares a
 * write and no caller ever waits for a timer.
 */
export class GroupCommit<T> {
  private pending: Array<{ item: T; resolve: () => void; reject: (err: Error) => void }> = [];
  /** The running drain loop, or null when idle. */
  private active: Promise<void> | null = null;

  /**
   * @param write persists a batch; it resolves only when the batch is durable.
   * @param sizeOf an item's size in bytes, to bound a batch by bytes as well as by count.
   * @param maxBatch the most items one write takes.
   * @param maxBytes the most bytes one write takes (a batch always takes at least one item).
   */
  constructor(
    private readonly write: (items: T[]) => Promise<void>,
    private readonly sizeOf: (item: T) => number = () => 0,
    private readonly maxBatch = 4096,
    private readonly maxBytes = 16 * 1024 * 1024,
  ) {}

  submit(item: T): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.pending.push({ item, resolve, reject });
      if (!this.active) this.active = Promise.resolve().then(() => this.drain());
    });
  }

  /** Resolves once everything submitted so far has been written (or has failed). */
  async flush(): Promise<void> {
    while (this.active) await this.active;
  }

  /** How many pending items the next write takes: up to maxBatch items and maxBytes bytes. */
  private batchLength(): number {
    let bytes = 0;
    const n = Math.min(this.pending.length, this.maxBatch);
    for (let i = 0; i < n; i++) {
      bytes += this.sizeOf(this.pending[i].item);
      if (bytes > this.maxBytes && i > 0) return i;
    }
    return n;
  }

  private async drain(): Promise<void> {
    try {
      while (this.pending.length) {
        const batch = this.pending.splice(0, this.batchLength());
        try {
          await this.write(batch.map((p) => p.item));
          for (const p of batch) p.resolve();
        } catch (err) {
          for (const p of batch) p.reject(err as Error);
        }
      }
    } finally {
      this.active = null;
    }
  }
}
