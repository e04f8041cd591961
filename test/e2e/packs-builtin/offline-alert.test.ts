import assert from 'node:assert/strict';
import type { MqttClient } from 'mqtt';
import { startServer, type ServerProcess } from '../../support/server';
import type { Api } from '../../support/http';
import { connect, waitFor } from '../../support/mqtt';
import { startTwilioReceiver, type SmsReceiver } from '../../support/receivers';
import { startPushService, type PushService } from '../../support/push-service';
import { importBuiltin, removeBuiltin } from './support';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('the built-in offline-alert pack, imported from flows/ into the real server', function () {
  this.timeout(60_000);
  let sms: SmsReceiver;
  let push: PushService;
  let server: ServerProcess;
  let admin: Api;
  let client: MqttClient | undefined;

  before(async () => {
    [sms, push] = await Promise.all([startTwilioReceiver(), startPushService()]);
    server = await startServer({ env: { NODE_EXTRA_CA_CERTS: push.caFile, FIELDFLOW_NOTIFY_BACKOFF_MS: '100', FIELDFLOW_NOTIFY_ALLOW_PRIVATE: '127.0.0.1' } });
    admin = await server.admin();
  });
  afterEach(function () {
    if (this.currentTest?.state === 'failed') process.stderr.write(`--- server output ---\n${server.output()}\n`);
  });
  after(async () => {
    await client?.endAsync();
    await server?.stop();
    await Promise.all([sms?.close(), push?.close()]);
  });

  it('texts and pushes an alert once a device has sent nothing for the configured time, and not while it keeps sending', async () => {
    // A browser that enabled notifications: the push endpoint exists before the pack, which names it.
    const { publicKey } = (await admin.get('/notifications/push/key')).body;
    const browser = push.subscribe({ applicationServerKey: publicKey });
    const pushEndpoint = (await admin.post('/notifications/push/subscriptions', { subscription: browser, name: 'ops laptop' })).body;
    assert.equal(pushEndpoint.type, 'push');

    const device = (await admin.post('/devices', { name: 'pump-3', labels: { site: 'west' } })).body;
    client = await connect(server.mqttUrl, { username: device.id, password: device.token, clientId: device.id });
    const send = () => client!.publishAsync(`devices/${device.id}/channels/telemetry`, JSON.stringify({ flow: 12 }), { qos: 1 });
    await send();

    const { installed } = await importBuiltin(
      server,
      admin,
      'offline-alert',
      {
        OFFLINE_SECONDS: 2,
        CHANNEL: 'telemetry',
        SELECTOR: 'site=west',
        SMS_TO: ['+14155550100'],
        SMS_FROM: '+15005550006',
        TWILIO_ACCOUNT_SID: sms.accountSid,
        TWILIO_AUTH_TOKEN: sms.authToken,
        TWILIO_BASE_URL: sms.url,
        PUSH_ENDPOINTS: [pushEndpoint.id],
      },
      { nodes: 4, types: ['comment', 'device trigger', 'function', 'notify'] },
    );
    const byKind = Object.fromEntries(installed.resources.map((r) => [r.kind, r]));
    assert.deepEqual(installed.resources.map((r) => [r.kind, r.name]).sort(), [['endpoints', 'Offline alert: SMS'], ['subscriptions', 'Offline alert']]);
    const subscription = (await admin.get(`/notifications/subscriptions/${byKind.subscriptions.id}`)).body;
    assert.deepEqual(subscription.endpoints, [byKind.endpoints.id, pushEndpoint.id], "the pack's SMS endpoint, then the push endpoints of the parameter");
    assert.deepEqual([subscription.events, subscription.customNames], [['Custom'], ['offline-alert']]);

    // Sending every half second for three seconds: never silent for two.
    let lastSent = 0;
    for (let i = 0; i < 6; i++) {
      lastSent = Date.now();
      await send();
      await sleep(500);
    }
    assert.equal(sms.messages.length + push.received.length, 0, 'no alert while data flows');

    const [text] = await sms.waitFor(1, 15_000);
    const [pushed] = await push.waitFor(1, 15_000);
    assert.ok(Date.now() - lastSent >= 2000, 'not before the silence was long enough');
    assert.deepEqual([text.to, text.from], ['+14155550100', '+15005550006']);
    assert.match(text.body, /^pump-3 has sent nothing on telemetry for 2 seconds \(silent since \d{4}-\d\d-\d\dT[\d:.]+Z\)\.$/);
    const shown = JSON.parse(pushed.plaintext);
    assert.equal(shown.title, 'pump-3 is offline');
    assert.equal(shown.body, text.body, 'the push says what the SMS says');
    assert.equal(pushed.endpoint, browser.endpoint);
    const alarm = (await admin.get(`/alarms?device=${device.id}&type=no-data`)).body.items[0];
    assert.equal(alarm?.status, 'active');

    // Data again: the alarm clears.
    await send();
    await waitFor('the alarm cleared', async () => (await admin.get(`/alarms/${alarm.id}`)).body.status === 'cleared');
    assert.equal(sms.messages.length, 1, 'one silence, one text');

    await removeBuiltin(server, admin, installed);
    assert.equal((await admin.get(`/notifications/endpoints/${pushEndpoint.id}`)).status, 200, 'the push endpoint was not the pack\'s: it stays');
  });
});
