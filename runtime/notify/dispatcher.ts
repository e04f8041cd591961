import { Errors } from '../errors';
import type { Logger } from '../log';
import type { NotifyClock } from './clock';
import { recordAttempt, type Delivery } from './delivery';
import type { EndpointType } from './endpoint-model';
import type { EndpointStore } from './endpoints';
import type { Outbox } from './outbox';
import { redact, SendFailure, type Sender } from './senders/types';
import type { SendGovernor } from './governor';

export interface RetryPolicy {
  maxAttempts: number;
  /** Delay before the second attempt, in ms; it doubles with each further attempt... */
  backoffBaseMs: number;
  /** ...up to this. */
  backoffMaxMs: number;
}

/** Exponential backoff with jitter: half the delay is fixed, half random, so retries of a burst spread out. */
export function backoffDelay(policy: RetryPolicy, tries: number, random: () => number = Math.random): number {
  const full = Math.min(policy.backoffMaxMs, policy.backoffBaseMs * 2 ** Math.max(0, tries - 1));
  return Math.round(full / 2 + (random() * full) / 2);
}

interface Lane {
  queue: Delivery[];
  active: number;
  /** Waiting for the governor: one wake per lane, however long the queue. */
  waking: boolean;
}

export interface DispatcherDeps {
  outbox: Outbox;
  endpoints: EndpointStore;
  senders: Partial<Record<EndpointType, Sender>>;
  clock: NotifyClock;
  log: Logger;
  policy: RetryPolicy;
  /** Sends in flight per endpoint. */
  concurrency: number;
  /** Paces sends while the process is busy (null: never). */
  governor: SendGovernor | null;
  /** Called after every state change that was saved. */
  changed(d: Delivery): void;
  /** Whether a delivery is still to be sent (a reminder whose alarm was acked meanwhile is not). */
  stillWanted(d: Delivery): boolean;
}

/**
 * Runs the outbox: one lane per endpoint, each with its own queue and its own limit of sends in
 * flight, so a slow or failing endpoint only ever waits on itself. Ingestion never waits on any of
 * it (events only enqueue). Every state change is saved before it is acted on: `sending` before
 * the provider is called, so a crash mid-send is seen on restart and retried with the same
 * idempotency key; `sent` after it answered, so a sent delivery is never sent again.
 */
export class Dispatcher {
  private readonly lanes = new Map<string, Lane>();
  private readonly timers = new Map<string, () => void>();
  private readonly inFlight = new Set<Promise<void>>();
  private stopped = false;
  /** Set when stop() stopped waiting: results that come in later are not written (the store is closing). */
  private abandoned = false;

  constructor(private readonly deps: DispatcherDeps) {}

  /** Queue a delivery (queued or held): now, or at its notBefore. */
  schedule(d: Delivery): void {
    if (this.stopped || (d.status !== 'queued' && d.status !== 'held')) return;
    this.timers.get(d.key)?.();
    this.timers.delete(d.key);
    if (d.notBefore !== null && d.notBefore > this.deps.clock.now()) {
      this.timers.set(d.key, this.deps.clock.at(d.notBefore, () => {
        this.timers.delete(d.key);
        this.enqueue(d);
      }));
    } else this.enqueue(d);
  }

  /** Forget a delivery that is no longer waiting (cancelled, resent elsewhere). */
  unschedule(key: string): void {
    this.timers.get(key)?.();
    this.timers.delete(key);
  }

