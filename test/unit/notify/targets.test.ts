import assert from 'node:assert/strict';
import dns from 'node:dns';
import { startApiServer, type ApiServer } from '../../support/api-server';
import { tempDir } from '../../support/platform';
import { startWebhookReceiver, type WebhookReceiver } from '../../support/receivers';
import { until } from '../../support/until';
import type { Reply } from '../../support/http';
import { assertProblem } from '../api/problems';
import type { Resolver } from '../../../runtime/notify/targets';

/**
 * A DNS that answers the names it knows with the next of its answers (the last one repeats) and
 * asks the system for the rest: a name can resolve one way when saved and another when used.
 */
function scriptedDns(answers: Record<string, string[][]>): Resolver & { asked: string[] } {
  const asked: string[] = [];
  const resolver: Resolver = (hostname, options, callback) => {
    const script = answers[hostname];
    if (!script) return dns.lookup(hostname, options, callback);
    asked.push(hostname);
    const next = script.length > 1 ? script.shift()! : script[0];
    setImmediate(() => callback(null, next.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }))));
  };
  return Object.assign(resolver, { asked });
}

const PUBLIC = '93.184.215.14';

describe('notification targets', () => {
  let s: ApiServer | null = null;
  let hook: WebhookReceiver;
  beforeEach(async () => (hook = await startWebhookReceiver()));
  afterEach(async () => {
    await s?.close();
    s = null;
    await hook.close();
  });

  const port = () => new URL(hook.url).port;
  const webhook = (url: string) => ({ type: 'webhook', name: 'hook', config: { url } });
  const smsGateway = (url: string) => ({ type: 'sms', name: 'gateway', config: { provider: 'http', url, to: ['+14155550100'] } });
  const twilio = (baseUrl: string) => ({ type: 'sms', name: 'twilio', config: { provider: 'twilio', accountSid: 'AC1', from: '+15005550006', to: ['+14155550100'], baseUrl }, credentials: { authToken: 'twilio-token-123' } });

  async function deadAttempt(endpoint: string) {
    const sent = await s!.admin.post('/notifications/send', { endpoints: [endpoint], body: 'hello' });
    assert.equal(sent.status, 202, JSON.stringify(sent.body));
    const dead = await until(() => s!.admin.get(`/notifications/deliveries/${sent.body.items[0].id}`), (r) => r.body.status === 'dead' || r.body.status === 'sent');
    assert.equal(dead.body.status, 'dead', JSON.stringify(dead.body));
    return dead.body.attempts as Array<{ code: string; error: string }>;
  }

  it('refuses webhook, SMS gateway and Twilio URLs that name loopback, link-local, private or metadata addresses, in any spelling', async () => {
    s = await startApiServer({ notify: { resolver: scriptedDns({}) } });
    const forms = [
      'http://127.0.0.1:9/hook',
      'http://localhost:9/hook',
      'http://LOCALHOST./hook',
      'http://api.localhost/hook',
      'http://169.254.169.254/latest/meta-data/',
      'http://[::ffff:127.0.0.1]:9/hook',
      'http://[::ffff:a9fe:a9fe]/latest/meta-data/',
      'http://2130706433:9/hook',
      'http://0x7f.1:9/hook',
      'http://0177.0.0.1:9/hook',
      'http://[::1]:9/hook',
      'http://[fd00:ec2::254]/latest/meta-data/',
      'http://10.1.2.3/hook',
      'http://172.16.0.1/hook',
      'http://192.168.1.1/hook',
      'http://100.100.100.200/latest/meta-data/',
      'http://0.0.0.0:9/hook',
      'http://[64:ff9b::7f00:1]/hook',
    ];
    for (const url of forms) {
      for (const [body, path] of [
        [webhook(url), '/config/url'],
        [smsGateway(url), '/config/url'],
        [twilio(url.replace(/\/[^/]*$/, '')), '/config/baseUrl'],
      ] as const) {
        const r: Reply = await s.admin.post('/notifications/endpoints', body);
        assertProblem(r, 400, 'FF_FORBIDDEN_TARGET');
        assert.equal(r.body.errors[0].path, path, url);
        assert.match(r.body.errors[0].message, /FIELDFLOW_NOTIFY_ALLOW_PRIVATE/);
      }
    }
    const subscription = { endpoint: 'https://127.0.0.1:9/push/abc', keys: { p256dh: Buffer.concat([Buffer.from([4]), Buffer.alloc(64, 7)]).toString('base64url'), auth: Buffer.alloc(16, 1).toString('base64url') } };
    const push = await s.admin.post('/notifications/push/subscriptions', { subscription });
    assertProblem(push, 400, 'FF_FORBIDDEN_TARGET');
    assert.deepEqual((await s.admin.get('/notifications/endpoints')).body.items, [], 'nothing was stored');
  });

  it('refuses a host name that resolves to an internal address, and takes one that resolves to a public one', async () => {
    s = await startApiServer({ notify: { resolver: scriptedDns({ 'hooks.internal.test': [['10.0.0.5']], 'metadata.test': [['169.254.169.254']], 'loopback.test': [['::1', '127.0.0.1']], 'hooks.example.test': [[PUBLIC]] }) } });
    for (const host of ['hooks.internal.test', 'metadata.test', 'loopback.test']) {
      const r = await s.admin.post('/notifications/endpoints', webhook(`https://${host}/hook`));
      assertProblem(r, 400, 'FF_FORBIDDEN_TARGET');
      assert.match(r.body.detail, new RegExp(`${host.replace(/\./g, '\\.')} resolves to`));
    }
    const ok = await s.admin.post('/notifications/endpoints', webhook('https://hooks.example.test/hook'));
    assert.equal(ok.status, 201, JSON.stringify(ok.body));
    const moved = await s.admin.patch(`/notifications/endpoints/${ok.body.id}`, { config: { url: 'https://hooks.internal.test/hook' }, credentials: { secret: 'another-secret-0123456789' } });
    assertProblem(moved, 400, 'FF_FORBIDDEN_TARGET');
    assert.equal((await s.admin.get(`/notifications/endpoints/${ok.body.id}`)).body.config.url, 'https://hooks.example.test/hook');
  });

  it('checks the address a send actually connects to, so a name that now resolves to loopback (DNS rebinding) gets nothing', async () => {
    const dnsScript = scriptedDns({ 'rebind.test': [[PUBLIC], ['127.0.0.1']], 'sms.rebind.test': [[PUBLIC], ['127.0.0.1']] });
    s = await startApiServer({ notify: { resolver: dnsScript, maxAttempts: 3, backoffBaseMs: 10, backoffMaxMs: 20 } });
    const created = await s.admin.post('/notifications/endpoints', webhook(`http://rebind.test:${port()}/hook`));
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const gateway = await s.admin.post('/notifications/endpoints', smsGateway(`http://sms.rebind.test:${port()}/sms`));
    assert.equal(gateway.status, 201, JSON.stringify(gateway.body));
    for (const endpoint of [created.body.id, gateway.body.id]) {
      const attempts = await deadAttempt(endpoint);
      assert.equal(attempts.length, 1, 'a refused address is not retried');
      assert.equal(attempts[0].code, 'FF_FORBIDDEN_TARGET');
      assert.match(attempts[0].error, /rebind\.test resolves to 127\.0\.0\.1, a loopback address/);
    }
    assert.ok(dnsScript.asked.length >= 4, 'each name was looked up again to connect');
    assert.equal(hook.calls.length, 0, 'nothing reached the loopback receiver');
  });

  it('refuses at send time an endpoint whose address was allowed when it was saved, once it is not', async () => {
    const dataDir = tempDir();
    s = await startApiServer({ dataDir, notify: { allowPrivate: ['127.0.0.1'] } });
    const ep = await s.admin.post('/notifications/endpoints', webhook(hook.url));
    assert.equal(ep.status, 201, JSON.stringify(ep.body));
    await s.close();
    s = await startApiServer({ dataDir });
    const attempts = await deadAttempt(ep.body.id);
    assert.deepEqual(attempts.map((a) => a.code), ['FF_FORBIDDEN_TARGET']);
    assert.match(attempts[0].error, /127\.0\.0\.1 is a loopback address/);
    assert.equal(hook.calls.length, 0);
  });

  it('reaches only the addresses FIELDFLOW_NOTIFY_ALLOW_PRIVATE lists', async () => {
    s = await startApiServer({ notify: { allowPrivate: ['127.0.0.1', '10.20.0.0/16'] } });
    const ep = await s.admin.post('/notifications/endpoints', webhook(hook.url));
    assert.equal(ep.status, 201, JSON.stringify(ep.body));
    hook.secret = ep.body.secret;
    await s.admin.post('/notifications/send', { endpoints: [ep.body.id], body: 'hello' });
    const [call] = await hook.waitFor(1);
    assert.equal(call.verified, true);
    assert.equal((await s.admin.post('/notifications/endpoints', webhook('http://10.20.3.4/hook'))).status, 201);
    for (const url of ['http://10.21.0.1/hook', 'http://127.0.0.2/hook', 'http://[::1]/hook', 'http://169.254.169.254/']) {
      assertProblem(await s.admin.post('/notifications/endpoints', webhook(url)), 400, 'FF_FORBIDDEN_TARGET');
    }
  });

  it("keeps only a short, printable excerpt of a target's error page in the delivery record", async () => {
    s = await startApiServer({ notify: { allowPrivate: ['127.0.0.1'] } });
    hook.status = 400;
    hook.page = `<html><head><title>400 Bad Request</title></head><body>\u001b[31mnope\u0007 ${'internal detail '.repeat(500)}</body></html>`;
    const ep = await s.admin.post('/notifications/endpoints', webhook(hook.url));
    const [attempt] = await deadAttempt(ep.body.id);
    assert.equal(attempt.code, 'FF_PROVIDER_REJECTED');
    assert.match(attempt.error, /^the webhook receiver answered 400: 400 Bad Request \[31mnope internal detail/);
    assert.ok(attempt.error.length <= 'the webhook receiver answered 400: '.length + 121, `${attempt.error.length} characters`);
    assert.doesNotMatch(attempt.error, /[\u0000-\u001f\u007f<>]/);
  });
});
