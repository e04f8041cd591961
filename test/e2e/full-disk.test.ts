import assert from 'node:assert/strict';
import fs from 'node:fs';
import { startServer, type ServerProcess } from '../support/server';
import { Api } from '../support/http';
import { connect } from '../support/mqtt';
import { fullableDisk, type FullableDisk } from '../support/full-disk';
import { mergePatch } from '../../runtime/channels/merge-patch';

describe('the server on a full disk', function () {
  this.timeout(120_000);
  let disk: FullableDisk;
  let server: ServerProcess | undefined;

  before(function () {
    disk = fullableDisk(32 * 1024 * 1024);
    // The server is another process: only a real full file system reaches it. Without one (no
    // permission to mount), the store and platform tests cover the same paths by fault injection.
    if (!disk.real) this.skip();
  });

  afterEach(async function () {
    if (this.currentTest?.state === 'failed') process.stderr.write(`--- server ---\n${server?.output()}\n`);
    disk.free();
    await server?.stop();
    server = undefined;
  });

  after(() => disk?.close());

  it('refuses messages while full, stops with exit code 0, will not start until space is freed, and then has every acknowledged message', async () => {
    server = await startServer({ dataDir: disk.dir });
    const admin = await server.admin();
    const { body: created } = await admin.post('/devices', { name: 'meter' });
    const device = new Api(server.apiUrl, created.token);
    const channel = `/devices/${created.id}/channels/power`;
    const acked: string[] = [];
    for (let i = 0; i < 5; i++) {
      const reply = await device.post(`${channel}/messages`, { i, [`phase${i % 3}`]: i * 10 });
      assert.equal(reply.status, 201);
      acked.push(reply.body.id);
    }
    const client = await connect(server.mqttUrl, { clientId: created.id, username: created.id, password: created.token });
    await client.publishAsync(`devices/${created.id}/channels/power`, JSON.stringify({ via: 'mqtt' }), { qos: 1 });
    await client.endAsync();

    disk.fill(0);
    for (let i = 0; i < 3; i++) {
      const reply = await device.post(`${channel}/messages`, { refused: i, pad: 'x'.repeat(10_000) });
      assert.equal(reply.status, 503);
      assert.equal(reply.body.code, 'FF_STORAGE_FULL');
    }
    assert.equal(server.output().match(/storage write failed.*"source":"messages"/g)?.length, 1, 'one warning for the episode');

    const stopping = server;
    server = undefined;
    assert.equal(await stopping.stop(), 0, `the stop should succeed:\n${stopping.output()}`);

    await assert.rejects(startServer({ dataDir: disk.dir }), (err: Error) => {
      assert.match(err.message, /exited with 1/);
      assert.match(err.message, /Fieldflow failed to start: the file system of .* is full: .* could not be loaded/);
      return true;
    });
    const stray = fs.readdirSync(disk.dir, { recursive: true }).map(String).filter((f) => f.endsWith('~') || f.endsWith('.tmp'));
    assert.deepEqual(stray, [], 'no temporary files left by the failed start');

    disk.free();
    server = await startServer({ dataDir: disk.dir });
    const api = await server.admin();
    const history = await api.get(`${channel}/messages?order=asc&limit=100`);
    const ids = history.body.items.map((m: { id: string }) => m.id);
    for (const id of acked) assert.ok(ids.includes(id), `acknowledged message ${id} lost`);
    assert.equal(history.body.items.length, acked.length + 1, 'the MQTT message too, and nothing that was refused');
    const aggregate = await api.get(`${channel}/aggregate`);
    assert.deepEqual(aggregate.body.data, history.body.items.reduce((agg: unknown, m: { data: unknown }) => mergePatch(agg, m.data), null));
  });
});
