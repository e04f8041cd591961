import { setImmediate as yieldToLoop } from 'node:timers/promises';
import type { MessageLog } from '../store/message-log';
import type { CheckpointStore } from './checkpoints';
import type { Logger } from '../log';
import { timeToMinId } from '../ids/snowflake';

export interface Retention {
  maxAgeSeconds: number;
  maxCount: number;
}

export type RetentionOverrides = Partial<Retention>;

export interface TrimmerDeps {
  log: MessageLog;
  checkpoints: CheckpointStore;
  retentionOf: (stream: string) => Retention;
  logger: Logger;
  now: () => number;
  intervalSeconds: number;
}

/** Removals per NeDB call: bounds the size of one delete append and the time between yields. */
const CHUNK = 10_000;

/**
 * Background retention. A sweep over every stream runs on an interval; a stream that grows well
 * past its count limit between sweeps is trimmed soon after, so memory stays bounded by roughly
 * (limit + slack) messages per stream. Trimming never passes a stream's aggregate checkpoint,
 * because the messages after it are what rebuilds the aggregate after a crash.
 */
export class RetentionTrimmer {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> = Promise.resolve();
  private readonly urgent = new Set<string>();
  private urgentScheduled = false;
  private stopped = false;

  constructor(private readonly deps: TrimmerDeps) {}

  start(): void {
    this.timer = setInterval(() => void this.sweep(), this.deps.intervalSeconds * 1000);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await this.running;
  }

  /** Called on each append: cheap unless the stream is well over its count limit. */
  nudge(stream: string, maxCount: number): void {
    if (this.deps.log.count(stream) <= maxCount + Math.max(100, Math.floor(maxCount / 10))) return;
    if (this.urgent.has(stream)) return;
    this.urgent.add(stream);
    if (this.urgentScheduled) return;
    this.urgentScheduled = true;
    this.schedule(async () => {
      this.urgentScheduled = false;
      const streams = [...this.urgent];
      this.urgent.clear();
      await this.trim(streams);
    });
  }

  /** One pass over every stream, queued behind any trim already running (two at once could over-trim). */
  sweep(): Promise<void> {
    return this.schedule(() => this.trim([...this.deps.log.streams()]));
  }

  private schedule(task: () => Promise<void>): Promise<void> {
    this.running = this.running.then(async () => {
      if (this.stopped) return;
      try {
        await task();
      } catch (err) {
        this.deps.logger.error('retention trim failed', { error: (err as Error).message });
      }
    });
    return this.running;
  }

  private async trim(streams: string[]): Promise<void> {
    await this.deps.checkpoints.flush();
    let removed = 0;
    for (const stream of streams) {
      if (this.stopped) break;
      removed += await this.trimStream(stream);
    }
    if (removed > 0) this.deps.logger.debug('retention trimmed messages', { removed, streams: streams.length });
  }

  /**
   * Trim every stream's messages with ids below `cutoff`, whatever their retention (the memory budget's trim),
   * queued like the sweeps. Resolves with how many messages of how many channels went.
   */
  async trimBefore(cutoff: string): Promise<{ removed: number; channels: number }> {
    const result = { removed: 0, channels: 0 };
    await this.schedule(async () => {
      await this.deps.checkpoints.flush();
      for (const stream of [...this.deps.log.streams()]) {
        if (this.stopped) break;
        const removed = await this.trimOldest(stream, this.deps.log.countBefore(stream, cutoff));
        result.removed += removed;
        if (removed > 0) result.channels++;
      }
    });
    return result;
  }

  private async trimStream(stream: string): Promise<number> {
    const { log } = this.deps;
    const { count } = log.stats(stream);
    if (count === 0) return 0;
    const retention = this.deps.retentionOf(stream);
    const tooOld = log.countBefore(stream, timeToMinId(this.deps.now() - retention.maxAgeSeconds * 1000));
    return this.trimOldest(stream, Math.max(tooOld, count - retention.maxCount));
  }

  /** Trim up to `n` of a stream's oldest messages, in chunks, never past its aggregate checkpoint. */
  private async trimOldest(stream: string, n: number): Promise<number> {
    const { log, checkpoints } = this.deps;
    if (n <= 0) return 0;
    const covered = checkpoints.coveredId(stream);
    if (covered === undefined) return 0;
    n = Math.min(n, log.countBefore(stream, (BigInt(covered) + 1n).toString()));
    let removed = 0;
    while (n > 0 && !this.stopped) {
      const chunk = Math.min(n, CHUNK);
      removed += await log.trimOldest(stream, chunk);
      n -= chunk;
      await yieldToLoop();
    }
    return removed;
  }
}
