import assert from 'node:assert/strict';
import { startServer, type ServerProcess } from '../support/server';
import { startPushService, type PushService } from '../support/push-service';
import { startWebhookReceiver, type WebhookReceiver } from '../support/receivers';
import type { Api } from '../support/http';
import { until } from '../support/until';


describe('notification delivery through the real server', function () {
  this.timeout(90_000);
  let server: ServerProcess | null = null;
  let push: PushService | null = null;
  let hook: WebhookReceiver | null = null;
  afterEach(async () => {
    await server?.stop();
    await push?.close();
    await hook?.close();
    server = push = hook = null;
  });

  it('delivers web push encrypted for the browser and signed with the stored VAPID key; an expired subscription disables its endpoint', async () => {
    push = await startPushService();
    server = await startServer({ env: { NODE_EXTRA_CA_CERTS: push.caFile, FIELDFLOW_NOTIFY_ALLOW_PRIVATE: '127.0.0.1' } });
    let api: Api = await server.admin();
    const { publicKey } = (await api.get('/notifications/push/key')).body;
    assert.equal(Buffer.from(publicKey, 'base64url').length, 65);
    const browser = push.subscribe({ applicationServerKey: publicKey });
    const endpoint = await api.post('/notifications/push/subscriptions', { subscription: browser, name: 'laptop' });
    assert.equal(endpoint.status, 201, JSON.stringify(endpoint.body));
    await api.post('/notifications/subscriptions', { name: 'to my browser', events: ['Custom'], endpoints: [endpoint.body.id], template: { subject: 'Door {{data.door}}', body: '{{message}}' } });
    assert.equal((await api.post('/notifications/events', { name: 'door-open', severity: 'critical', message: 'Door 4 is open', data: { door: 4 } })).status, 202);
    const [msg] = await push.waitFor(1);
    const payload = JSON.parse(msg.plaintext);
    assert.deepEqual([payload.title, payload.body], ['Door 4', 'Door 4 is open']);
    assert.equal(msg.vapid.aud, push.url);
    assert.equal(msg.vapid.sub, 'mailto:fieldflow@localhost');
    assert.equal(msg.vapid.publicKey, publicKey);
    assert.equal(msg.urgency, 'high', 'critical events are urgent');

    // The VAPID keys were generated on the first start and are kept: subscriptions stay valid.
    await server.stop();
    server = await startServer({ dataDir: server.dataDir, env: { NODE_EXTRA_CA_CERTS: push.caFile, FIELDFLOW_NOTIFY_ALLOW_PRIVATE: '127.0.0.1' } });
    api = await server.admin();
    assert.equal((await api.get('/notifications/push/key')).body.publicKey, publicKey);

    push.respondWith(browser.endpoint, 410);
    const test = await api.post(`/notifications/endpoints/${endpoint.body.id}/test`);
    assert.equal(test.status, 202);
    const dead = await until(() => api.get(`/notifications/deliveries/${test.body.id}`), (r) => r.body.status === 'dead', 20_000);
    assert.equal(dead.body.attempts.length, 1, 'an expired subscription is not retried');
    assert.equal(dead.body.attempts[0].code, 'FF_PUSH_SUBSCRIPTION_EXPIRED');
    const disabled = (await api.get(`/notifications/endpoints/${endpoint.body.id}`)).body;
    assert.equal(disabled.enabled, false);
    assert.match(disabled.disabledReason, /410/);
    const next = await api.post(`/notifications/endpoints/${endpoint.body.id}/test`);
    const refused = await until(() => api.get(`/notifications/deliveries/${next.body.id}`), (r) => r.body.status === 'dead');
    assert.equal(refused.body.attempts[0].code, 'FF_ENDPOINT_DISABLED');
    assert.equal(push.received.length, 1);
  });

  it('survives SIGKILL with deliveries queued and in flight: an interrupted one is retried with the same idempotency key, every other one arrives exactly once', async () => {
    hook = await startWebhookReceiver();
    hook.delayMs = 700;
    const env = { FIELDFLOW_NOTIFY_CONCURRENCY: '2', FIELDFLOW_NOTIFY_BACKOFF_MS: '200', FIELDFLOW_NOTIFY_ALLOW_PRIVATE: '127.0.0.1' };
    server = await startServer({ env });
    let api = await server.admin();
    const ep = await api.post('/notifications/endpoints', { type: 'webhook', name: 'slow', config: { url: hook.url } });
    hook.secret = ep.body.secret;
    const ids: string[] = [];
    for (let i = 0; i < 16; i++) ids.push((await api.post('/notifications/send', { endpoints: [ep.body.id], body: `n${i}` })).body.items[0].id);
    // Kill the process while the receiver holds a request: that attempt was recorded before it went out.
    await hook.waitFor(4);
    await until(async () => hook!.pending, (n) => n >= 1, 20_000);
    await server.kill();
    const killedAt = Date.now();

    server = await startServer({ dataDir: server.dataDir, env });
    api = await server.admin();
    await until(() => api.get('/notifications/deliveries?status=sent&limit=100'), (r) => r.body.items.length === ids.length, 20_000);
    await new Promise((r) => setTimeout(r, 1000));
    const received = new Map<string, string[]>();
    for (const call of hook.calls) {
      assert.equal(call.verified, true);
      const id = call.headers['x-fieldflow-delivery'] as string;
      received.set(id, [...(received.get(id) ?? []), call.headers['idempotency-key'] as string]);
    }
    const deliveries = (await api.get('/notifications/deliveries?limit=100')).body.items as Array<{ id: string; attempts: Array<{ code: string | null }> }>;
    const interrupted = new Set(deliveries.filter((d) => d.attempts.some((a) => a.code === 'FF_UNAVAILABLE')).map((d) => d.id));
    const heldAtKill = new Set(hook.calls.filter((c) => c.arrivedAt <= killedAt && c.at > killedAt).map((c) => c.headers['x-fieldflow-delivery'] as string));
    assert.ok(heldAtKill.size >= 1, 'a request was held by the receiver at the kill');
    for (const id of heldAtKill) {
      assert.ok(interrupted.has(id), `${id} was on the wire at the kill but its record does not say it was interrupted`);
      assert.equal(received.get(id)?.length, 2, `${id}: sent before the kill, and once more after it`);
    }
    for (const id of ids) {
      const keys = received.get(id) ?? [];
      assert.ok(keys.length >= 1, `${id} never arrived`);
      assert.ok(keys.every((k) => k === id), 'every attempt carries the same idempotency key');
      if (!interrupted.has(id)) assert.equal(keys.length, 1, `${id} was not interrupted, yet arrived ${keys.length} times`);
    }
  });
});
