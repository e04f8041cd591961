import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { launchServer, startServer, type ServerProcess } from '../support/server';
import { startWebhookReceiver, type WebhookReceiver } from '../support/receivers';
import { Api, type Reply } from '../support/http';
import { connect, waitFor } from '../support/mqtt';
import { metric, parseMetrics, type Sample } from '../support/prometheus';
import { until } from '../support/until';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A GET that reports a refused connection as null instead of throwing. */
async function tryGet(api: Api, p: string): Promise<Reply | null> {
  try {
    return await api.get(p);
  } catch {
    return null;
  }
}

/** The status an HTTP upgrade to MQTT over WebSocket gets (101 when it is accepted). */
function upgradeStatus(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { headers: { Connection: 'Upgrade', Upgrade: 'websocket', 'Sec-WebSocket-Version': '13', 'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==', 'Sec-WebSocket-Protocol': 'mqtt' } });
    req.once('upgrade', (res, socket) => {
      socket.destroy();
      resolve(res.statusCode ?? 0);
    });
    req.once('response', (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.once('error', reject);
  });
}

function tcpConnects(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

describe('health, readiness and metrics of the real server', function () {
  this.timeout(90_000);
  let server: ServerProcess | null = null;
  let hook: WebhookReceiver | null = null;
  const clients: MqttClient[] = [];
  afterEach(async function () {
    if (this.currentTest?.state === 'failed' && server) process.stderr.write(`--- server output ---\n${server.output()}\n`);
    await Promise.all(clients.splice(0).map((c) => c.endAsync(true)));
    await server?.stop();
    await hook?.close();
    server = hook = null;
  });

  const scrape = async (s: ServerProcess, token: string | undefined): Promise<Sample[]> => {
    const r = await new Api(s.httpUrl, token).get('/metrics');
    assert.equal(r.status, 200, JSON.stringify(r.body));
    return parseMetrics(r.body);
  };

  it('answers liveness from the moment the HTTP port opens, but readiness and the API only once the flows run and the MQTT listener is up', async () => {
    const s = (server = await launchServer());
    const anonymous = new Api(s.apiUrl);
    const seen: Array<{ live: Reply; api: Reply; ws: number; ready: Reply }> = [];
    for (;;) {
      const live = await tryGet(anonymous, '/health/live');
      if (!live) {
        await sleep(5);
        continue;
      }
      // Readiness last: when it says "starting", everything before it in the round was asked while starting.
      const api = await anonymous.get('/devices');
      const ws = await upgradeStatus(`${s.httpUrl}/mqtt`);
      const ready = await anonymous.get('/health/ready');
      seen.push({ live, api, ws, ready });
      if (ready.status === 200) break;
      assert.ok(seen.length < 5000, 'the server became ready');
    }
    const starting = seen.filter((x) => x.ready.status === 503);
    assert.ok(starting.length >= 1, 'readiness answered 503 while the server started');
    for (const { live, ready, api, ws } of starting) {
      assert.equal(ws, 503, 'MQTT over WebSocket waits for the start');
      assert.equal(live.status, 200);
      assert.equal(ready.body.code, 'FF_NOT_READY');
      assert.match(ready.contentType, /^application\/problem\+json/);
      assert.ok(ready.body.failing.includes('server'), JSON.stringify(ready.body));
      assert.deepEqual(ready.body.checks.find((c: { name: string }) => c.name === 'server'), { name: 'server', ok: false, detail: 'starting' });
      assert.equal(api.status, 503, 'the API waits for the start');
      assert.equal(api.body.code, 'FF_UNAVAILABLE');
      assert.equal(api.headers.get('retry-after'), '5');
    }
    const last = seen[seen.length - 1];
    assert.deepEqual(last.ready.body, {
      status: 'ready',
      checks: [
        { name: 'platform', ok: true, detail: 'running' },
        { name: 'storage', ok: true },
        { name: 'memory', ok: true, detail: { state: 'ok', ratio: 0, estimatedBytes: 0, budgetBytes: last.ready.body.checks[2].detail.budgetBytes } },
        { name: 'server', ok: true, detail: 'running' },
      ],
    });
    // Ready means everything is up: the MQTT listener accepts, and the API answers for itself.
    assert.equal(await tcpConnects(s.mqttPort), true);
    assert.equal(await upgradeStatus(`${s.httpUrl}/mqtt`), 101);
    assert.equal((await anonymous.get('/devices')).body.code, 'FF_AUTH_REQUIRED');
    await s.running;
  });

  it('counts MQTT messages stored and refused by code, connected devices and group commits in /metrics, which needs a token', async () => {
    const s = (server = await startServer());
    const api = await s.admin();
    const device = (await api.post('/devices', { name: 'meter' })).body;
    assert.equal((await new Api(s.httpUrl).get('/metrics')).status, 401);
    assert.equal((await new Api(s.httpUrl, device.token).get('/metrics')).status, 403);

    const client = await connect(s.mqttUrl, { clientId: device.id, username: device.id, password: device.token });
    clients.push(client);
    for (let i = 0; i < 5; i++) await client.publishAsync(`devices/${device.id}/channels/temp`, JSON.stringify({ t: i }), { qos: 1 });
    // A resend with the same client message id is acknowledged, not stored again, and not counted again.
    await client.publishAsync(`devices/${device.id}/channels/temp/sim-1`, JSON.stringify({ t: 5 }), { qos: 1 });
    await client.publishAsync(`devices/${device.id}/channels/temp/sim-1`, JSON.stringify({ t: 5 }), { qos: 1 });
    await client.publishAsync(`devices/${device.id}/channels/temp`, '{"t":', { qos: 1 });
    await client.publishAsync(`devices/${device.id}/channels/temp`, '[1, 2', { qos: 1 });
    await client.publishAsync(`devices/${device.id}/tags/app`, JSON.stringify({ mode: 'eco' }), { qos: 1 });
    let m = await scrape(s, api.token);
    assert.equal((await api.get(`/devices/${device.id}/channels/temp/messages`)).body.items.length, 6);
    assert.equal(metric(m, 'fieldflow_messages_ingested_total', { transport: 'mqtt' }), 7);
    assert.equal(metric(m, 'fieldflow_messages_refused_total', { transport: 'mqtt', code: 'FF_MALFORMED_JSON' }), 2);
    assert.equal(metric(m, 'fieldflow_devices_connected'), 1);
    assert.equal(metric(m, 'fieldflow_devices_registered'), 1);
    assert.ok(metric(m, 'fieldflow_group_commit_batch_messages_sum')! >= 7, 'every stored message went through a group commit');
    assert.equal(metric(m, 'fieldflow_group_commit_write_seconds_count'), metric(m, 'fieldflow_group_commit_batch_messages_count'));
    assert.equal(metric(m, 'fieldflow_ready'), 1);
    assert.equal(metric(m, 'fieldflow_health_check_ok', { check: 'server' }), 1);
    assert.equal(metric(m, 'fieldflow_notify_outbox_depth'), 0);
    assert.equal(metric(m, 'fieldflow_ota_rollouts', { status: 'running' }), 0);
    assert.ok(metric(m, 'fieldflow_process_resident_memory_bytes')! > 0);

    // A publish outside its own namespace closes the connection: refused, and the device is gone.
    const closed = new Promise<void>((r) => client.once('close', () => r()));
    client.publish('devices/someone-else/channels/temp', '{}', { qos: 1 });
    await closed;
    client.end(true);
    await until(() => scrape(s, api.token), (x) => metric(x, 'fieldflow_devices_connected') === 0);
    m = await scrape(s, api.token);
    assert.equal(metric(m, 'fieldflow_messages_refused_total', { transport: 'mqtt', code: 'FF_MQTT_TOPIC_DENIED' }), 1);
    assert.equal(metric(m, 'fieldflow_messages_ingested_total', { transport: 'mqtt' }), 7);
  });

  it('is not ready while storage writes fail (the message file on a full device), holds the PUBACK, and is ready again once the resent message is stored', async () => {
    const s = (server = await startServer());
    const api = await s.admin();
    const device = (await api.post('/devices', { name: 'd' })).body;
    // Not the connect() helper: it ends the client on its first close, and this one must reconnect and resend.
    const client = await mqtt.connectAsync(s.mqttUrl, { clientId: device.id, username: device.id, password: device.token, reconnectPeriod: 100, protocolVersion: 4 });
    clients.push(client);
    await client.publishAsync(`devices/${device.id}/channels/temp`, JSON.stringify({ t: 1 }), { qos: 1 });
    const anonymous = new Api(s.apiUrl);
    assert.equal((await anonymous.get('/health/ready')).status, 200);

    // A real fault: the message log file now points at /dev/full, where every write fails with ENOSPC.
    const file = path.join(s.dataDir, 'platform', 'messages', 'messages-0.db');
    fs.renameSync(file, `${file}.aside`);
    fs.symlinkSync('/dev/full', file);
    let acked = false;
    const during = client.publishAsync(`devices/${device.id}/channels/temp`, JSON.stringify({ t: 2 }), { qos: 1 }).then(() => (acked = true));
    const notReady = await until(() => anonymous.get('/health/ready'), (r) => r.status === 503);
    assert.equal(notReady.body.code, 'FF_NOT_READY');
    assert.deepEqual(notReady.body.failing, ['storage']);
    const storage = notReady.body.checks.find((c: { name: string }) => c.name === 'storage');
    assert.equal(storage.detail[0].source, 'messages');
    assert.match(storage.detail[0].code, /^FF_STORAGE_(FULL|UNAVAILABLE)$/);
    assert.ok(!JSON.stringify(notReady.body).includes(s.dataDir), 'no file path is shown');
    assert.equal((await anonymous.get('/health/live')).status, 200, 'liveness does not depend on storage');
    const m = await scrape(s, api.token);
    assert.equal(metric(m, 'fieldflow_storage_write_failing', { source: 'messages' }), 1);
    assert.equal(metric(m, 'fieldflow_ready'), 0);
    assert.equal(metric(m, 'fieldflow_health_check_ok', { check: 'storage' }), 0);
    const refused = ['FF_STORAGE_FULL', 'FF_STORAGE_UNAVAILABLE'].map((code) => metric(m, 'fieldflow_messages_refused_total', { transport: 'mqtt', code }) ?? 0);
    assert.ok(refused[0] + refused[1] >= 1, 'the refused publishes are counted under a storage code');
    assert.equal(acked, false, 'no PUBACK for a message that is not stored');

    fs.unlinkSync(file);
    fs.renameSync(`${file}.aside`, file);
    await during;
    await until(() => anonymous.get('/health/ready'), (r) => r.status === 200);
    const after = await scrape(s, api.token);
    assert.equal(metric(after, 'fieldflow_storage_write_failing', { source: 'messages' }), undefined);
    assert.equal(metric(after, 'fieldflow_ready'), 1);
    const stored = (await api.get(`/devices/${device.id}/channels/temp/messages?order=asc`)).body.items.map((x: { data: { t: number } }) => x.data.t);
    assert.deepEqual(stored, [1, 2]);
  });

  it('is not ready while it stops, with a delivery in flight in the outbox (in public metrics), and the API and MQTT refuse until the port closes', async () => {
    hook = await startWebhookReceiver();
    hook.delayMs = 30_000;
    const s = (server = await startServer({ env: { FIELDFLOW_METRICS_PUBLIC: 'true', FIELDFLOW_NOTIFY_ALLOW_PRIVATE: '127.0.0.1' } }));
    const api = await s.admin();
    const ep = (await api.post('/notifications/endpoints', { type: 'webhook', name: 'slow', config: { url: hook.url } })).body;
    assert.equal((await api.post('/notifications/send', { endpoints: [ep.id], body: 'held' })).status, 202);
    await waitFor('the receiver to hold the request', () => hook!.pending === 1, 10_000);
    const m = await scrape(s, undefined);
    assert.equal(metric(m, 'fieldflow_notify_outbox_depth'), 1);
    assert.equal(metric(m, 'fieldflow_notify_deliveries', { status: 'sending' }), 1);
    assert.equal(metric(m, 'fieldflow_notify_deliveries', { status: 'sent' }), 0);

    const anonymous = new Api(s.apiUrl);
    const exited = s.stop();
    // The stop waits a few seconds for the send in flight; the port stays open meanwhile.
    const ready = await until(() => tryGet(anonymous, '/health/ready'), (r) => r === null || r.status === 503);
    assert.ok(ready, 'readiness answered while stopping');
    assert.equal(ready.body.code, 'FF_NOT_READY');
    assert.deepEqual(ready.body.checks.find((c: { name: string }) => c.name === 'server'), { name: 'server', ok: false, detail: 'stopping' });
    const live = await anonymous.get('/health/live');
    assert.equal(live.status, 200);
    assert.ok(['running', 'stopping'].includes(live.body.phase));
    const refused = await api.get('/devices');
    assert.equal(refused.status, 503);
    assert.equal(refused.body.code, 'FF_UNAVAILABLE');
    assert.match(refused.body.detail, /stopping/);
    // No device connects while the flows shut down: MQTT over WebSocket is refused and the TCP listener is closed.
    assert.equal(await upgradeStatus(`${s.httpUrl}/mqtt`), 503);
    assert.equal(await tcpConnects(s.mqttPort), false);
    assert.equal(await exited, 0);
  });
});
