import assert from 'node:assert/strict';
import { quietUntil, Throttle } from '../../../runtime/notify/policy';
import { backoffDelay } from '../../../runtime/notify/dispatcher';
import { nextDue } from '../../../runtime/notify/escalations';
import type { Subscription } from '../../../runtime/notify/subscription-model';

const at = (iso: string) => Date.parse(iso);

describe('notification policy', () => {
  it('lets N notifications per window through and reports how many were suppressed in the next one', () => {
    const t = new Throttle();
    const spec = { max: 2, windowSeconds: 60 };
    const start = at('2026-03-01T10:00:00Z');
    const decisions = [0, 1, 2, 3, 4].map((i) => t.check('s|d|k', spec, start + i * 1000));
    assert.deepEqual(decisions.map((d) => d.send), [true, true, false, false, false]);
    const next = t.check('s|d|k', spec, start + 61_000);
    assert.deepEqual(next, { send: true, suppressed: 3, suppressedSince: start + 2000 });
    assert.deepEqual(t.check('s|d|k', spec, start + 62_000), { send: true, suppressed: 0, suppressedSince: null });
    assert.equal(t.check('s|other-device|k', spec, start + 3000).send, true, 'keys are counted apart');
    t.prune(start + 200_000);
    assert.equal(t.size(), 0, 'finished windows with nothing to report are forgotten');
  });

  it('holds notifications below the threshold during quiet hours that run over midnight, until they end', () => {
    const quiet = { start: '22:00', end: '07:00', timezone: 'Europe/Berlin', belowSeverity: 'critical' as const };
    // 23:30 in Berlin in winter is 22:30 UTC; quiet hours end at 07:00 Berlin = 06:00 UTC.
    assert.equal(quietUntil(quiet, 'warning', at('2026-01-15T22:30:00Z')), at('2026-01-16T06:00:00Z'));
    assert.equal(quietUntil(quiet, null, at('2026-01-16T05:59:00Z')), at('2026-01-16T06:00:00Z'));
    assert.equal(quietUntil(quiet, 'critical', at('2026-01-15T22:30:00Z')), null, 'the threshold and above are never held');
    assert.equal(quietUntil(quiet, 'warning', at('2026-01-16T06:00:00Z')), null, 'over at the end');
    assert.equal(quietUntil(quiet, 'warning', at('2026-01-15T20:59:00Z')), null, 'not yet begun');
    // Summer time: 07:00 Berlin is 05:00 UTC.
    assert.equal(quietUntil(quiet, 'minor', at('2026-07-01T01:00:00Z')), at('2026-07-01T05:00:00Z'));
  });

  it('ends quiet hours at the local end time across a daylight saving change', () => {
    const quiet = { start: '22:00', end: '07:00', timezone: 'Europe/Berlin', belowSeverity: 'major' as const };
    // The night of 28-29 March 2026 loses an hour at 02:00: 07:00 local is 05:00 UTC, not 06:00.
    assert.equal(quietUntil(quiet, 'info', at('2026-03-28T22:00:00Z')), at('2026-03-29T05:00:00Z'));
    // An end that does not exist that day (02:30 is skipped): quiet hours last until the clock jumps, 03:00 CEST.
    const gap = { start: '22:00', end: '02:30', timezone: 'Europe/Berlin', belowSeverity: 'critical' as const };
    assert.equal(quietUntil(gap, 'info', at('2026-03-29T00:50:00Z')), at('2026-03-29T01:00:00Z'));
    const day = { start: '09:00', end: '17:00', timezone: 'America/New_York', belowSeverity: 'critical' as const };
    assert.equal(quietUntil(day, 'info', at('2026-06-01T14:00:00Z')), at('2026-06-01T21:00:00Z'));
  });

  it('backs off exponentially with jitter, capped', () => {
    const policy = { maxAttempts: 6, backoffBaseMs: 1000, backoffMaxMs: 8000 };
    assert.deepEqual([1, 2, 3, 4, 5, 6].map((n) => backoffDelay(policy, n, () => 0)), [500, 1000, 2000, 4000, 4000, 4000]);
    assert.deepEqual([1, 2, 3, 4, 5, 6].map((n) => backoffDelay(policy, n, () => 1)), [1000, 2000, 4000, 8000, 8000, 8000]);
  });

  it('schedules reminders and escalation steps from the time the alarm was raised', () => {
    const sub = { reminders: { everyMinutes: 10, max: 2 }, escalation: [{ afterMinutes: 15, endpoints: ['b'] }] } as unknown as Subscription;
    const r = { key: 'k', subscription: 's', alarm: 'a', raisedAt: 0, reminders: 0, steps: 0 };
    assert.equal(nextDue(sub, r), 10 * 60_000);
    assert.equal(nextDue(sub, { ...r, reminders: 1 }), 15 * 60_000);
    assert.equal(nextDue(sub, { ...r, reminders: 1, steps: 1 }), 20 * 60_000);
    assert.equal(nextDue(sub, { ...r, reminders: 2, steps: 1 }), null);
  });
});
