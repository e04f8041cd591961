import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import type { MqttClient } from 'mqtt';
import { startApiServer, type ApiServer } from '../../support/api-server';
import { Api } from '../../support/http';
import { connect, waitFor } from '../../support/mqtt';
import { fullableDisk, type FullableDisk } from '../../support/full-disk';
import { createLogger } from '../../../runtime/log';
import { mergePatch } from '../../../runtime/channels/merge-patch';
import type { PartialPlatformOptions } from '../../../runtime';
import { assertProblem } from './problems';

/** What a QoS 1 publish got back: a PUBACK, or the connection closed (or nothing) instead. */
function publishOutcome(client: MqttClient, topic: string, payload: string, waitMs = 3000): Promise<'acked' | 'not acked'> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve('not acked'), waitMs);
    client.publish(topic, payload, { qos: 1 }, (err) => {
      clearTimeout(timer);
      resolve(err ? 'not acked' : 'acked');
    });
    client.once('close', () => {
      clearTimeout(timer);
      resolve('not acked');
    });
  });
}

describe('ingestion while the disk is full', function () {
  this.timeout(60_000);
  let disk: FullableDisk;
  let s: ApiServer | undefined;
  let lines: string[];
  const clients: MqttClient[] = [];

  function options(extra: PartialPlatformOptions = {}): PartialPlatformOptions {
    return {
      dataDir: disk.dir,
      logger: createLogger('debug', (l) => lines.push(l)),
      mqtt: { port: 0, host: '127.0.0.1' },
      ...extra,
      store: { io: disk.io, ...extra.store },
    };
  }

  beforeEach(() => {
    disk = fullableDisk();
    lines = [];
  });

  afterEach(async () => {
    for (const c of clients.splice(0)) c.end(true);
    disk.free();
    await s?.close();
    s = undefined;
    disk.close();
  });

  /** The channel's whole history, oldest first, and its aggregate, over HTTP. */
  async function channelState(api: Api, path: string): Promise<{ items: Array<{ id: string; data: unknown }>; aggregate: unknown }> {
    const history = await api.get(`${path}/messages?order=asc&limit=1000`);
    assert.equal(history.status, 200);
    const aggregate = await api.get(`${path}/aggregate`);
    assert.equal(aggregate.status, 200);
    return { items: history.body.items, aggregate: aggregate.body.data };
  }

  it('answers 503 FF_STORAGE_FULL and sends no PUBACK, warns once, and takes messages again once space is freed, without a restart', async () => {
    s = await startApiServer(options({ store: { checkpointIntervalMs: 50 } }));
    const { body: created } = await s.admin.post('/devices', { name: 'pump' });
    const device = new Api(s.url, created.token);
    const channel = `/devices/${created.id}/channels/telemetry`;
    const topic = `devices/${created.id}/channels/telemetry`;
    const mqttUrl = `mqtt://127.0.0.1:${await s.platform.broker.listen()}`;
    const mqttLogin = { clientId: created.id, username: created.id, password: created.token };
    const acked: string[] = [];
    const post = async (data: unknown) => {
      const reply = await device.post(`${channel}/messages`, data);
      if (reply.status === 201) acked.push(reply.body.id);
      return reply;
    };

    assert.equal((await post({ seq: 0, keep: 'a' })).status, 201);
    const client = await connect(mqttUrl, mqttLogin);
    clients.push(client);
    assert.equal(await publishOutcome(client, topic, JSON.stringify({ via: 'mqtt', seq: 0 })), 'acked');

    // A little room left: the first message that does not fit is torn part-way, as on a real disk.
    disk.fill(3000);
    let refused = 0;
    for (let seq = 1; seq <= 8; seq++) {
      const reply = await post({ seq, pad: 'x'.repeat(2000) });
      if (reply.status === 201) continue;
      assertProblem(reply, 503, 'FF_STORAGE_FULL');
      refused++;
    }
    assert.ok(refused >= 4, `expected the full disk to refuse messages, ${refused} refused`);
    // Bigger than the slack in the file's last page, which a real file system has already allocated.
    assert.equal(await publishOutcome(client, topic, JSON.stringify({ via: 'mqtt', seq: 1, pad: 'm'.repeat(10_000) })), 'not acked');

    const failing = s.platform.writeHealth.failing();
    const messages = failing.find((f) => f.source === 'messages');
    assert.ok(messages, `write health: ${JSON.stringify(failing)}`);
    assert.equal(messages.code, 'FF_STORAGE_FULL');
    assert.ok(messages.count >= refused);
    const warnings = lines.filter((l) => l.includes('[warn]') && l.includes('storage write failed') && l.includes('"source":"messages"'));
    assert.equal(warnings.length, 1, 'one warning for the episode, not one per message');
    assert.deepEqual(lines.filter((l) => l.includes('mqtt ingest failed') || l.includes('unhandled API error')), []);

    disk.free();
    assert.equal((await post({ seq: 9, keep: 'b' })).status, 201);
    const again = await connect(mqttUrl, mqttLogin);
    clients.push(again);
    assert.equal(await publishOutcome(again, topic, JSON.stringify({ via: 'mqtt', seq: 2 })), 'acked');
    await waitFor('write health to recover', () => s!.platform.writeHealth.failing().length === 0, 10_000);
    assert.ok(lines.some((l) => l.includes('storage writes succeed again') && l.includes('"source":"messages"')));

    // History and aggregate agree, and every acknowledged message is there, now and after a restart.
    const before = await channelState(s.admin, channel);
    for (const id of acked) assert.ok(before.items.some((m) => m.id === id), `acknowledged message ${id} missing`);
    assert.deepEqual(before.aggregate, before.items.reduce<unknown>((agg, m) => mergePatch(agg, m.data), null));
    await s.close();
    s = await startApiServer(options());
    const after = await channelState(s.admin, channel);
    assert.deepEqual(after, before);
  });

  it('refuses an alarm it cannot store with FF_STORAGE_FULL, and reports alarm writes in write health until one is stored', async () => {
    s = await startApiServer(options());
    const { body: created } = await s.admin.post('/devices', { name: 'boiler' });
    disk.fill(0);
    // Bigger than the slack in the file's last page, which a real file system has already allocated.
    const details = { pad: 'p'.repeat(8000) };
    assertProblem(await s.admin.post('/alarms', { device: created.id, type: 'overheat', details }), 503, 'FF_STORAGE_FULL');
    assertProblem(await s.admin.post('/alarms', { device: created.id, type: 'leak', details }), 503, 'FF_STORAGE_FULL');
    const alarms = s.platform.writeHealth.failing().find((f) => f.source === 'alarms');
    assert.equal(alarms?.code, 'FF_STORAGE_FULL');
    assert.equal(alarms?.count, 2);
    assert.deepEqual((await s.admin.get('/alarms')).body.items, [], 'nothing half-stored');

    disk.free();
    assert.equal((await s.admin.post('/alarms', { device: created.id, type: 'overheat' })).status, 201);
    assert.equal(s.platform.writeHealth.failing().find((f) => f.source === 'alarms'), undefined);
  });

  it('refuses an OTA artifact upload that does not fit with FF_STORAGE_FULL, and keeps no part of it', async function () {
    // Artifacts are streamed with node:fs, which only a real full file system fails.
    if (!disk.real) this.skip();
    s = await startApiServer(options());
    disk.fill(64 * 1024);
    const reply = await s.admin.post('/ota/artifacts?name=fw&version=1.0.0&models=m1', Buffer.alloc(512 * 1024, 1), { 'content-type': 'application/octet-stream' });
    assertProblem(reply, 503, 'FF_STORAGE_FULL');
    assert.deepEqual(fs.readdirSync(path.join(disk.dir, 'platform', 'artifacts')), []);
    disk.free();
    assert.equal((await s.admin.post('/ota/artifacts?name=fw&version=1.0.0&models=m1', Buffer.alloc(512 * 1024, 1), { 'content-type': 'application/octet-stream' })).status, 201);
  });

  it('stops cleanly while the disk is full, and starts again with every acknowledged message once space is back', async () => {
    // Checkpoints are left to the stop, which cannot write them.
    s = await startApiServer(options({ store: { checkpointIntervalMs: 600_000 } }));
    const { body: created } = await s.admin.post('/devices', { name: 'valve' });
    const device = new Api(s.url, created.token);
    const channel = `/devices/${created.id}/channels/state`;
    const acked: string[] = [];
    for (let i = 0; i < 10; i++) {
      const reply = await device.post(`${channel}/messages`, { i, [`k${i % 3}`]: i });
      assert.equal(reply.status, 201);
      acked.push(reply.body.id);
    }
    const before = await channelState(s.admin, channel);

    disk.fill(0);
    const stopping = s;
    s = undefined;
    await stopping.close(); // must not throw
    assert.ok(lines.some((l) => l.includes('[warn]') && l.includes('aggregate checkpoints could not be written at stop')), 'the stop says what it could not write');

    disk.free();
    s = await startApiServer(options());
    const after = await channelState(s.admin, channel);
    assert.deepEqual(after.items.map((m) => m.id), acked);
    assert.deepEqual(after, before);
  });
});
