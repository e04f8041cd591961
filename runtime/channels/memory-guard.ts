import type { Logger } from '../log';
import type { MessageLog } from '../store/message-log';
import type { RetentionTrimmer } from './retention';
import { idToTime } from '../ids/snowflake';
import { REARM_RATIO, WARN_RATIO, mib, type MemoryUsage } from '../store/memory-model';

export interface MemoryGuardDeps {
  log: MessageLog;
  trimmer: RetentionTrimmer;
  logger: Logger;
}

/**
 * Keeps the message history within its memory budget: warns once when it reaches 80% of it, and from 100% trims
 * the oldest messages of every channel (whatever their retention) back to 95%, saying in the log what went and why.
 * Checked on every append, where it costs a division unless there is something to do.
 */
export class MemoryGuard {
  private warned = false;
  private trimming = false;
  /**
   * The estimate when a trim for the budget last removed nothing (-1: it did not), so that is said once and tried
   * again only once the history grew by 1% of the budget, not on every message.
   */
  private stuckAt = -1;

  constructor(private readonly deps: MemoryGuardDeps) {}

  /** The history's memory against its budget; all zero for a store that keeps history on disk. */
  usage(): MemoryUsage {
    return this.deps.log.memory?.usage() ?? { budgetBytes: 0, estimatedBytes: 0, ratio: 0, state: 'ok' };
  }

  check(): void {
    const memory = this.deps.log.memory;
    if (!memory) return;
    const ratio = memory.footprint.estimatedBytes / memory.budgetBytes;
    if (!this.warned && ratio >= WARN_RATIO) {
      this.warned = true;
      this.deps.logger.warn(
        `the message history takes ${Math.floor(ratio * 100)}% of its memory budget; from 100% its oldest messages are trimmed. Lower the retention, raise FIELDFLOW_MEMORY_BUDGET_MB or the heap limit (--max-old-space-size)`,
        this.figures(),
      );
    } else if (this.warned && ratio < REARM_RATIO) {
      this.warned = false;
    }
    if (this.trimming || memory.excessBytes() === 0) return;
    if (this.stuckAt >= 0 && memory.footprint.estimatedBytes < this.stuckAt + memory.budgetBytes / 100) return;
    void this.trim();
  }

  private async trim(): Promise<void> {
    const memory = this.deps.log.memory!;
    const cutoff = memory.oldestCutoff(memory.excessBytes());
    if (cutoff === undefined) return;
    this.trimming = true;
    try {
      const { removed, channels } = await this.deps.trimmer.trimBefore(cutoff);
      if (removed > 0) {
        this.stuckAt = -1;
        this.deps.logger.warn('the message history reached its memory budget: trimmed the oldest messages of every channel', {
          removed,
          channels,
          before: new Date(idToTime(cutoff)).toISOString(),
          budget: mib(memory.budgetBytes),
          estimatedAfter: mib(memory.footprint.projectedBytes),
        });
      } else {
        if (this.stuckAt < 0) this.deps.logger.error('the message history is over its memory budget and none of it could be trimmed (the newest messages wait for their aggregate checkpoint)', this.figures());
        this.stuckAt = memory.footprint.estimatedBytes;
      }
    } catch (err) {
      this.deps.logger.error('trimming the message history for its memory budget failed', { error: (err as Error).message });
      this.stuckAt = memory.footprint.estimatedBytes;
    } finally {
      this.trimming = false;
    }
    // Messages that arrived while it trimmed may have filled the budget again; nothing else looks until the next one.
    if (this.stuckAt < 0) this.check();
  }

  private figures(): Record<string, string> {
    const { estimatedBytes, budgetBytes } = this.usage();
    return { estimated: mib(estimatedBytes), budget: mib(budgetBytes) };
  }
}
