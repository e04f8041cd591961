import assert from 'node:assert/strict';
import { startApiServer, type ApiServer } from '../../support/api-server';
import { startWebhookReceiver, type WebhookReceiver } from '../../support/receivers';
import { ManualClock } from '../../../runtime/notify/clock';
import { until } from '../../support/until';

const settle = () => new Promise((r) => setTimeout(r, 100));


describe('notification pipeline with a controlled clock', () => {
  let clock: ManualClock;
  let hook: WebhookReceiver;
  let s: ApiServer;
  let device: string;
  let a: string;
  let b: string;

  beforeEach(async () => {
    clock = new ManualClock(Date.parse('2026-01-15T12:00:00Z'));
    hook = await startWebhookReceiver({ now: () => clock.now() });
    s = await startApiServer({ now: () => clock.now(), notify: { clock, backoffBaseMs: 1000, backoffMaxMs: 4000, maxAttempts: 3, allowPrivate: ['127.0.0.1'] } });
    device = (await s.admin.post('/devices', { name: 'freezer-2' })).body.id;
    const mk = async (name: string) => {
      const r = await s.admin.post('/notifications/endpoints', { type: 'webhook', name, config: { url: `${hook.url}?to=${name}` }, credentials: { secret: 'shared-secret-for-tests' } });
      return r.body.id as string;
    };
    hook.secret = 'shared-secret-for-tests';
    a = await mk('a');
    b = await mk('b');
  });
  afterEach(async () => {
    await s.close();
    await hook.close();
  });


  it('throttles per device and key, and the next notification that goes out summarises what was suppressed', async () => {
    await s.admin.post('/notifications/subscriptions', { name: 'doors', events: ['Custom'], endpoints: [a], throttle: { max: 2, windowSeconds: 300 }, template: { subject: '{{name}}', body: 'door {{data.door}}' } });
    for (let i = 1; i <= 5; i++) await s.admin.post('/notifications/events', { name: 'door-open', device, data: { door: i } });
    await hook.waitFor(2);
    await settle();
    assert.deepEqual(hook.calls.map((c) => c.body.text), ['door 1', 'door 2']);
    await clock.advance(301_000);
    await s.admin.post('/notifications/events', { name: 'door-open', device, data: { door: 6 } });
    const calls = await hook.waitFor(3);
    assert.match(calls[2].body.text, /^door 6\n\n3 similar notifications were suppressed since 2026-01-15T12:00:00.000Z\.$/);
    assert.ok(calls.every((c) => c.verified));
  });

  it('holds notifications below the threshold during quiet hours and delivers them when the hours end', async () => {
    clock.set(Date.parse('2026-01-15T22:30:00Z')); // 23:30 in Berlin
    await s.admin.post('/notifications/subscriptions', { name: 'night', events: ['AlarmRaised'], endpoints: [a], quietHours: { start: '22:00', end: '07:00', timezone: 'Europe/Berlin', belowSeverity: 'critical' } });
    await s.admin.post('/alarms', { device, type: 'door', severity: 'warning', message: 'left open' });
    await s.admin.post('/alarms', { device, type: 'fire', severity: 'critical', message: 'smoke' });
    const [first] = await hook.waitFor(1);
    assert.equal(first.body.data.alarm.type, 'fire', 'critical goes through at once');
    const held = await until(() => s.admin.get('/notifications/deliveries?status=held'), (r) => r.body.items.length === 1);
    assert.equal(held.body.items[0].nextAttemptAt, '2026-01-16T06:00:00.000Z');
    await clock.advance(Date.parse('2026-01-16T05:59:00Z') - clock.now());
    await settle();
    assert.equal(hook.calls.length, 1, 'still quiet at 06:59 local');
    await clock.advance(60_000);
    const calls = await hook.waitFor(2);
    assert.equal(calls[1].body.data.alarm.type, 'door');
  });

  it('reminds while an alarm stays unacknowledged, escalates to the next group, and stops at the ack', async () => {
    await s.admin.post('/notifications/subscriptions', { name: 'pager', events: ['AlarmRaised'], endpoints: [a], reminders: { everyMinutes: 10, max: 2 }, escalation: [{ afterMinutes: 25, endpoints: [b] }] });
    const alarm = (await s.admin.post('/alarms', { device, type: 'temp', severity: 'major', message: 'warm' })).body;
    await hook.waitFor(1);
    const sources = async () => (await s.admin.get('/notifications/deliveries?limit=100')).body.items.map((d: any) => `${d.source}:${d.endpoint === a ? 'a' : 'b'}`).reverse();
    await clock.advance(10 * 60_000);
    await hook.waitFor(2);
    await clock.advance(10 * 60_000);
    await hook.waitFor(3);
    await clock.advance(5 * 60_000);
    await hook.waitFor(4);
    assert.deepEqual(await sources(), ['subscription:a', 'reminder:a', 'reminder:a', 'escalation:b']);
    assert.match(hook.calls[1].body.subject, /^Reminder: \[major\] temp on freezer-2 is not acknowledged$/);

    const second = (await s.admin.post('/alarms', { device, type: 'door', severity: 'minor' })).body;
    await hook.waitFor(5);
    await s.admin.post(`/alarms/${second.id}/ack`, { comment: 'on it' });
    await s.admin.post(`/alarms/${alarm.id}/clear`);
    await clock.advance(120 * 60_000);
    await settle();
    assert.equal(hook.calls.length, 5, 'nothing after the ack or the clear');
    assert.equal(s.platform.notify.pipelineStats().following, 0);
  });

  it('drops a reminder held by quiet hours when the alarm is acknowledged before they end', async () => {
    clock.set(Date.parse('2026-01-15T21:00:00Z')); // 22:00 in Berlin: quiet hours start
    await s.admin.post('/notifications/subscriptions', { name: 'night', events: ['AlarmRaised'], endpoints: [a], reminders: { everyMinutes: 60, max: 1 }, quietHours: { start: '22:00', end: '07:00', timezone: 'Europe/Berlin', belowSeverity: 'critical' } });
    const alarm = (await s.admin.post('/alarms', { device, type: 'door', severity: 'minor' })).body;
    await clock.advance(61 * 60_000);
    const held = await until(() => s.admin.get('/notifications/deliveries?status=held'), (r) => r.body.items.length === 2);
    assert.deepEqual(held.body.items.map((d: any) => d.source).sort(), ['reminder', 'subscription']);
    await s.admin.post(`/alarms/${alarm.id}/ack`);
    await clock.advance(Date.parse('2026-01-16T06:01:00Z') - clock.now());
    const [call] = await hook.waitFor(1);
    assert.equal(call.body.event.type, 'AlarmRaised');
    const cancelled = await until(() => s.admin.get('/notifications/deliveries?status=cancelled'), (r) => r.body.items.length === 1);
    assert.equal(cancelled.body.items[0].source, 'reminder');
    await settle();
    assert.equal(hook.calls.length, 1, 'no "still unacknowledged" message after the ack');
  });

  it('escalates a throttled alarm, and does not let a burst of raises swallow the clear', async () => {
    await s.admin.post('/notifications/subscriptions', { name: 'x', events: ['AlarmRaised', 'AlarmCleared'], endpoints: [a], throttle: { max: 1, windowSeconds: 3600 }, escalation: [{ afterMinutes: 30, endpoints: [b] }] });
    const first = (await s.admin.post('/alarms', { device, type: 'temp', severity: 'major' })).body;
    await hook.waitFor(1);
    await s.admin.post(`/alarms/${first.id}/clear`);
    await hook.waitFor(2);
    await s.admin.post('/alarms', { device, type: 'temp', severity: 'major' });
    await settle();
    assert.equal(hook.calls.length, 2, 'the second raise is throttled');
    await clock.advance(30 * 60_000);
    const calls = await hook.waitFor(3);
    assert.deepEqual(calls.map((c) => c.body.event.type), ['AlarmRaised', 'AlarmCleared', 'AlarmRaised']);
    assert.match(calls[2].body.subject, /not acknowledged/);
  });

  it('retries a failing endpoint with backoff and dead-letters it after the last attempt', async () => {
    hook.status = 503;
    await s.admin.post('/notifications/send', { endpoints: [a], body: 'one' });
    await hook.waitFor(1);
    hook.status = 200;
    await s.admin.post('/notifications/send', { endpoints: [b], body: 'two' });
    await hook.waitFor(2);
    hook.status = 503;
    const queued = await until(() => s.admin.get(`/notifications/deliveries?endpoint=${a}`), (r) => r.body.items[0].status === 'queued' && r.body.items[0].attempts.length === 1);
    const retryAt = Date.parse(queued.body.items[0].nextAttemptAt) - clock.now();
    assert.ok(retryAt >= 500 && retryAt <= 1000, `first retry after 0.5-1 s of backoff, got ${retryAt}`);
    await clock.advance(1000);
    await hook.waitFor(3);
    await settle();
    await clock.advance(2000);
    await hook.waitFor(4);
    const dead = await until(() => s.admin.get(`/notifications/deliveries?status=dead`), (r) => r.body.items.length === 1);
    assert.deepEqual(dead.body.items[0].attempts.map((x: any) => [x.code, x.status]), Array(3).fill(['FF_PROVIDER_REJECTED', 503]));
    assert.match(dead.body.items[0].attempts[0].error, /answered 503/);
  });
});
