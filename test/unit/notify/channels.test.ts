import assert from 'node:assert/strict';
import { startApiServer, type ApiServer } from '../../support/api-server';
import { startSmtpReceiver, startTwilioReceiver, startWebhookReceiver, verifySignature, type SmtpReceiver, type SmsReceiver, type WebhookReceiver } from '../../support/receivers';
import { until } from '../../support/until';


describe('notification channels', () => {
  let smtp: SmtpReceiver;
  let hook: WebhookReceiver;
  let sms: SmsReceiver;
  let s: ApiServer;
  let device: string;

  beforeEach(async () => {
    [smtp, hook, sms] = await Promise.all([startSmtpReceiver(), startWebhookReceiver(), startTwilioReceiver()]);
    s = await startApiServer({
      notify: {
        smtp: { host: smtp.host, port: smtp.port, secure: false, requireTls: false, rejectUnauthorized: false, from: 'Fieldflow <alerts@fieldflow.test>', timeoutMs: 2000 },
        backoffBaseMs: 20,
        backoffMaxMs: 50,
        maxAttempts: 3,
        // The receivers listen on 127.0.0.1, which notifications reach only when it is allowed.
        allowPrivate: ['127.0.0.1'],
      },
    });
    device = (await s.admin.post('/devices', { name: 'boiler-7', labels: { site: 'north' } })).body.id;
  });
  afterEach(async () => {
    await s.close();
    await Promise.all([smtp.close(), hook.close(), sms.close()]);
  });

  it('emails an alarm to every recipient with the rendered subject and both a text and an HTML part', async () => {
    const ep = await s.admin.post('/notifications/endpoints', { type: 'email', name: 'ops mail', config: { to: ['ops@example.com', 'oncall@example.com'] } });
    assert.equal(ep.status, 201, JSON.stringify(ep.body));
    const sub = await s.admin.post('/notifications/subscriptions', {
      name: 'boiler alarms',
      events: ['AlarmRaised'],
      endpoints: [ep.body.id],
      template: { subject: '{{alarm.type}} on {{device.name}} ({{severity}})', body: 'Temperature is {{alarm.details.celsius}} °C', html: '<p>Temperature is <b>{{alarm.details.celsius}}</b> °C &amp; {{alarm.message}}</p>' },
    });
    assert.equal(sub.status, 201, JSON.stringify(sub.body));
    await s.admin.post('/alarms', { device, type: 'overheat', severity: 'major', message: '<hot>', details: { celsius: 97 } });
    const [mail] = await smtp.waitFor(1);
    assert.deepEqual(mail.envelope.to.sort(), ['oncall@example.com', 'ops@example.com']);
    assert.equal(mail.envelope.from, 'alerts@fieldflow.test');
    assert.equal(mail.mail.subject, 'overheat on boiler-7 (major)');
    assert.equal(mail.mail.text?.trim(), 'Temperature is 97 °C');
    assert.equal((mail.mail.html as string).trim(), '<p>Temperature is <b>97</b> °C &amp; &lt;hot&gt;</p>');
    const list = await until(() => s.admin.get(`/notifications/deliveries?endpoint=${ep.body.id}`), (r) => r.body.items[0]?.status === 'sent');
    assert.equal(list.body.items.length, 1);
    assert.equal(list.body.items[0].event.type, 'AlarmRaised');
    assert.equal(list.body.items[0].attempts[0].ok, true);
  });

  it('posts webhooks signed over the timestamp and body, with the delivery id as idempotency key', async () => {
    const ep = await s.admin.post('/notifications/endpoints', { type: 'webhook', name: 'pager', config: { url: hook.url } });
    assert.equal(ep.status, 201);
    assert.match(ep.body.secret, /^whsec_/);
    hook.secret = ep.body.secret;
    assert.equal((await s.admin.get(`/notifications/endpoints/${ep.body.id}`)).body.secret, undefined, 'the secret is shown once');
    await s.admin.post('/notifications/subscriptions', { name: 'all', events: ['AlarmRaised', 'Custom'], endpoints: [ep.body.id] });
    await s.admin.post('/notifications/events', { name: 'door-open', device, severity: 'warning', message: 'door 3 open', data: { door: 3 } });
    const [call] = await hook.waitFor(1);
    assert.equal(call.verified, true, 'the signature verifies with the endpoint secret');
    assert.equal(call.body.event.type, 'Custom');
    assert.equal(call.body.event.device, device);
    assert.deepEqual(call.body.data.data, { door: 3 });
    assert.equal(call.body.text, 'door 3 open');
    assert.equal(call.headers['idempotency-key'], call.body.id);
    hook.secret = 'not-the-secret-at-all';
    assert.equal(verifySignature(hook.secret, call.headers['x-fieldflow-signature'] as string, call.raw), false, 'a wrong secret does not verify');
  });

  it('texts each number through the Twilio-style API with the account credentials', async () => {
    const ep = await s.admin.post('/notifications/endpoints', {
      type: 'sms',
      name: 'oncall sms',
      config: { provider: 'twilio', accountSid: sms.accountSid, from: '+15005550006', to: ['+14155550100', '+447700900123'], baseUrl: sms.url },
      credentials: { authToken: sms.authToken },
    });
    assert.equal(ep.status, 201, JSON.stringify(ep.body));
    assert.deepEqual(ep.body.credentials, { authToken: true });
    assert.ok(!JSON.stringify(ep.body).includes(sms.authToken), 'the token never comes back');
    sms.failOnce.add('+447700900123');
    const sent = await s.admin.post('/notifications/send', { endpoints: [ep.body.id], body: 'Pump {{data.pump}} stopped', data: { pump: 4 } });
    assert.equal(sent.status, 202);
    const done = await until(() => s.admin.get(`/notifications/deliveries/${sent.body.items[0].id}`), (r) => r.body.status === 'sent');
    assert.deepEqual(done.body.attempts.map((a: any) => [a.ok, a.status]), [[false, 503], [true, 201]]);
    assert.deepEqual(sms.messages.map((m) => [m.to, m.from, m.body]), [['+14155550100', '+15005550006', 'Pump 4 stopped'], ['+447700900123', '+15005550006', 'Pump 4 stopped']], 'the retry texts only the number that failed');
    assert.equal(sms.unauthorized, 0);
  });

  it('signs with a rotated webhook secret from the next delivery on', async () => {
    const ep = await s.admin.post('/notifications/endpoints', { type: 'webhook', name: 'w', config: { url: hook.url }, credentials: { secret: 'first-secret-0123456789' } });
    hook.secret = 'first-secret-0123456789';
    await s.admin.post('/notifications/send', { endpoints: [ep.body.id], body: 'one' });
    await hook.waitFor(1);
    await s.admin.patch(`/notifications/endpoints/${ep.body.id}`, { credentials: { secret: 'second-secret-0123456789' } });
    hook.secret = 'second-secret-0123456789';
    await s.admin.post('/notifications/send', { endpoints: [ep.body.id], body: 'two' });
    const calls = await hook.waitFor(2);
    assert.deepEqual(calls.map((c) => [c.body.text, c.verified]), [['one', true], ['two', true]], 'each verifies with the secret current when it was sent');
  });

  it('keeps credentials out of attempt errors even when the provider echoes them', async () => {
    hook.status = 400;
    hook.echo = true;
    const ep = await s.admin.post('/notifications/endpoints', {
      type: 'sms',
      name: 'gateway',
      config: { provider: 'http', url: hook.url, to: ['+4915112345678'] },
      credentials: { headers: { Authorization: 'Bearer gateway-secret-987654' } },
    });
    const sent = await s.admin.post('/notifications/send', { endpoints: [ep.body.id], body: 'x' });
    const dead = await until(() => s.admin.get(`/notifications/deliveries/${sent.body.items[0].id}`), (r) => r.body.status === 'dead');
    const error = dead.body.attempts[0].error as string;
    assert.match(error, /answered 400/);
    assert.match(error, /\[redacted\]/, 'the echoed header is there, scrubbed');
    assert.ok(!error.includes('gateway-secret-987654'));
  });

  it('sends through a generic SMS gateway with the body template escaped for JSON and secret headers', async () => {
    const ep = await s.admin.post('/notifications/endpoints', {
      type: 'sms',
      name: 'gateway',
      config: { provider: 'http', url: hook.url, method: 'POST', contentType: 'application/json', bodyTemplate: '{"number":"{{to}}","message":"{{text}}"}', to: ['+4915112345678'] },
      credentials: { headers: { 'X-Api-Key': 'gateway-key-123456' } },
    });
    assert.equal(ep.status, 201, JSON.stringify(ep.body));
    await s.admin.post('/notifications/send', { endpoints: [ep.body.id], body: 'say "hi"\nnow' });
    const [call] = await hook.waitFor(1);
    assert.deepEqual(call.body, { number: '+4915112345678', message: 'say "hi"\nnow' });
    assert.equal(call.headers['x-api-key'], 'gateway-key-123456');
  });

  it('retries an unreachable SMTP server with backoff, dead-letters the delivery, and resends it over REST', async () => {
    await smtp.close();
    const ep = await s.admin.post('/notifications/endpoints', { type: 'email', name: 'ops mail', config: { to: 'ops@example.com' } });
    const queued = await s.admin.post('/notifications/send', { endpoints: [ep.body.id], subject: 'hello', body: 'world' });
    const id = queued.body.items[0].id;
    const dead = await until(() => s.admin.get(`/notifications/deliveries/${id}`), (r) => r.body.status === 'dead');
    assert.equal(dead.body.attempts.length, 3);
    assert.ok(dead.body.attempts.every((a: any) => a.code === 'FF_SMTP_UNREACHABLE' && !a.ok), JSON.stringify(dead.body.attempts));
    const gaps = dead.body.attempts.slice(1).map((a: any, i: number) => Date.parse(a.at) - Date.parse(dead.body.attempts[i].at));
    assert.ok(gaps.every((g: number) => g >= 10), `attempts are spaced by the backoff: ${gaps}`);
    const letters = await s.admin.get('/notifications/deliveries?status=dead');
    assert.deepEqual(letters.body.items.map((d: any) => d.id), [id]);
    // The process is unaffected: the API still answers, and the mail goes out once the server is back.
    smtp = await startSmtpReceiver(smtp.port);
    const restarted = await s.admin.post(`/notifications/deliveries/${id}/resend`);
    assert.equal(restarted.status, 202);
    assert.equal(restarted.body.tries <= 1, true);
    const [mail] = await smtp.waitFor(1);
    assert.equal(mail.mail.subject, 'hello');
    const sent = await until(() => s.admin.get(`/notifications/deliveries/${id}`), (r) => r.body.status === 'sent');
    assert.equal(sent.body.attempts.length, 4);
    assert.equal(sent.body.idempotencyKey, id);
    assert.equal((await s.admin.post(`/notifications/deliveries/${id}/resend`)).body.code, 'FF_CONFLICT');
  });

  it('lists deliveries by status, endpoint, event and time, without secrets', async () => {
    const a = await s.admin.post('/notifications/endpoints', { type: 'webhook', name: 'a', config: { url: hook.url }, credentials: { secret: 'a-very-long-webhook-secret' } });
    const b = await s.admin.post('/notifications/endpoints', { type: 'sms', name: 'b', config: { provider: 'twilio', accountSid: sms.accountSid, from: '+15005550006', to: ['+14155550100'], baseUrl: sms.url }, credentials: { authToken: sms.authToken } });
    const before = Date.now();
    await s.admin.post('/notifications/send', { endpoints: [a.body.id, b.body.id], body: 'one', name: 'first' });
    await hook.waitFor(1);
    await sms.waitFor(1);
    const all = await until(() => s.admin.get('/notifications/deliveries?status=sent'), (r) => r.body.items.length === 2);
    assert.deepEqual(all.body.items.map((d: any) => d.endpoint).sort(), [a.body.id, b.body.id].sort());
    assert.equal((await s.admin.get(`/notifications/deliveries?endpoint=${a.body.id}`)).body.items.length, 1);
    assert.equal((await s.admin.get(`/notifications/deliveries?event=Custom`)).body.items.length, 2);
    assert.equal((await s.admin.get(`/notifications/deliveries?event=${all.body.items[0].event.id}`)).body.items.length, 2);
    assert.equal((await s.admin.get(`/notifications/deliveries?since=${before - 60_000}&until=${before - 1000}`)).body.items.length, 0);
    assert.equal((await s.admin.get('/notifications/deliveries?status=dead')).body.items.length, 0);
    const page = await s.admin.get('/notifications/deliveries?limit=1');
    assert.equal(page.body.items.length, 1);
    const next = await s.admin.get(`/notifications/deliveries?limit=1&before=${page.body.next}`);
    assert.notEqual(next.body.items[0].id, page.body.items[0].id);
    const text = JSON.stringify((await s.admin.get('/notifications/deliveries')).body) + JSON.stringify((await s.admin.get('/notifications/endpoints')).body);
    for (const secret of ['a-very-long-webhook-secret', sms.authToken]) assert.ok(!text.includes(secret), `${secret} leaked`);
    assert.equal((await s.admin.get('/notifications/deliveries?since=yesterday')).body.code, 'FF_INVALID_QUERY');
  });
});
