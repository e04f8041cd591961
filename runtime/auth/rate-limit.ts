/**
 * Failed-login limiter, keyed per (username, client address) so that someone guessing from one
 * address cannot lock the real user out from another. After `max` failures a key is locked for one
 * window; each failure after a lock locks it again for twice as long (up to {@link MAX_LOCK_MS}).
 * A key is forgotten once it has been quiet for a window after its last failure and any lock.
 * bcrypt already makes each guess slow; this bounds how many guesses one client gets.
 */
export class FailureLimiter {
  private readonly keys = new Map<string, { failures: number; last: number; lockedUntil: number }>();

  constructor(
    private readonly max: number,
    private readonly windowMs: number,
    private readonly now: () => number,
  ) {}

  /** Seconds until `key` may try again, or 0 if it may try now. */
  retryAfter(key: string): number {
    const entry = this.current(key);
    if (!entry || entry.lockedUntil <= this.now()) return 0;
    return Math.max(1, Math.ceil((entry.lockedUntil - this.now()) / 1000));
  }

  /** Count a failure; true when it locks the key. */
  fail(key: string): boolean {
    const t = this.now();
    const entry = this.current(key) ?? { failures: 0, last: t, lockedUntil: 0 };
    entry.failures++;
    entry.last = t;
    let locked = false;
    if (entry.failures >= this.max) {
      entry.lockedUntil = t + Math.min(MAX_LOCK_MS, this.windowMs * 2 ** Math.min(30, entry.failures - this.max));
      locked = true;
    }
    // Re-inserted so the map's order is the order of last failures (the oldest go first when full).
    this.keys.delete(key);
    this.keys.set(key, entry);
    if (this.keys.size > MAX_KEYS) this.prune();
    return locked;
  }

  succeed(key: string): void {
    this.keys.delete(key);
  }

  /** Take back one counted failure of `key` (an attempt counted before its check, which then passed). */
  uncount(key: string): void {
    const entry = this.keys.get(key);
    if (entry && entry.failures > 0 && entry.lockedUntil <= this.now()) entry.failures--;
  }

  private current(key: string) {
    const entry = this.keys.get(key);
    if (entry && this.forgettable(entry)) {
      this.keys.delete(key);
      return undefined;
    }
    return entry;
  }

  private forgettable(entry: { last: number; lockedUntil: number }): boolean {
    return this.now() >= Math.max(entry.last, entry.lockedUntil) + this.windowMs;
  }

  /**
   * Keep the table bounded when many clients fail: drop forgotten keys, then the longest quiet of
   * those not locked now. A key that is locked is never dropped for room (that would let a client
   * that makes up keys unlock itself), unless locked keys alone pass twice the bound; then the ones
   * whose lock ends first go.
   */
  private prune(): void {
    const t = this.now();
    for (const [key, entry] of this.keys) if (this.forgettable(entry)) this.keys.delete(key);
    for (const [key, entry] of this.keys) {
      if (this.keys.size <= MAX_KEYS) return;
      if (entry.lockedUntil <= t) this.keys.delete(key);
    }
    if (this.keys.size <= 2 * MAX_KEYS) return;
    const locked = [...this.keys].sort((a, b) => a[1].lockedUntil - b[1].lockedUntil);
    for (const [key] of locked.slice(0, this.keys.size - 2 * MAX_KEYS)) this.keys.delete(key);
  }
}

/** Longest lock: the lock doubles per failure up to this (an hour). */
const MAX_LOCK_MS = 3600_000;
/** Most keys tracked at once. */
const MAX_KEYS = 10_000;

/** The limiter key of a login attempt. */
export function loginKey(username: string, address: string): string {
  return `${address}\u0000${username}`;
}

/**
 * The key of every attempt from one address, whatever the username: a client that tries a new
 * username each time (each costing a bcrypt check) is bounded too.
 */
export function addressKey(address: string): string {
  return `${address}\u0001`;
}

/** How many failures from one address, over all usernames, lock that address: this many times the per-user limit. */
export const ADDRESS_FAILURE_FACTOR = 10;
