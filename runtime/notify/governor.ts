import { performance } from 'node:perf_hooks';

/**
 * Gives ingestion priority over notification work (routing events into deliveries, and sends). Every interval it reads the event loop's
 * utilization and whether messages were ingested. While the loop was busy and devices were
 * sending, sends may start at no more than `busyRate` per second (alerts still flow, but a burst of
 * them cannot take the CPU from devices); otherwise sends start freely (a burst of alerts with no
 * ingestion to protect goes out at full speed). Delivery order and guarantees are unchanged: a
 * send that is not started now waits in its lane.
 */
export class SendGovernor {
  private last = performance.eventLoopUtilization();
  private busy = false;
  private tokens = 0;
  private readonly waiting = new Set<() => void>();
  private timer: NodeJS.Timeout | null = null;

  private lastIngested = 0;

  constructor(
    private readonly busyRate: number,
    /** Messages ingested so far (a counter that only grows). */
    private readonly ingested: () => number,
    private readonly busyAbove = 0.8,
    private readonly intervalMs = 100,
  ) {}

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => this.tick(), this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.waiting.clear();
  }

  /** Whether a send may start now; if not, `wake` runs when one may. */
  take(wake: () => void): boolean {
    if (this.available() >= 1) {
      this.spend(1);
      return true;
    }
    this.waiting.add(wake);
    return false;
  }

  /** Whether devices are using the CPU (the last interval was busy and messages came in). */
  get pressed(): boolean {
    return this.busy;
  }

  /** Units of work (deliveries created or sent) that may be done now. */
  available(): number {
    return this.busy ? Math.floor(this.tokens) : Infinity;
  }

  spend(n: number): void {
    if (this.busy) this.tokens = Math.max(0, this.tokens - n);
  }

  /** Run `wake` at the next tick. */
  wait(wake: () => void): void {
    this.waiting.add(wake);
  }

  private tick(): void {
    const now = performance.eventLoopUtilization();
    const elu = performance.eventLoopUtilization(now, this.last).utilization;
    this.last = now;
    const ingested = this.ingested();
    this.busy = elu > this.busyAbove && ingested > this.lastIngested;
    this.lastIngested = ingested;
    // Tokens do not pile up while idle, so a busy spell starts at the busy rate, not with a burst.
    this.tokens = this.busy ? Math.min(this.tokens + (this.busyRate * this.intervalMs) / 1000, this.busyRate) : 0;
    if (!this.waiting.size) return;
    const wakes = [...this.waiting];
    this.waiting.clear();
    for (const wake of wakes) wake();
  }
}
