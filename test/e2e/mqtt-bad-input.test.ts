import assert from 'node:assert/strict';
import net from 'node:net';
import type { MqttClient } from 'mqtt';
import mqttPacket from 'mqtt-packet';
import { startServer, ADMIN_PASSWORD, type ServerProcess } from '../support/server';
import type { Api } from '../support/http';
import { connect, connackCode, waitFor } from '../support/mqtt';
import { deployFlows } from '../support/nodered';

const MAX_PAYLOAD = 4096;

/** Resolves when the client's connection closes. */
function closed(client: MqttClient): Promise<void> {
  return new Promise((resolve) => (client.disconnected ? resolve() : client.once('close', () => resolve())));
}

describe('MQTT bad input, end to end', function () {
  this.timeout(60_000);
  let server: ServerProcess;
  let api: Api;
  let a: { id: string; token: string };
  let b: { id: string; token: string };
  const clients: MqttClient[] = [];

  const newDevice = async (name: string) => {
    const r = await api.post('/devices', { name });
    return { id: r.body.id as string, token: r.body.token as string };
  };
  const open = async (d: { id: string; token: string }, clientId = d.id) => {
    const c = await connect(server.mqttUrl, { clientId, username: d.id, password: d.token });
    clients.push(c);
    return c;
  };
  const stored = async (d: { id: string }, channel: string) => {
    const r = await api.get(`/devices/${d.id}/channels/${channel}/messages?limit=1000`);
    return r.status === 404 ? [] : r.body.items.map((m: any) => m.data);
  };

  before(async () => {
    server = await startServer({ env: { FIELDFLOW_MAX_PAYLOAD_BYTES: String(MAX_PAYLOAD) } });
    api = await server.admin();
    a = await newDevice('a');
    b = await newDevice('b');
    // A flow that records every message any device sends, so "never reaches flows" is observable.
    const tab = 'bad0000000000001';
    await deployFlows(server.httpUrl, ADMIN_PASSWORD, [
      { id: tab, type: 'tab', label: 'audit' },
      { id: 'bad0000000000002', z: tab, type: 'channel in', deviceMode: 'all', channel: '+', onMessage: true, wires: [['bad0000000000003']] },
      { id: 'bad0000000000003', z: tab, type: 'function', func: "if (msg.channel === 'seen') return null;\nmsg.payload = { channel: msg.channel, device: msg.device.id };\nreturn msg;", outputs: 1, wires: [['bad0000000000004']] },
      { id: 'bad0000000000004', z: tab, type: 'channel out', device: '', channel: 'seen', wires: [] },
    ]);
  });
  afterEach(async function () {
    if (this.currentTest?.state === 'failed') process.stderr.write(`--- server output ---\n${server.output()}\n`);
    await Promise.all(clients.splice(0).map((c) => c.endAsync(true)));
  });
  after(async () => {
    assert.equal(await server.stop(), 0, server.output());
  });

  it('refuses wrong credentials with CONNACK 4 and missing ones with CONNACK 5', async () => {
    assert.equal(await connackCode(server.mqttUrl, { clientId: a.id, username: a.id, password: 'ffd_wrong' }), 4);
    assert.equal(await connackCode(server.mqttUrl, { clientId: a.id, username: a.id, password: b.token }), 4);
    assert.equal(await connackCode(server.mqttUrl, { clientId: 'x', username: 'no-such-device', password: a.token }), 4);
    assert.equal(await connackCode(server.mqttUrl, { clientId: a.id }), 5);
    assert.equal(await connackCode(server.mqttUrl, { clientId: a.id, username: a.id }), 5);
    assert.equal(await connackCode(server.wsUrl, { clientId: a.id, username: a.id, password: 'nope' }), 4);
  });

  it("refuses a client id that names another device's session with CONNACK 2", async () => {
    assert.equal(await connackCode(server.mqttUrl, { clientId: b.id, username: a.id, password: a.token }), 2);
    assert.equal(await connackCode(server.mqttUrl, { clientId: 'mosq-123', username: a.id, password: a.token }), 2);
    assert.equal(await connackCode(server.mqttUrl, { clientId: `${a.id}:gateway-1`, username: a.id, password: a.token }), 0);
    assert.equal(await connackCode(server.mqttUrl, { clientId: '', clean: true, username: a.id, password: a.token }), 0);
  });

  it("closes the connection of a device that publishes to another device's topic, and stores nothing", async () => {
    const client = await open(a);
    const gone = closed(client);
    client.publish(`devices/${b.id}/channels/telemetry`, '{"spoofed":true}', { qos: 1 });
    await gone;
    const other = await open(a);
    const gone2 = closed(other);
    other.publish(`devices/${a.id}/status`, '{"online":false}', { qos: 0 });
    await gone2;
    await new Promise((r) => setTimeout(r, 200));
    assert.deepEqual(await stored(b, 'telemetry'), []);
    assert.deepEqual(await stored(b, 'seen'), []);
    const device = (await api.get(`/devices/${a.id}`)).body;
    assert.equal(device.ingestErrors.FF_MQTT_TOPIC_DENIED, 2);
  });

  it("refuses subscriptions to other devices' topics with a SUBACK failure, and keeps the connection", async () => {
    const client = await open(a);
    // mqtt.js rejects a SUBACK with any failure code; the grants are on the packet it carries.
    const suback = await client.subscribeAsync([`devices/${b.id}/#`, 'devices/+/status', '#', `devices/${a.id}/#`]).then(
      () => assert.fail('SUBACK granted every subscription'),
      (err: { packet?: { granted: number[] } }) => err.packet!,
    );
    assert.deepEqual(suback.granted, [128, 128, 128, 0]);
    assert.equal(client.connected, true);
    const received: string[] = [];
    client.on('message', (topic) => received.push(topic));
    const spy = await open(b);
    await spy.publishAsync(`devices/${b.id}/channels/private`, '{"secret":1}', { qos: 1 });
    await new Promise((r) => setTimeout(r, 200));
    assert.deepEqual(received.filter((t) => t.includes(b.id)), []);
  });

  it("never delivers another device's messages to a persistent session, not even after it reconnects", async () => {
    const spyId = `${a.id}:persistent`;
    const spy = await connect(server.mqttUrl, { clientId: spyId, clean: false, username: a.id, password: a.token });
    await spy.subscribeAsync([`devices/${a.id}/#`, '#', `devices/${b.id}/#`], { qos: 1 }).catch(() => undefined);
    await spy.endAsync();
    const victim = await open(b);
    for (let i = 0; i < 5; i++) await victim.publishAsync(`devices/${b.id}/channels/secret`, JSON.stringify({ i }), { qos: 1 });
    const received: string[] = [];
    const back = await connect(server.mqttUrl, { clientId: spyId, clean: false, username: a.id, password: a.token });
    clients.push(back);
    back.on('message', (topic) => received.push(topic));
    await victim.publishAsync(`devices/${b.id}/channels/secret`, '{"live":true}', { qos: 1 });
    await new Promise((r) => setTimeout(r, 300));
    assert.deepEqual(received.filter((t) => !t.startsWith(`devices/${a.id}/`)), []);
  });

  it('stores a QoS 2 message once when its PUBLISH is retransmitted before the PUBREC', async () => {
    const socket = net.connect(server.mqttPort, '127.0.0.1');
    await new Promise((r) => socket.once('connect', r));
    const parser = mqttPacket.parser({ protocolVersion: 4 });
    const packets: any[] = [];
    parser.on('packet', (p) => packets.push(p));
    socket.on('data', (d) => parser.parse(d));
    const send = (p: object) => socket.write(mqttPacket.generate(p as mqttPacket.Packet));
    send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, clientId: a.id, keepalive: 30, username: a.id, password: Buffer.from(a.token) });
    const publish = { cmd: 'publish', topic: `devices/${a.id}/channels/exactly-once`, payload: Buffer.from('{"n":1}'), qos: 2, messageId: 7, retain: false };
    send({ ...publish, dup: false });
    send({ ...publish, dup: true });
    await waitFor('two PUBRECs', () => packets.filter((p) => p.cmd === 'pubrec').length === 2);
    send({ cmd: 'pubrel', messageId: 7 });
    await waitFor('PUBCOMP', () => packets.some((p) => p.cmd === 'pubcomp'));
    socket.destroy();
    assert.deepEqual(await stored(a, 'exactly-once'), [{ n: 1 }]);
  });

  it('acknowledges malformed and oversized payloads, drops them, counts them, and stays connected', async () => {
    const client = await open(a);
    const before = (await api.get(`/devices/${a.id}`)).body.ingestErrors;
    const topic = `devices/${a.id}/channels/junk`;
    await client.publishAsync(topic, '{"temp": 21.5', { qos: 1 });
    await client.publishAsync(topic, 'not json at all', { qos: 1 });
    await client.publishAsync(topic, '', { qos: 1 });
    await client.publishAsync(topic, JSON.stringify({ big: 'x'.repeat(MAX_PAYLOAD) }), { qos: 1 });
    await client.publishAsync(topic, '['.repeat(100) + ']'.repeat(100), { qos: 1 });
    await client.publishAsync(`devices/${a.id}/channels/-bad-name`, '{}', { qos: 1 });
    await client.publishAsync(topic, '{"ok":true}', { qos: 1 });
    assert.equal(client.connected, true);
    assert.deepEqual(await stored(a, 'junk'), [{ ok: true }]);
    const seen = await waitFor('the good message in the flow', async () => {
      const s = (await stored(a, 'seen')).filter((m: any) => m.channel === 'junk');
      return s.length >= 1 && s;
    });
    assert.equal(seen.length, 1, 'a dropped message reached a flow');
    const device = (await api.get(`/devices/${a.id}`)).body;
    const delta = (code: string) => (device.ingestErrors[code] ?? 0) - (before[code] ?? 0);
    assert.equal(delta('FF_MALFORMED_JSON'), 3);
    assert.equal(delta('FF_PAYLOAD_TOO_LARGE'), 1);
    assert.equal(delta('FF_PAYLOAD_TOO_DEEP'), 1);
    assert.equal(delta('FF_INVALID_CHANNEL_NAME'), 1);
    assert.equal(device.lastIngestError.code, 'FF_INVALID_CHANNEL_NAME');
    assert.ok(!server.output().includes('not json at all'), 'a payload reached the log');
  });

  it('closes a connection that announces a packet far over the limit before reading it', async () => {
    const client = await open(a);
    const gone = closed(client);
    client.publish(`devices/${a.id}/channels/huge`, Buffer.alloc(MAX_PAYLOAD + 128 * 1024, 0x20), { qos: 0 });
    await gone;
    // Even before CONNECT: a raw socket that declares a 200 MB packet is cut off.
    const socket = net.connect(server.mqttPort, '127.0.0.1');
    await new Promise((r) => socket.once('connect', r));
    socket.write(Buffer.from([0x10, 0x80, 0x80, 0x80, 0x64]));
    await new Promise((r) => socket.once('close', r));
    assert.deepEqual(await stored(a, 'huge'), []);
  });

  it('closes the live connections of a deleted device at once and refuses it afterwards', async () => {
    const doomed = await newDevice('doomed');
    const tcp = await open(doomed);
    const ws = await connect(server.wsUrl, { clientId: `${doomed.id}:ws`, username: doomed.id, password: doomed.token });
    clients.push(ws);
    const gone = Promise.all([closed(tcp), closed(ws)]);
    assert.equal((await api.delete(`/devices/${doomed.id}`)).status, 204);
    await gone;
    assert.equal(await connackCode(server.mqttUrl, { clientId: doomed.id, username: doomed.id, password: doomed.token }), 4);
  });

  it('closes live connections when the token is rotated; the new token connects', async () => {
    const d = await newDevice('rotating');
    const client = await open(d);
    const gone = closed(client);
    const rotated = (await api.post(`/devices/${d.id}/token`)).body.token;
    await gone;
    assert.equal(await connackCode(server.mqttUrl, { clientId: d.id, username: d.id, password: d.token }), 4);
    assert.equal(await connackCode(server.mqttUrl, { clientId: d.id, username: d.id, password: rotated }), 0);
  });

  it('keeps serving everyone else through all of the above', async () => {
    const client = await open(b);
    await client.publishAsync(`devices/${b.id}/channels/after`, '{"still":"here"}', { qos: 1 });
    assert.deepEqual(await stored(b, 'after'), [{ still: 'here' }]);
    assert.equal((await api.get('/health')).status, 200);
    assert.equal(server.child.exitCode, null);
  });
});
