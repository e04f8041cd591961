import { severityRank, type Severity } from '../alarms/severity';

/**
 * The pure parts of a subscription's delivery policy: throttling and quiet hours. No I/O and no
 * clock of their own, so they are tested with explicit times.
 */

export interface ThrottleSpec {
  /** At most this many notifications... */
  max: number;
  /** ...per this many seconds, per (subscription, device, key). */
  windowSeconds: number;
}

interface Window {
  start: number;
  windowMs: number;
  sent: number;
  suppressed: number;
  /** When the first notification of the current suppression run was held back. */
  suppressedSince: number | null;
}

export type ThrottleDecision = { send: true; suppressed: number; suppressedSince: number | null } | { send: false };

/**
 * Fixed windows per key. A notification that goes out carries the count suppressed since the last
 * one that went out, so the recipient learns how many were held back.
 */
export class Throttle {
  private readonly windows = new Map<string, Window>();
  private checks = 0;

  check(key: string, spec: ThrottleSpec, now: number): ThrottleDecision {
    if (++this.checks % 1000 === 0) this.prune(now);
    let w = this.windows.get(key);
    const windowMs = spec.windowSeconds * 1000;
    if (!w || now - w.start >= windowMs) {
      const carried = w ? { suppressed: w.suppressed, suppressedSince: w.suppressedSince } : { suppressed: 0, suppressedSince: null };
      w = { start: now, windowMs, sent: 0, ...carried };
      this.windows.set(key, w);
    }
    if (w.sent >= spec.max) {
      w.suppressed++;
      w.suppressedSince ??= now;
      return { send: false };
    }
    w.sent++;
    const decision = { send: true as const, suppressed: w.suppressed, suppressedSince: w.suppressedSince };
    w.suppressed = 0;
    w.suppressedSince = null;
    return decision;
  }

  /**
   * Forget windows that are over and have nothing to report, so the map follows the live keys.
   * (Windows are kept in memory: after a restart every key starts a fresh window.)
   */
  prune(now: number): void {
    for (const [key, w] of this.windows) if (now - w.start >= w.windowMs && w.suppressed === 0) this.windows.delete(key);
  }

  /** Keys being counted: for tests. */
  size(): number {
    return this.windows.size;
  }

  /** Drop a subscription's windows (it was changed or deleted). */
  forget(prefix: string): void {
    for (const key of this.windows.keys()) if (key.startsWith(prefix)) this.windows.delete(key);
  }
}

export interface QuietHours {
  /** Local time "HH:MM" when quiet hours begin. */
  start: string;
  /** Local time "HH:MM" when they end (earlier than start: they run over midnight). */
  end: string;
  /** IANA timezone of start and end. */
  timezone: string;
  /** Notifications of this severity and above are never held. */
  belowSeverity: Severity;
}

export const HHMM_PATTERN = '^([01][0-9]|2[0-3]):[0-5][0-9]$';

function minutesOf(hhmm: string): number {
  const [h, m] = hhmm.split(':').map(Number);
  return h * 60 + m;
}

/** Minutes since local midnight at `ts` in `timezone`, to the second. */
function localMinutes(ts: number, timezone: string): number {
  const parts = new Intl.DateTimeFormat('en-GB', { timeZone: timezone, hourCycle: 'h23', hour: '2-digit', minute: '2-digit', second: '2-digit' }).formatToParts(ts);
  const get = (type: string) => Number(parts.find((p) => p.type === type)?.value ?? 0);
  return get('hour') * 60 + get('minute') + get('second') / 60;
}

function inWindow(minute: number, start: number, end: number): boolean {
  if (start === end) return false;
  return start < end ? minute >= start && minute < end : minute >= start || minute < end;
}

/**
 * If a notification of `severity` at `now` falls in quiet hours, the time they end (when it is to
 * be delivered); otherwise null. Events without a severity count as `info`.
 */
export function quietUntil(quiet: QuietHours, severity: Severity | null, now: number): number | null {
  if (severityRank(severity ?? 'info') >= severityRank(quiet.belowSeverity)) return null;
  const start = minutesOf(quiet.start);
  const end = minutesOf(quiet.end);
  const minute = localMinutes(now, quiet.timezone);
  if (!inWindow(minute, start, end)) return null;
  // Walk to the end in local minutes, then correct for a UTC offset change (DST) on the way.
  let until = now + ((end - minute + 1440) % 1440) * 60_000;
  for (let i = 0; i < 3; i++) {
    const drift = (localMinutes(until, quiet.timezone) - end + 1440) % 1440;
    const correction = drift > 720 ? drift - 1440 : drift;
    if (Math.abs(correction) < 1 / 120) break;
    until -= correction * 60_000;
  }
  until = Math.ceil(until / 1000) * 1000;
  if (until > now && !inWindow(localMinutes(until, quiet.timezone), start, end)) return until;
  // The end time does not exist that day (it falls in a spring-forward gap) or the walk landed
  // wrong: take the first minute at which the local clock is out of the window.
  let t = Math.floor(now / 60_000) * 60_000;
  for (let i = 0; i < 2 * 1440 && inWindow(localMinutes(t, quiet.timezone), start, end); i++) t += 60_000;
  return Math.max(t, now + 1000);
}
