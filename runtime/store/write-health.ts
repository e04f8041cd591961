import type { Logger } from '../log';

/** A storage target whose latest write failed, and since when. */
export interface WriteFailure {
  source: string;
  code: string;
  message: string;
  since: number;
  count: number;
}

/**
 * Whether storage writes succeed, per source. Writers report each outcome; readiness and metrics
 * read `failing()`. One instance per platform.
 */
export interface WriteHealth {
  /** A write to `source` (e.g. 'messages', 'versioned:trigger-state', 'notify:outbox') failed. Logs a warning once per failure run. */
  failed(source: string, err: unknown): void;
  /** A write to `source` succeeded: ends its failure run (logs the recovery once). */
  ok(source: string): void;
  /** Sources whose latest write failed. Empty when storage is healthy. */
  failing(): WriteFailure[];
}

/** Create the write-health tracker of one platform. */
export function createWriteHealth(log: Logger): WriteHealth {
  const runs = new Map<string, WriteFailure>();
  return {
    failed(source, err) {
      const run = runs.get(source);
      if (run) {
        run.count++;
        return;
      }
      const code = (err as { code?: unknown })?.code;
      const failure: WriteFailure = {
        source,
        code: typeof code === 'string' ? code : 'EUNKNOWN',
        message: err instanceof Error ? err.message : String(err),
        since: Date.now(),
        count: 1,
      };
      runs.set(source, failure);
      // Once per run: a full disk fails every write, and one line per write would flood the log.
      log.warn('storage writes are failing', { source, code: failure.code, error: failure.message });
    },
    ok(source) {
      const run = runs.get(source);
      if (!run) return;
      runs.delete(source);
      log.info('storage writes succeed again', { source, failedWrites: run.count, forMs: Date.now() - run.since });
    },
    failing() {
      return [...runs.values()].map((f) => ({ ...f }));
    },
  };
}
