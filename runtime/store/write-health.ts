import type { Logger } from '../log';
import { Errors, isFieldflowError } from '../errors';

/** A source whose latest write failed: since when, how often, and the last error. */
export interface WriteFailure {
  source: string;
  /** The catalog code (FF_STORAGE_FULL, FF_STORAGE_UNAVAILABLE) or the system error code. */
  code: string;
  message: string;
  /** When the failure run began, in ms since the Unix epoch. */
  since: number;
  /** Failed writes in this run. */
  count: number;
}

/**
 * How the platform's background writers are doing. Stores that retry on their own (the message log,
 * checkpoints, group-committed records, the notification inbox and outbox) report every write here,
 * so a full disk shows in health and is logged once per run of failures rather than once per write.
 */
export interface WriteHealth {
  /** A write to `source` (e.g. 'messages', 'versioned:trigger-state', 'notify:outbox') failed. Logs a warning once per failure run. */
  failed(source: string, err: unknown): void;
  /** A write to `source` succeeded: ends its failure run (logs the recovery once). */
  ok(source: string): void;
  /** Sources whose latest write failed. Empty when storage is healthy. */
  failing(): WriteFailure[];
}

export function createWriteHealth(log: Logger): WriteHealth {
  const runs = new Map<string, WriteFailure>();
  return {
    failed(source, err) {
      const code = errorCode(err);
      const message = systemMessage(err);
      const run = runs.get(source);
      if (run) {
        run.count++;
        run.code = code;
        run.message = message;
        return;
      }
      runs.set(source, { source, code, message, since: Date.now(), count: 1 });
      log.warn(
        code === Errors.STORAGE_FULL.code
          ? 'storage write failed: the file system of the data directory is full; writes resume by themselves once space is freed'
          : 'storage write failed; writes are retried, and nothing is acknowledged that was not stored',
        { source, code, error: message },
      );
    },
    ok(source) {
      // The common case (healthy storage) is one map lookup.
      if (runs.size === 0) return;
      const run = runs.get(source);
      if (!run) return;
      runs.delete(source);
      log.info('storage writes succeed again', { source, failedWrites: run.count, forMs: Date.now() - run.since });
    },
    failing() {
      return [...runs.values()].map((r) => ({ ...r }));
    },
  };
}

/** The system's words (ENOSPC: no space left on device, write) rather than a client's. */
function systemMessage(err: unknown): string {
  const cause = (err as { cause?: unknown } | null)?.cause;
  if (cause instanceof Error) return cause.message;
  return err instanceof Error ? err.message : String(err);
}

function errorCode(err: unknown): string {
  if (isFieldflowError(err)) return err.code;
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : 'ERROR';
}
