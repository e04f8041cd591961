import assert from 'node:assert/strict';
import mqtt, { type MqttClient, type IClientOptions } from 'mqtt';
import { startServer, type ServerProcess } from '../support/server';
import { Api } from '../support/http';
import { waitFor } from '../support/mqtt';
import { assertProblem } from '../unit/api/problems';

interface Device {
  id: string;
  token: string;
}

interface Received {
  topic: string;
  payload: string;
  retain: boolean;
  qos: number;
}

const MAX_PAYLOAD_BYTES = 4096;

describe('device configuration and commands, end to end', function () {
  this.timeout(60_000);
  let server: ServerProcess;
  let api: Api;
  let device: Device;
  const clients: MqttClient[] = [];

  const put = (id: string, body: unknown, as: Api = api) => as.request('PUT', `/devices/${id}/config`, body);

  /**
   * Connect as the device and record every message it receives. The listener is there before the
   * CONNACK: a persistent session's queued messages can arrive in the same read as the CONNACK.
   */
  async function deviceClient(options: IClientOptions = {}, subscribe: string[] = [`devices/${device.id}/config`, `devices/${device.id}/commands/+`]) {
    const client = mqtt.connect(server.mqttUrl, { clientId: device.id, username: device.id, password: device.token, reconnectPeriod: 0, protocolVersion: 4, ...options });
    clients.push(client);
    const received: Received[] = [];
    client.on('message', (topic, payload, packet) => received.push({ topic, payload: payload.toString(), retain: packet.retain, qos: packet.qos }));
    await new Promise<void>((resolve, reject) => {
      client.once('connect', () => resolve());
      client.once('error', reject);
      client.once('close', () => reject(new Error('connection closed before CONNACK')));
    });
    if (subscribe.length) {
      const granted = await client.subscribeAsync(subscribe, { qos: 1 });
      assert.deepEqual(granted.map((g) => g.qos), subscribe.map(() => 1));
    }
    return { client, received };
  }

  async function newDevice(name: string): Promise<Device> {
    const created = await api.post('/devices', { name });
    assert.equal(created.status, 201);
    return { id: created.body.id, token: created.body.token };
  }

  before(async () => {
    server = await startServer({ env: { FIELDFLOW_MAX_PAYLOAD_BYTES: String(MAX_PAYLOAD_BYTES) } });
    api = await server.admin();
  });
  beforeEach(async () => {
    device = await newDevice(`dev-${Date.now()}`);
  });
  afterEach(async function () {
    if (this.currentTest?.state === 'failed') process.stderr.write(`--- server output ---\n${server.output()}\n`);
    await Promise.all(clients.splice(0).map((c) => c.endAsync(true)));
  });
  after(async () => {
    const code = await server.stop();
    assert.equal(code, 0, `server did not exit cleanly:\n${server.output()}`);
  });

  it('shows an empty configuration for a device that never had one', async () => {
    const r = await api.get(`/devices/${device.id}/config`);
    assert.equal(r.status, 200);
    assert.deepEqual(r.body, { config: {}, updatedAt: null });
  });

  it('sends the configuration to a subscribed device when it is set, and retains it for later subscribers', async () => {
    const live = await deviceClient();
    const r = await put(device.id, { interval: 30, thresholds: { high: 80 } });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.deepEqual(r.body.config, { interval: 30, thresholds: { high: 80 } });
    assert.ok(!Number.isNaN(Date.parse(r.body.updatedAt)));
    const got = await waitFor('the config', () => live.received.find((m) => m.topic === `devices/${device.id}/config`));
    assert.deepEqual(JSON.parse(got.payload), { interval: 30, thresholds: { high: 80 } });
    assert.equal(got.retain, false, 'a live subscriber gets it as a normal publish [MQTT-3.3.1-9]');
    await live.client.endAsync();

    const later = await deviceClient({ clientId: `${device.id}:later` });
    const retained = await waitFor('the retained config', () => later.received.find((m) => m.topic === `devices/${device.id}/config`));
    assert.deepEqual(JSON.parse(retained.payload), { interval: 30, thresholds: { high: 80 } });
    assert.equal(retained.retain, true);
    assert.deepEqual((await api.get(`/devices/${device.id}/config`)).body, r.body);
  });

  it('delivers a command with its id, arguments and time, QoS 1 and not retained', async () => {
    const live = await deviceClient();
    const r = await api.post(`/devices/${device.id}/commands/reboot`, { args: { delay: 5 } });
    assert.equal(r.status, 202, JSON.stringify(r.body));
    assert.equal(r.body.name, 'reboot');
    assert.equal(r.body.delivered, true);
    const got = await waitFor('the command', () => live.received.find((m) => m.topic === `devices/${device.id}/commands/reboot`));
    assert.deepEqual(JSON.parse(got.payload), { id: r.body.id, args: { delay: 5 }, sentAt: r.body.sentAt });
    assert.equal(got.qos, 1);
    assert.equal(got.retain, false);

    const noBody = await api.post(`/devices/${device.id}/commands/ping`);
    assert.equal(noBody.status, 202, JSON.stringify(noBody.body));
    const ping = await waitFor('the ping', () => live.received.find((m) => m.topic === `devices/${device.id}/commands/ping`));
    assert.deepEqual(JSON.parse(ping.payload).args, {});

    await live.client.endAsync();
    const later = await deviceClient({ clientId: `${device.id}:later` });
    await new Promise((r) => setTimeout(r, 300));
    assert.deepEqual(later.received, [], 'a command is not retained');
  });

  it('queues a command for an offline persistent session until it reconnects, and not for a clean one', async () => {
    const persistent = await deviceClient({ clean: false, clientId: device.id });
    const clean = await deviceClient({ clean: true, clientId: `${device.id}:clean` });
    await persistent.client.endAsync();
    await clean.client.endAsync();
    await waitFor('the device to be offline', async () => (await api.get(`/devices/${device.id}`)).body.online === false);

    const r = await api.post(`/devices/${device.id}/commands/calibrate`, { args: { zero: true } });
    assert.equal(r.status, 202);
    assert.equal(r.body.delivered, false, 'no live connection when it was sent');

    const back = await deviceClient({ clean: false, clientId: device.id }, []);
    const got = await waitFor('the queued command', () => back.received.find((m) => m.topic === `devices/${device.id}/commands/calibrate`));
    assert.deepEqual(JSON.parse(got.payload), { id: r.body.id, args: { zero: true }, sentAt: r.body.sentAt });
    const cleanBack = await deviceClient({ clean: true, clientId: `${device.id}:clean` }, []);
    await new Promise((r) => setTimeout(r, 300));
    assert.deepEqual(cleanBack.received, []);
  });

  it('refuses bad configurations and commands with specific codes, and keeps the stored configuration', async () => {
    const stored = (await put(device.id, { interval: 30 })).body;
    assertProblem(await put(device.id, [1, 2]), 400, 'FF_INVALID_CONFIG');
    assertProblem(await put(device.id, '"a string"'), 400, 'FF_INVALID_CONFIG');
    assertProblem(await put(device.id, 'null'), 400, 'FF_INVALID_CONFIG');
    assertProblem(await put(device.id, { big: 'x'.repeat(MAX_PAYLOAD_BYTES) }), 400, 'FF_INVALID_CONFIG');
    let deep: unknown = {};
    for (let i = 0; i < 40; i++) deep = { d: deep };
    assertProblem(await put(device.id, deep), 400, 'FF_INVALID_CONFIG');
    assertProblem(await put(device.id, '{"interval":'), 400, 'FF_MALFORMED_JSON');
    assertProblem(await api.request('PUT', `/devices/${device.id}/config`, 'interval=1', { 'content-type': 'application/x-www-form-urlencoded' }), 415, 'FF_UNSUPPORTED_MEDIA_TYPE');
    assert.deepEqual((await api.get(`/devices/${device.id}/config`)).body, stored);

    assertProblem(await api.post(`/devices/${device.id}/commands/_bad`), 400, 'FF_INVALID_COMMAND');
    assertProblem(await api.post(`/devices/${device.id}/commands/${'a'.repeat(65)}`), 400, 'FF_INVALID_COMMAND');
    assertProblem(await api.post(`/devices/${device.id}/commands/ok`, { args: [1] }), 400, 'FF_INVALID_COMMAND');
    assertProblem(await api.post(`/devices/${device.id}/commands/ok`, { args: null }), 400, 'FF_INVALID_COMMAND');
    assertProblem(await api.post(`/devices/${device.id}/commands/ok`, { delay: 5 }), 400, 'FF_INVALID_COMMAND');
    assertProblem(await api.post(`/devices/${device.id}/commands/ok`, [1]), 400, 'FF_INVALID_COMMAND');
    assertProblem(await api.post(`/devices/${device.id}/commands/ok`, { args: { big: 'x'.repeat(MAX_PAYLOAD_BYTES) } }), 400, 'FF_INVALID_COMMAND');

    const unknown = '00000000-0000-4000-8000-000000000000';
    assertProblem(await api.get(`/devices/${unknown}/config`), 404, 'FF_DEVICE_NOT_FOUND');
    assertProblem(await put(unknown, { interval: 1 }), 404, 'FF_DEVICE_NOT_FOUND');
    assertProblem(await api.post(`/devices/${unknown}/commands/reboot`), 404, 'FF_DEVICE_NOT_FOUND');
  });

  it('lets only users set configurations and send commands: a device token gets 403, no token 401', async () => {
    const stored = (await put(device.id, { interval: 30 })).body;
    const asDevice = new Api(server.apiUrl, device.token);
    assertProblem(await put(device.id, { interval: 1 }, asDevice), 403, 'FF_FORBIDDEN');
    assertProblem(await asDevice.get(`/devices/${device.id}/config`), 403, 'FF_FORBIDDEN');
    assertProblem(await asDevice.post(`/devices/${device.id}/commands/reboot`), 403, 'FF_FORBIDDEN');
    const anonymous = new Api(server.apiUrl);
    assertProblem(await put(device.id, { interval: 1 }, anonymous), 401, 'FF_AUTH_REQUIRED');
    assertProblem(await anonymous.post(`/devices/${device.id}/commands/reboot`), 401, 'FF_AUTH_REQUIRED');
    assert.deepEqual((await api.get(`/devices/${device.id}/config`)).body, stored);
  });

  it('does not let a device publish its own configuration or commands', async () => {
    const stored = (await put(device.id, { interval: 30 })).body;
    for (const [suffix, topic] of [['a', 'config'], ['b', 'commands/reboot']]) {
      const { client } = await deviceClient({ clientId: `${device.id}:${suffix}` }, []);
      const closed = new Promise<void>((r) => client.once('close', () => r()));
      client.publish(`devices/${device.id}/${topic}`, JSON.stringify({ interval: 1 }), { qos: 1, retain: true });
      await closed;
    }
    const later = await deviceClient({ clientId: `${device.id}:later` });
    const retained = await waitFor('the retained config', () => later.received.find((m) => m.topic === `devices/${device.id}/config`));
    assert.deepEqual(JSON.parse(retained.payload), { interval: 30 });
    assert.deepEqual((await api.get(`/devices/${device.id}/config`)).body, stored);
  });

  it('describes the routes in the OpenAPI document', async () => {
    const doc = (await new Api(server.apiUrl).get('/openapi.json')).body;
    assert.ok(doc.paths['/devices/{id}/config']?.get && doc.paths['/devices/{id}/config']?.put);
    assert.ok(doc.paths['/devices/{id}/commands/{name}']?.post);
  });

  it('publishes the stored configurations again after a restart, and loses commands queued in memory', async () => {
    const other = await newDevice('other');
    await put(device.id, { interval: 30 });
    await put(other.id, { interval: 60 });
    const persistent = await deviceClient({ clean: false, clientId: device.id });
    await persistent.client.endAsync();
    await waitFor('the device to be offline', async () => (await api.get(`/devices/${device.id}`)).body.online === false);
    assert.equal((await api.post(`/devices/${device.id}/commands/queued`)).status, 202);

    assert.equal(await server.stop(), 0, server.output());
    server = await startServer({ dataDir: server.dataDir, env: { FIELDFLOW_MAX_PAYLOAD_BYTES: String(MAX_PAYLOAD_BYTES) } });
    api = await server.admin();

    const back = await deviceClient({ clean: false, clientId: device.id });
    const retained = await waitFor('the retained config', () => back.received.find((m) => m.topic === `devices/${device.id}/config`));
    assert.deepEqual(JSON.parse(retained.payload), { interval: 30 });
    assert.equal(retained.retain, true);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(back.received.filter((m) => m.topic.includes('/commands/')).length, 0, 'the broker keeps sessions in memory only');

    device = other;
    const second = await deviceClient();
    const otherConfig = await waitFor('the other config', () => second.received.find((m) => m.topic === `devices/${other.id}/config`));
    assert.deepEqual(JSON.parse(otherConfig.payload), { interval: 60 });
  });

  it('forgets the configuration of a deleted device', async () => {
    await put(device.id, { interval: 30 });
    assert.equal((await api.delete(`/devices/${device.id}`)).status, 204);
    assertProblem(await api.get(`/devices/${device.id}/config`), 404, 'FF_DEVICE_NOT_FOUND');
  });
});
