import assert from 'node:assert/strict';
import type { MqttClient } from 'mqtt';
import { startServer, type ServerProcess } from '../support/server';
import { Api } from '../support/http';
import { connect } from '../support/mqtt';

interface Device {
  id: string;
  token: string;
}

/** Publish {seq} messages with QoS 1, up to `window` in flight, recording each PUBACKed seq. */
function mqttBurst(client: MqttClient, topic: string, acked: Set<number>, window: number): { stop(): void } {
  let seq = 0;
  let stopped = false;
  const next = () => {
    if (stopped || client.disconnecting || !client.connected) return;
    const n = seq++;
    client.publish(topic, JSON.stringify({ seq: n, via: 'mqtt', pad: 'x'.repeat(64) }), { qos: 1 }, (err) => {
      if (!err) acked.add(n);
      next();
    });
  };
  for (let i = 0; i < window; i++) next();
  return { stop: () => (stopped = true) };
}

/** POST {seq} messages back to back, recording each seq answered with 201. */
function httpBurst(api: Api, path: string, acked: Set<number>): { stop(): void } {
  let stopped = false;
  void (async () => {
    for (let seq = 0; !stopped; seq++) {
      try {
        const r = await api.post(path, { seq, via: 'http' });
        if (r.status === 201) acked.add(seq);
      } catch {
        return; // the server is gone
      }
    }
  })();
  return { stop: () => (stopped = true) };
}

async function allMessages(api: Api, deviceId: string, channel: string): Promise<Array<{ id: string; data: any }>> {
  const items: Array<{ id: string; data: any }> = [];
  let after = '';
  for (;;) {
    const r = await api.get(`/devices/${deviceId}/channels/${channel}/messages?order=asc&limit=1000${after ? `&after=${after}` : ''}`);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    items.push(...r.body.items);
    if (!r.body.next) return items;
    after = r.body.next;
  }
}

// Retention must not trim during the burst, or "missing" would mean "trimmed".
const env = { FIELDFLOW_RETENTION_MAX_COUNT: '10000000' };

describe('durability across kill -9', function () {
  this.timeout(120_000);
  let first: ServerProcess | undefined;
  let second: ServerProcess | undefined;

  afterEach(async function () {
    if (this.currentTest?.state === 'failed') {
      process.stderr.write(`--- first server ---\n${first?.output()}\n--- second server ---\n${second?.output()}\n`);
    }
    await first?.kill();
    await second?.stop();
  });

  it('keeps every message that was acknowledged (PUBACK or 201) when the process is killed mid-burst', async () => {
    first = await startServer({ env });
    const admin = await first.admin();
    const devices: Device[] = [];
    for (let i = 0; i < 4; i++) {
      const r = await admin.post('/devices', { name: `burst-${i}` });
      devices.push({ id: r.body.id, token: r.body.token });
    }
    const clients = await Promise.all(devices.map((d) => connect(first!.mqttUrl, { clientId: d.id, username: d.id, password: d.token })));
    const mqttAcked = devices.map(() => new Set<number>());
    const httpAcked = new Set<number>();
    const bursts = [
      ...clients.map((c, i) => mqttBurst(c, `devices/${devices[i].id}/channels/burst`, mqttAcked[i], 32)),
      httpBurst(new Api(first.apiUrl, devices[0].token), `/devices/${devices[0].id}/channels/http/messages`, httpAcked),
    ];

    // Let the burst run, then kill the server while messages are still in flight.
    const enough = () => mqttAcked.reduce((n, s) => n + s.size, 0) >= 4000 && httpAcked.size >= 50;
    const deadline = Date.now() + 30_000;
    while (!enough() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    await first.kill();
    bursts.forEach((b) => b.stop());
    clients.forEach((c) => c.end(true));
    const total = mqttAcked.reduce((n, s) => n + s.size, 0);
    assert.ok(total >= 4000, `only ${total} MQTT messages acknowledged before the kill`);

    second = await startServer({ dataDir: first.dataDir, env });
    const api = await second.admin();
    for (let i = 0; i < devices.length; i++) {
      const items = await allMessages(api, devices[i].id, 'burst');
      const seqs = new Set(items.map((m) => m.data.seq));
      const missing = [...mqttAcked[i]].filter((s) => !seqs.has(s));
      assert.deepEqual(missing, [], `device ${i}: ${missing.length} acknowledged messages lost`);
      assert.equal(new Set(items.map((m) => m.id)).size, items.length, 'duplicate message ids');
      // The aggregate was rebuilt from the log: it is the merge of every stored message, so the last one's seq.
      const agg = (await api.get(`/devices/${devices[i].id}/channels/burst/aggregate`)).body;
      assert.equal(agg.lastMessageId, items[items.length - 1].id);
      assert.equal(agg.data.seq, items[items.length - 1].data.seq);
    }
    const http = new Set((await allMessages(api, devices[0].id, 'http')).map((m) => m.data.seq));
    assert.deepEqual([...httpAcked].filter((s) => !http.has(s)), [], 'acknowledged HTTP messages lost');

    // And the restarted server takes new messages with ids after the old ones.
    const before = await allMessages(api, devices[1].id, 'burst');
    const r = await new Api(second.apiUrl, devices[1].token).post(`/devices/${devices[1].id}/channels/burst/messages`, { seq: -1 });
    assert.equal(r.status, 201);
    assert.ok(BigInt(r.body.id) > BigInt(before[before.length - 1].id));
  });
});
