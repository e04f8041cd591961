import assert from 'node:assert/strict';
import { startApiServer, type ApiServer } from '../../support/api-server';
import { connect, waitFor } from '../../support/mqtt';
import { tempDir } from '../../support/platform';
import { channelMessages } from '../sdk/support';

describe('MQTT de-duplication by client message id', () => {
  let s: ApiServer;
  let dataDir: string;
  const start = async () => {
    s = await startApiServer({ dataDir, mqtt: { port: 0, host: '127.0.0.1' } });
    return `mqtt://127.0.0.1:${await s.platform.broker.listen()}`;
  };
  beforeEach(() => {
    dataDir = tempDir();
  });
  afterEach(() => s?.close());

  const messages = async (id: string, channel = 'telemetry') => (await s.admin.get(`/devices/${id}/channels/${channel}/messages?limit=100&order=asc`)).body.items.map((m: any) => m.data);

  it('stores a resent message once, even after a server restart, and keeps producers apart', async () => {
    let url = await start();
    const device = (await s.admin.post('/devices', { name: 'd' })).body;
    let c = await connect(url, { clientId: device.id, username: device.id, password: device.token });
    const pub = (mid: string, n: number) => c.publishAsync(`devices/${device.id}/channels/telemetry/${mid}`, JSON.stringify({ n }), { qos: 1 });
    await pub('p1-1', 1);
    await pub('p1-2', 2);
    await pub('p1-1', 1);
    await Promise.all([pub('p1-3', 3), pub('p1-3', 3)]);
    await pub('p2-1', 10);
    assert.deepEqual(await messages(device.id), [{ n: 1 }, { n: 2 }, { n: 3 }, { n: 10 }]);
    await c.endAsync();
    await s.close();
    url = await start();
    c = await connect(url, { clientId: device.id, username: device.id, password: device.token });
    await pub('p1-2', 2);
    await pub('p1-4', 4);
    await c.publishAsync(`devices/${device.id}/tags/device/p1-5`, JSON.stringify({ firmware: '1.0.0' }), { qos: 1 });
    await c.publishAsync(`devices/${device.id}/tags/device/p1-5`, JSON.stringify({ firmware: '9.9.9' }), { qos: 1 });
    assert.deepEqual(await messages(device.id), [{ n: 1 }, { n: 2 }, { n: 3 }, { n: 10 }, { n: 4 }]);
    assert.deepEqual((await messages(device.id, 'tag_values')).length, 1);
    await c.endAsync();
  });

  it('stores once, after a restart, a resent message whose store was still in flight when the server stopped', async () => {
    let url = await start();
    const device = (await s.admin.post('/devices', { name: 'd' })).body;
    let c = await connect(url, { clientId: device.id, username: device.id, password: device.token });
    const topic = (seq: number) => `devices/${device.id}/channels/telemetry/p1-${seq}`;
    const burst = Array.from({ length: 2000 }, (_, i) => i + 1);
    // Stop while the burst is being written: some stores finish during the stop, after their PUBACK can no longer go out.
    const acked: number[] = [];
    for (const seq of burst) c.publishAsync(topic(seq), JSON.stringify({ n: seq }), { qos: 1 }).then(() => acked.push(seq), () => undefined);
    await waitFor('the first stores', () => acked.length >= 50);
    await s.close();
    c.end(true);
    url = await start();
    c = await connect(url, { clientId: device.id, username: device.id, password: device.token });
    const unacked = burst.filter((seq) => !acked.includes(seq));
    assert.ok(unacked.length > 0, 'the stop came after the whole burst was acknowledged');
    for (const seq of unacked) await c.publishAsync(topic(seq), JSON.stringify({ n: seq }), { qos: 1 });
    const stored = (await channelMessages(s.admin, device.id, 'telemetry')).map((m) => m.data.n);
    assert.deepEqual(stored, burst, `${stored.length} stored for ${burst.length} sent`);
    await c.endAsync();
  });

  it('refuses a malformed message id and counts it on the device, storing nothing', async () => {
    const url = await start();
    const device = (await s.admin.post('/devices', { name: 'd' })).body;
    const c = await connect(url, { clientId: device.id, username: device.id, password: device.token });
    for (const mid of ['p1', 'p1-0', 'p-1-2', 'x'.repeat(33) + '-1', 'p1-01']) {
      await c.publishAsync(`devices/${device.id}/channels/telemetry/${mid}`, '{"n":1}', { qos: 1 });
    }
    const d = await waitFor('counted', async () => {
      const body = (await s.admin.get(`/devices/${device.id}`)).body;
      return body.ingestErrors.FF_INVALID_MESSAGE_ID === 5 && body;
    });
    assert.equal(d.lastIngestError.code, 'FF_INVALID_MESSAGE_ID');
    assert.equal((await s.admin.get(`/devices/${device.id}/channels/telemetry/messages`)).status, 404);
    await c.endAsync();
  });
});
