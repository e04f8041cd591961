/**
 * Time for the notification pipeline: the current time and timers at absolute times. Throttling,
 * quiet hours, backoff and reminders all run on it, so tests can drive hours of policy with a
 * manual clock in milliseconds.
 */
export interface NotifyClock {
  now(): number;
  /** Run `fn` at `at` (ms since the epoch) or soon after; returns a cancel function. */
  at(at: number, fn: () => void): () => void;
}

/** setTimeout takes at most 2^31-1 ms; longer waits re-arm. */
const MAX_TIMEOUT = 2 ** 31 - 1;

export function systemClock(now: () => number = Date.now): NotifyClock {
  return {
    now,
    at(at, fn) {
      let timer: NodeJS.Timeout;
      const arm = () => {
        const wait = at - now();
        if (wait > MAX_TIMEOUT) timer = setTimeout(arm, MAX_TIMEOUT);
        else timer = setTimeout(fn, Math.max(0, wait));
        timer.unref();
      };
      arm();
      return () => clearTimeout(timer);
    },
  };
}

/** A clock that moves only when told to: advance() runs every timer that falls due, in time order. */
export class ManualClock implements NotifyClock {
  private timers: Array<{ at: number; fn: () => void; seq: number }> = [];
  private seq = 0;

  constructor(private time: number) {}

  now(): number {
    return this.time;
  }

  at(at: number, fn: () => void): () => void {
    const timer = { at, fn, seq: this.seq++ };
    this.timers.push(timer);
    return () => {
      this.timers = this.timers.filter((t) => t !== timer);
    };
  }

  /** Move time forward by `ms`, running due timers (and timers they set that fall due) in order. */
  async advance(ms: number): Promise<void> {
    const end = this.time + ms;
    for (;;) {
      this.timers.sort((a, b) => a.at - b.at || a.seq - b.seq);
      const next = this.timers[0];
      if (!next || next.at > end) break;
      this.timers.shift();
      this.time = Math.max(this.time, next.at);
      next.fn();
      // Let the work a timer started (sends, writes) settle before the next one runs.
      await new Promise((resolve) => setImmediate(resolve));
    }
    this.time = end;
  }

  set(time: number): void {
    this.time = time;
  }
}
