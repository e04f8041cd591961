import assert from 'node:assert/strict';
import { startApiServer, type ApiServer } from '../../support/api-server';
import { startWebhookReceiver, type WebhookReceiver } from '../../support/receivers';

describe('notification endpoint isolation', () => {
  let slow: WebhookReceiver;
  let fast: WebhookReceiver;
  let s: ApiServer;
  beforeEach(async () => {
    [slow, fast] = await Promise.all([startWebhookReceiver(), startWebhookReceiver()]);
    slow.delayMs = 1500;
    s = await startApiServer({ notify: { concurrency: 2, allowPrivate: ['127.0.0.1'] } });
  });
  afterEach(async () => {
    await s.close();
    await Promise.all([slow.close(), fast.close()]);
  });

  it('delivers to a healthy endpoint and ingests messages while another endpoint is stuck', async () => {
    const a = (await s.admin.post('/notifications/endpoints', { type: 'webhook', name: 'slow', config: { url: slow.url } })).body.id;
    const b = (await s.admin.post('/notifications/endpoints', { type: 'webhook', name: 'fast', config: { url: fast.url } })).body.id;
    const device = (await s.admin.post('/devices', { name: 'd' })).body.id;
    for (let i = 0; i < 10; i++) await s.admin.post('/notifications/send', { endpoints: [a], body: `slow ${i}` });
    await s.admin.post('/notifications/send', { endpoints: [b], body: 'fast' });
    const [call] = await fast.waitFor(1);
    assert.equal(call.body.text, 'fast');
    const stored = await s.admin.post(`/devices/${device}/channels/temp/messages`, { c: 21 });
    assert.equal(stored.status, 201);
    assert.equal(slow.calls.length, 0, 'the slow endpoint has not answered a single request yet');
    const stats = s.platform.notify.pipelineStats();
    assert.deepEqual([stats.inFlight, stats.waiting], [2, 8], 'the slow endpoint holds only its own lane: 2 in flight, 8 waiting');
  });
});