  /** Stop starting sends; wait up to `graceMs` for those in flight (the rest resume after a restart). */
  async stop(graceMs: number): Promise<void> {
    this.stopped = true;
    for (const cancel of this.timers.values()) cancel();
    this.timers.clear();
    if (this.inFlight.size) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([Promise.allSettled([...this.inFlight]), new Promise((resolve) => (timer = setTimeout(resolve, graceMs)))]);
      clearTimeout(timer);
    }
    // Sends still out stay `sending` on disk and are retried, with the same key, after the restart.
    this.abandoned = true;
  }

  /** Deliveries waiting in lanes or timers, and sends in flight: for health and tests. */
  stats(): { waiting: number; inFlight: number; lanes: number } {
    let waiting = this.timers.size;
    for (const lane of this.lanes.values()) waiting += lane.queue.length;
    return { waiting, inFlight: this.inFlight.size, lanes: this.lanes.size };
  }

  private enqueue(d: Delivery): void {
    if (this.stopped) return;
    let lane = this.lanes.get(d.endpoint);
    if (!lane) this.lanes.set(d.endpoint, (lane = { queue: [], active: 0, waking: false }));
    lane.queue.push(d);
    this.pump(d.endpoint, lane);
  }

  private pump(endpointId: string, lane: Lane): void {
    while (!this.stopped && lane.active < this.deps.concurrency && lane.queue.length) {
      const d = lane.queue[0];
      if (d.status !== 'queued' && d.status !== 'held') {
        lane.queue.shift();
        continue;
      }
      if (lane.waking) return;
      if (this.deps.governor && !this.deps.governor.take(() => this.wake(endpointId, lane))) {
        lane.waking = true;
        return;
      }
      lane.queue.shift();
      lane.active++;
      const run = this.attempt(d).catch((err) => this.deps.log.error('delivery attempt failed unexpectedly', { delivery: d.key, error: (err as Error).message }));
      this.inFlight.add(run);
      void run.finally(() => {
        this.inFlight.delete(run);
        lane.active--;
        if (!lane.queue.length && !lane.active) this.lanes.delete(endpointId);
        else this.pump(endpointId, lane);
      });
    }
  }

  private wake(endpointId: string, lane: Lane): void {
    lane.waking = false;
    this.pump(endpointId, lane);
  }

  private async attempt(d: Delivery): Promise<void> {
    const { outbox, endpoints, clock } = this.deps;
    if (!endpoints.find(d.endpoint) || !this.deps.stillWanted(d)) return this.finish(d, 'cancelled', null);
    let endpoint = endpoints.find(d.endpoint)!;
    if (!endpoint.enabled) {
      return this.finish(d, 'dead', { at: clock.now(), durationMs: null, ok: false, code: Errors.ENDPOINT_DISABLED.code, error: `endpoint ${endpoint.name} is disabled${endpoint.disabledReason ? `: ${endpoint.disabledReason}` : ''}`, status: null });
    }
    const sender = this.deps.senders[endpoint.type];
    const started = clock.now();
    d.status = 'sending';
    d.tries++;
    d.updatedAt = started;
    try {
      await outbox.save(d);
    } catch (err) {
      // Not durable: do not send (a crash now would forget the attempt). Try again shortly.
      this.deps.log.error('outbox write failed; delivery postponed', { delivery: d.key, error: (err as Error).message });
      d.status = 'queued';
      d.tries--;
      d.notBefore = clock.now() + this.deps.policy.backoffBaseMs;
      this.schedule(d);
      return;
    }
    this.deps.changed(d);
    // Read again after the write: the endpoint may have been changed (new credentials) or deleted meanwhile.
    const current = endpoints.find(d.endpoint);
    if (!current) return this.finish(d, 'cancelled', null);
    endpoint = current;
    let secrets;
    try {
      if (!sender) throw new SendFailure(Errors.MISSING_CREDENTIALS, endpoint.type === 'email' ? 'no SMTP server is configured (FIELDFLOW_SMTP_HOST)' : `no sender for ${endpoint.type}`, false);
      secrets = endpoints.secrets(endpoint);
      const result = await sender.send({ delivery: d, config: endpoint.config, secrets });
      recordAttempt(d, { at: started, durationMs: clock.now() - started, ok: true, code: null, error: null, status: result.status });
      d.sentAt = clock.now();
      return await this.finish(d, 'sent', null);
    } catch (err) {
      const failure = err instanceof SendFailure ? err : new SendFailure(Errors.PROVIDER_UNREACHABLE, (err as Error).message, true);
      recordAttempt(d, { at: started, durationMs: clock.now() - started, ok: false, code: failure.def.code, error: redact(failure.message, secrets), status: failure.status });
      if (failure.expired) {
        const disabled = await endpoints.disable(endpoint.id, failure.message).catch(() => null);
        if (disabled) this.deps.log.warn('push subscription expired; endpoint disabled', { endpoint: endpoint.id });
      }
      if (this.abandoned) return;
      if (failure.retry && d.tries < d.maxAttempts) {
        d.status = 'queued';
        d.notBefore = clock.now() + backoffDelay(this.deps.policy, d.tries);
        d.updatedAt = clock.now();
        await this.persist(d);
        this.schedule(d);
        return;
      }
      return this.finish(d, 'dead', null);
    }
  }

  private async finish(d: Delivery, status: 'sent' | 'dead' | 'cancelled', attempt: Parameters<typeof recordAttempt>[1] | null): Promise<void> {
    if (this.abandoned) return;
    if (attempt) recordAttempt(d, attempt);
    d.status = status;
    d.notBefore = null;
    d.updatedAt = this.deps.clock.now();
    this.deps.outbox.finishedOne();
    await this.persist(d);
    if (status !== 'dead') this.deps.outbox.dropAttachmentContent(d);
  }

  /** Save a result; if the write fails the store retries it, and the process goes on. */
  private async persist(d: Delivery): Promise<void> {
    if (this.abandoned) return;
    try {
      await this.deps.outbox.save(d);
    } catch (err) {
      this.deps.log.error('outbox write failed; it is retried', { delivery: d.key, error: (err as Error).message });
    }
    this.deps.changed(d);
  }
}
