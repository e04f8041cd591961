import { Footprint, TRIM_TARGET_RATIO, stateOf, type MemoryUsage } from './memory-model';

export interface MemoryOptions {
  /** The budget for retained messages, in bytes. */
  budgetBytes: number;
  /** Whether the budget was set (FIELDFLOW_MEMORY_BUDGET_MB) rather than derived from the heap limit. */
  configured: boolean;
  /** At start, delete the oldest messages of a history that does not fit instead of refusing to start. */
  trimOnStart: boolean;
}

/**
 * The message log's memory against its budget. The log keeps the footprint up to date as segments come and go;
 * the channel service reads it on every append (two numbers) and trims the oldest messages when it is full.
 */
export class MemoryBudget {
  readonly footprint = new Footprint();

  /**
   * @param budgetBytes the budget in force.
   * @param oldest the log's own walk: the exclusive upper bound of the oldest messages that hold `bytes`.
   */
  constructor(
    readonly budgetBytes: number,
    private readonly oldest: (bytes: number) => string | undefined,
  ) {}

  usage(): MemoryUsage {
    const estimatedBytes = Math.max(0, this.footprint.estimatedBytes);
    const ratio = this.budgetBytes > 0 ? estimatedBytes / this.budgetBytes : Infinity;
    return { budgetBytes: this.budgetBytes, estimatedBytes, ratio, state: stateOf(ratio) };
  }

  /**
   * Bytes to trim to get back under the budget (down to 95% of it), counting segments already trimmed and only
   * waiting to be deleted as gone; 0 while under the budget.
   */
  excessBytes(): number {
    const projected = this.footprint.projectedBytes;
    return projected >= this.budgetBytes ? projected - this.budgetBytes * TRIM_TARGET_RATIO : 0;
  }

  /** The id below which the oldest messages hold at least `bytes` (every message when they hold less). */
  oldestCutoff(bytes: number): string | undefined {
    return this.oldest(bytes);
  }
}
