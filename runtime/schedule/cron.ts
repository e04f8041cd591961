import { parseExpression } from 'cron-parser';
import { Errors } from '../errors';

/**
 * Check a cron expression and timezone the way node-schedule will read them. node-schedule
 * answers an invalid expression with a null job and no reason; this says which part is wrong.
 * Five fields (minute precision) or six (a leading seconds field).
 */
export function checkCron(cron: unknown, timezone: unknown): { cron: string; timezone: string } {
  if (typeof cron !== 'string' || cron.trim() === '') throw Errors.INVALID_CRON('A cron expression is a string such as "*/5 * * * *"', { errors: [{ path: '/cron', message: 'is required' }] });
  const expr = cron.trim().replace(/\s+/g, ' ');
  const fields = expr.split(' ').length;
  if (fields !== 5 && fields !== 6) {
    throw Errors.INVALID_CRON(`"${expr.slice(0, 100)}" has ${fields} fields; a cron expression has 5 (minute hour day month weekday) or 6 (with seconds first)`, { errors: [{ path: '/cron', message: 'must have 5 or 6 fields' }] });
  }
  const tz = timezone === undefined || timezone === null || timezone === '' ? 'UTC' : timezone;
  if (typeof tz !== 'string' || !isTimezone(tz)) {
    throw Errors.INVALID_CRON(`${JSON.stringify(String(tz).slice(0, 64))} is not an IANA timezone such as "Europe/Berlin" or "UTC"`, { errors: [{ path: '/timezone', message: 'is not a known timezone' }] });
  }
  try {
    parseExpression(expr, { tz }).next();
  } catch (err) {
    throw Errors.INVALID_CRON(`"${expr.slice(0, 100)}": ${(err as Error).message}`, { errors: [{ path: '/cron', message: (err as Error).message }] });
  }
  return { cron: expr, timezone: tz };
}

/** The next run times of a checked expression, in ms since the epoch. */
export function nextRuns(cron: string, timezone: string, count: number, after = Date.now()): number[] {
  const it = parseExpression(cron, { tz: timezone, currentDate: new Date(after) });
  const out: number[] = [];
  for (let i = 0; i < count; i++) out.push(it.next().getTime());
  return out;
}

function isTimezone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}
