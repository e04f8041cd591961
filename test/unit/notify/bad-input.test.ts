import assert from 'node:assert/strict';
import { startApiServer, type ApiServer } from '../../support/api-server';
import { assertProblem } from '../api/problems';

const smtp = { host: '127.0.0.1', port: 2525, secure: false, requireTls: false, rejectUnauthorized: false, from: 'f@example.com', timeoutMs: 1000 };
const goodPush = () => ({
  endpoint: 'https://push.example.com/send/abc',
  keys: { p256dh: Buffer.concat([Buffer.from([4]), Buffer.alloc(64, 7)]).toString('base64url'), auth: Buffer.alloc(16, 1).toString('base64url') },
});

describe('notification bad input', () => {
  let s: ApiServer;
  let hook: string;
  beforeEach(async () => {
    s = await startApiServer({ notify: { smtp, allowPrivate: ['127.0.0.1'] } });
    hook = (await s.admin.post('/notifications/endpoints', { type: 'webhook', name: 'hook', config: { url: 'http://127.0.0.1:9/hook' } })).body.id;
  });
  afterEach(() => s.close());

  const create = (body: unknown) => s.admin.post('/notifications/endpoints', body);
  const count = async () => (await s.admin.get('/notifications/endpoints')).body.items.length;

  it('refuses invalid email addresses, naming each one, and stores nothing', async () => {
    const r = await create({ type: 'email', name: 'm', config: { to: ['ops@example.com', 'not an address', 'x@localhost'] } });
    assertProblem(r, 400, 'FF_INVALID_EMAIL');
    assert.deepEqual(r.body.errors.map((e: any) => e.path), ['/config/to/1', '/config/to/2']);
    assert.equal(await count(), 1);
  });

  it('refuses phone numbers that are not E.164', async () => {
    const r = await create({ type: 'sms', name: 's', config: { provider: 'twilio', accountSid: 'AC1', from: '+15005550006', to: ['+1 415 555 0100', '004915112345678'] }, credentials: { authToken: 't' } });
    assertProblem(r, 400, 'FF_INVALID_PHONE');
    assert.deepEqual(r.body.errors.map((e: any) => e.path), ['/config/to/0', '/config/to/1']);
    assertProblem(await create({ type: 'sms', name: 's', config: { provider: 'twilio', accountSid: 'AC1', from: 'Fieldflow', to: ['+14155550100'] }, credentials: { authToken: 't' } }), 400, 'FF_INVALID_PHONE');
  });

  it('refuses a webhook URL that does not parse or is not http(s)', async () => {
    for (const url of ['not a url', 'ftp://example.com/x', 'http//missing-colon', 42, 'https://user:pass@example.com/hook']) {
      const r = await create({ type: 'webhook', name: 'w', config: { url } });
      assertProblem(r, 400, 'FF_INVALID_URL');
      assert.equal(r.body.errors[0].path, '/config/url');
    }
  });

  it('refuses templates that do not compile when the subscription is saved, not when it sends', async () => {
    const r = await s.admin.post('/notifications/subscriptions', { name: 'x', events: ['AlarmRaised'], endpoints: [hook], template: { subject: '{{#alarm}}open section', body: 'ok {{ unclosed' } });
    assertProblem(r, 400, 'FF_INVALID_TEMPLATE');
    assert.deepEqual(r.body.errors.map((e: any) => e.path), ['/template/subject', '/template/body']);
    assert.equal((await s.admin.get('/notifications/subscriptions')).body.items.length, 0);
    const sub = (await s.admin.post('/notifications/subscriptions', { name: 'x', events: ['AlarmRaised'], endpoints: [hook] })).body;
    assertProblem(await s.admin.patch(`/notifications/subscriptions/${sub.id}`, { template: { html: '{{/never-opened}}' } }), 400, 'FF_INVALID_TEMPLATE');
    assertProblem(await s.admin.post('/notifications/send', { endpoints: [hook], body: '{{#a}}' }), 400, 'FF_INVALID_TEMPLATE');
    const deep = await s.admin.post('/notifications/subscriptions', { name: 'y', events: ['Custom'], endpoints: [hook], template: { body: '{{#data}}{{#data}}{{#data}}{{#data}}x{{/data}}{{/data}}{{/data}}{{/data}}' } });
    assertProblem(deep, 400, 'FF_INVALID_TEMPLATE');
    assert.match(deep.body.detail, /nest at most 3/);
    assertProblem(await create({ type: 'sms', name: 'g', config: { provider: 'http', url: 'http://127.0.0.1:9/', bodyTemplate: '{{to', to: ['+14155550100'] } }), 400, 'FF_INVALID_TEMPLATE');
  });

  it('refuses push subscriptions of the wrong shape', async () => {
    const cases: unknown[] = [
      'a string',
      { endpoint: 'https://push.example.com/x' },
      { ...goodPush(), endpoint: 'http://push.example.com/plain-http' },
      { ...goodPush(), keys: { p256dh: 'short', auth: goodPush().keys.auth } },
      { ...goodPush(), keys: { p256dh: goodPush().keys.p256dh, auth: 'AAAA' } },
    ];
    for (const subscription of cases) assertProblem(await s.admin.post('/notifications/push/subscriptions', { subscription }), 400, 'FF_INVALID_PUSH_SUBSCRIPTION');
    const ok = await s.admin.post('/notifications/push/subscriptions', { subscription: goodPush(), name: 'laptop' });
    assert.equal(ok.status, 201);
    assert.deepEqual([ok.body.type, ok.body.owner, ok.body.name, ok.body.config.service], ['push', 'admin', 'laptop', 'https://push.example.com']);
    assert.ok(!JSON.stringify(ok.body).includes('send/abc'), 'the push URL is a credential and is not shown');
    const again = await s.admin.post('/notifications/push/subscriptions', { subscription: goodPush() });
    assert.equal((await s.admin.get('/notifications/endpoints?type=push')).body.items.length, 1);
    assert.equal(again.body.id, ok.body.id, 'the same browser subscribing again updates its endpoint, so subscriptions keep it');
  });

  it('refuses endpoints with missing credentials', async () => {
    assertProblem(await create({ type: 'sms', name: 's', config: { provider: 'twilio', accountSid: 'AC1', from: '+15005550006', to: ['+14155550100'] } }), 400, 'FF_MISSING_CREDENTIALS');
    assertProblem(await create({ type: 'push', name: 'p' }), 400, 'FF_MISSING_CREDENTIALS');
    const noSmtp = await startApiServer();
    try {
      const r = await noSmtp.admin.post('/notifications/endpoints', { type: 'email', name: 'm', config: { to: ['ops@example.com'] } });
      assertProblem(r, 400, 'FF_MISSING_CREDENTIALS');
      assert.match(r.body.detail, /FIELDFLOW_SMTP_HOST/);
    } finally {
      await noSmtp.close();
    }
  });

  it('keeps stored credentials when an endpoint is changed without them, and never returns them', async () => {
    const sms = (await create({ type: 'sms', name: 's', config: { provider: 'twilio', accountSid: 'AC1', from: '+15005550006', to: ['+14155550100'] }, credentials: { authToken: 'secret-token-value' } })).body;
    const changed = await s.admin.patch(`/notifications/endpoints/${sms.id}`, { name: 'renamed', config: { provider: 'twilio', accountSid: 'AC1', from: '+15005550006', to: ['+14155550199'] } });
    assert.equal(changed.status, 200, JSON.stringify(changed.body));
    assert.deepEqual([changed.body.name, changed.body.config.to, changed.body.credentials], ['renamed', ['+14155550199'], { authToken: true }]);
    assert.ok(!JSON.stringify(changed.body).includes('secret-token-value'));
    assertProblem(await s.admin.patch(`/notifications/endpoints/${sms.id}`, { type: 'webhook' }), 400, 'FF_INVALID_ENDPOINT');
  });

  it('asks for the credentials again when an endpoint is pointed somewhere else', async () => {
    const sms = (await create({ type: 'sms', name: 's', config: { provider: 'twilio', accountSid: 'AC1', from: '+15005550006', to: ['+14155550100'] }, credentials: { authToken: 'secret-token-value' } })).body;
    const moved = await s.admin.patch(`/notifications/endpoints/${sms.id}`, { config: { provider: 'twilio', accountSid: 'AC1', from: '+15005550006', to: ['+14155550100'], baseUrl: 'https://attacker.example' } });
    assertProblem(moved, 400, 'FF_MISSING_CREDENTIALS');
    assert.equal(moved.body.errors[0].path, '/credentials/authToken');
    const web = (await create({ type: 'webhook', name: 'w', config: { url: 'https://hooks.example.com/a' }, credentials: { secret: 'webhook-secret-0123456789' } })).body;
    assertProblem(await s.admin.patch(`/notifications/endpoints/${web.id}`, { config: { url: 'https://elsewhere.example/b' } }), 400, 'FF_MISSING_CREDENTIALS');
    const ok = await s.admin.patch(`/notifications/endpoints/${web.id}`, { config: { url: 'https://elsewhere.example/b' }, credentials: { secret: 'another-secret-0123456789' } });
    assert.equal(ok.status, 200);
    assert.equal((await s.admin.patch(`/notifications/endpoints/${web.id}`, { name: 'same place', config: { url: 'https://elsewhere.example/b' } })).status, 200);
  });

  it('answers unknown ids, unknown types and malformed bodies with specific errors', async () => {
    assertProblem(await s.admin.get('/notifications/endpoints/nope'), 404, 'FF_ENDPOINT_NOT_FOUND');
    assertProblem(await s.admin.get('/notifications/subscriptions/nope'), 404, 'FF_SUBSCRIPTION_NOT_FOUND');
    assertProblem(await s.admin.get('/notifications/deliveries/nope'), 404, 'FF_DELIVERY_NOT_FOUND');
    assertProblem(await s.admin.post('/notifications/deliveries/nope/resend'), 404, 'FF_DELIVERY_NOT_FOUND');
    assertProblem(await create({ type: 'pigeon', name: 'p' }), 400, 'FF_INVALID_ENDPOINT');
    assertProblem(await create('{"type": "webhook",'), 400, 'FF_MALFORMED_JSON');
    assertProblem(await create([1, 2]), 400, 'FF_INVALID_ENDPOINT');
    const sub = await s.admin.post('/notifications/subscriptions', { name: 'x', events: ['AlarmExploded'], endpoints: ['missing'], throttle: { max: 0 } });
    assertProblem(sub, 400, 'FF_INVALID_SUBSCRIPTION');
    assert.deepEqual(sub.body.errors.map((e: any) => e.path).sort(), ['/endpoints/0', '/events/0', '/throttle/max', '/throttle/windowSeconds'].sort());
    assertProblem(await s.admin.post('/notifications/subscriptions', { name: 'x', events: ['Custom'], endpoints: [hook], quietHours: { start: '22:00', end: '07:00', timezone: 'Mars/Olympus' } }), 400, 'FF_INVALID_SUBSCRIPTION');
    assertProblem(await s.admin.post('/notifications/send', {}), 400, 'FF_INVALID_NOTIFICATION');
    assertProblem(await s.admin.post('/notifications/send', { endpoints: ['missing'] }), 404, 'FF_ENDPOINT_NOT_FOUND');
    assertProblem(await s.admin.post('/notifications/events', { name: '' }), 400, 'FF_INVALID_NOTIFICATION');
    assertProblem(await s.admin.post('/notifications/events', { name: 'x', device: 'missing' }), 404, 'FF_DEVICE_NOT_FOUND');
    assertProblem(await s.anonymous.get('/notifications/endpoints'), 401, 'FF_AUTH_REQUIRED');
  });

  it('refuses to delete an endpoint that a subscription sends to', async () => {
    const sub = (await s.admin.post('/notifications/subscriptions', { name: 'x', events: ['Custom'], endpoints: [hook] })).body;
    assertProblem(await s.admin.delete(`/notifications/endpoints/${hook}`), 409, 'FF_CONFLICT');
    assert.equal((await s.admin.delete(`/notifications/subscriptions/${sub.id}`)).status, 204);
    assert.equal((await s.admin.delete(`/notifications/endpoints/${hook}`)).status, 204);
  });
});
