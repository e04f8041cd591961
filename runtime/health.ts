import type { Logger } from './log';

/**
 * Readiness as a list of named checks. The platform registers its own (lifecycle, storage); the
 * launcher and other services register theirs (Node-RED and the listeners, a memory budget), so a
 * new condition plugs in without changing the readiness endpoint or the metrics.
 */

/** One check's answer. `detail` is shown to anyone who can reach the endpoint: no paths, no secrets. */
export interface CheckResult {
  ok: boolean;
  detail?: unknown;
}

/** A readiness check: synchronous and cheap, it runs on every probe and every scrape. */
export type HealthCheck = () => CheckResult;

export interface CheckReport extends CheckResult {
  name: string;
}

export interface Readiness {
  ready: boolean;
  /** Every check, in registration order. */
  checks: CheckReport[];
}

/** Where the platform is in its life: only `running` is ready. */
export type PlatformPhase = 'created' | 'starting' | 'running' | 'stopping' | 'stopped';

/** A check name is also a metric label value and a JSON key: keep it plain. */
const CHECK_NAME = /^[a-z][a-z0-9_-]{0,63}$/;

export class Health {
  private readonly checks = new Map<string, HealthCheck>();

  constructor(private readonly log: Logger) {}

  /**
   * Add a readiness check. Returns a function that removes it.
   * @throws Error when the name is taken or not plain lower-case: both are programming errors.
   */
  register(name: string, check: HealthCheck): () => void {
    if (!CHECK_NAME.test(name)) throw new Error(`health check name "${name}" must match ${CHECK_NAME}`);
    if (this.checks.has(name)) throw new Error(`health check "${name}" is already registered`);
    this.checks.set(name, check);
    return () => {
      if (this.checks.get(name) === check) this.checks.delete(name);
    };
  }

  /** Run every check. A check that throws counts as failing, so a bug cannot report ready. */
  readiness(): Readiness {
    const checks: CheckReport[] = [];
    for (const [name, check] of this.checks) {
      try {
        const { ok, detail } = check();
        checks.push(detail === undefined ? { name, ok: ok === true } : { name, ok: ok === true, detail });
      } catch (err) {
        this.log.error('a readiness check threw', { check: name, error: (err as Error)?.message ?? String(err) });
        checks.push({ name, ok: false, detail: 'the check threw an error (see the log)' });
      }
    }
    return { ready: checks.every((c) => c.ok), checks };
  }
}
