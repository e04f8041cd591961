import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import mqttPacket from 'mqtt-packet';
import { startApiServer, type ApiServer } from '../../support/api-server';
import { connect, connackCode, waitFor } from '../../support/mqtt';
import { createLogger } from '../../../runtime/log';

/** A raw MQTT connection: hand-built packets out, parsed packets in. */
interface RawConnection {
  packets: any[];
  send(packet: object): void;
  write(bytes: Buffer): void;
  closed: Promise<void>;
  destroy(): void;
}

async function raw(port: number): Promise<RawConnection> {
  const socket = net.connect(port, '127.0.0.1');
  await new Promise((r) => socket.once('connect', r));
  const parser = mqttPacket.parser({ protocolVersion: 4 });
  const packets: any[] = [];
  parser.on('packet', (p) => packets.push(p));
  socket.on('data', (d) => parser.parse(d));
  socket.on('error', () => undefined);
  return {
    packets,
    send: (p) => socket.write(mqttPacket.generate(p as mqttPacket.Packet)),
    write: (bytes) => socket.write(bytes),
    closed: new Promise((r) => socket.once('close', () => r())),
    destroy: () => socket.destroy(),
  };
}

describe('MQTT conformance of the broker', () => {
  let s: ApiServer;
  let port: number;
  let url: string;
  let device: { id: string; token: string };
  const logLines: string[] = [];
  const clients: MqttClient[] = [];
  const sockets: RawConnection[] = [];

  const creds = (extra: IClientOptions = {}): IClientOptions => ({ clientId: device.id, username: device.id, password: device.token, ...extra });
  const open = async (extra: IClientOptions = {}) => {
    const c = await connect(url, creds(extra));
    clients.push(c);
    return c;
  };
  const openRaw = async () => {
    const r = await raw(port);
    sockets.push(r);
    return r;
  };
  const rawConnect = (r: RawConnection, fields: object) =>
    r.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, clientId: device.id, keepalive: 30, username: device.id, password: Buffer.from(device.token), ...fields });
  const connack = (r: RawConnection) => waitFor('CONNACK', () => r.packets.find((p) => p.cmd === 'connack'));
  const deviceView = async () => (await s.admin.get(`/devices/${device.id}`)).body;
  const messages = async (channel: string) => {
    const r = await s.admin.get(`/devices/${device.id}/channels/${channel}/messages?order=asc`);
    return r.status === 404 ? [] : r.body.items.map((m: any) => m.data);
  };
  /** The session-present flag of a CONNACK for these options. */
  const sessionPresent = async (extra: IClientOptions, at = url): Promise<boolean> => {
    const c = mqtt.connect(at, { reconnectPeriod: 0, protocolVersion: 4, ...creds(extra) });
    clients.push(c);
    const packet = await new Promise<{ sessionPresent: boolean }>((resolve, reject) => {
      c.once('connect', resolve);
      c.once('error', reject);
    });
    await c.endAsync();
    return packet.sessionPresent;
  };
  /** The retained messages a new subscriber to `topic` gets. */
  const retainedOn = async (topic: string): Promise<string[]> => {
    const reader = await open({ clientId: `${device.id}:reader` });
    const got: string[] = [];
    reader.on('message', (_t, payload, packet) => packet.retain && got.push(payload.toString()));
    await reader.subscribeAsync(topic, { qos: 1 });
    await new Promise((r) => setTimeout(r, 200));
    await reader.endAsync();
    return got;
  };

  beforeEach(async () => {
    logLines.length = 0;
    s = await startApiServer({ mqtt: { port: 0, host: '127.0.0.1' }, logger: createLogger('debug', (line) => logLines.push(line)) });
    port = (await s.platform.broker.listen())!;
    url = `mqtt://127.0.0.1:${port}`;
    device = (await s.admin.post('/devices', { name: 'd' })).body;
  });
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.endAsync(true)));
    for (const r of sockets.splice(0)) r.destroy();
    await s.close();
  });

  it("clears a topic's retained message with a zero-byte retained publish, acknowledges it, and stores no message [MQTT-3.3.1-10]", async () => {
    const c = await open();
    const topic = `devices/${device.id}/channels/state`;
    await c.publishAsync(topic, '{"on":true}', { qos: 1, retain: true });
    assert.deepEqual(await retainedOn(topic), ['{"on":true}']);
    await c.publishAsync(topic, '', { qos: 1, retain: true });
    assert.deepEqual(await retainedOn(topic), []);
    assert.equal(c.connected, true);
    assert.deepEqual(await messages('state'), [{ on: true }]);
    assert.deepEqual((await deviceView()).ingestErrors, {});
    // Not retained, a zero-byte payload is an empty message, refused as before.
    await c.publishAsync(topic, '', { qos: 1 });
    assert.deepEqual((await deviceView()).ingestErrors, { FF_MALFORMED_JSON: 1 });
  });

  it('refuses an empty client id with clean session 0 with CONNACK 2 and closes [MQTT-3.1.3-8]; with clean session 1 it connects', async () => {
    const unclean = await openRaw();
    // mqtt-packet will not write this CONNECT, so clear the clean-session flag in one it wrote: the
    // connect flags follow the 2-byte fixed header, "MQTT" with its length, and the protocol level.
    const bytes = mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, clientId: '', keepalive: 30, username: device.id, password: Buffer.from(device.token) });
    bytes[9] &= ~0x02;
    unclean.write(bytes);
    assert.equal((await connack(unclean)).returnCode, 2);
    await unclean.closed;
    const clean = await openRaw();
    rawConnect(clean, { clientId: '', clean: true });
    assert.equal((await connack(clean)).returnCode, 0);
  });

  it('says session present in CONNACK whenever a persistent session exists, with subscriptions or without [MQTT-3.2.2-2]', async () => {
    assert.equal(await sessionPresent({ clean: false }), false, 'first connection');
    assert.equal(await sessionPresent({ clean: false }), true, 'a session without subscriptions');
    const c = await open({ clean: false });
    await c.subscribeAsync(`devices/${device.id}/commands/+`, { qos: 1 });
    await c.endAsync();
    assert.equal(await sessionPresent({ clean: false }), true, 'a session with subscriptions');
    assert.equal(await sessionPresent({ clean: true }), false, 'clean session [MQTT-3.2.2-1]');
    assert.equal(await sessionPresent({ clean: false }), false, 'clean session 1 discarded the session [MQTT-3.1.2-6]');
    assert.equal(await sessionPresent({ clean: false, clientId: `${device.id}:other` }), false, 'another client id');
    assert.equal(await connackCode(url, creds({ clean: false, password: 'ffd_wrong' })), 4);
  });

  it('says session present over WebSocket as over TCP', async () => {
    const server = http.createServer();
    s.platform.broker.attachWebSocket(server, '/mqtt');
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    try {
      const ws = `ws://127.0.0.1:${(server.address() as net.AddressInfo).port}/mqtt`;
      assert.equal(await sessionPresent({ clean: false }, ws), false);
      assert.equal(await sessionPresent({ clean: false }, ws), true);
      assert.equal(await sessionPresent({ clean: false }), true, 'the session is the same over TCP');
    } finally {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });

  it('closes the connection on a PUBLISH topic that is not well-formed UTF-8 or holds U+0000, and stores nothing [MQTT-1.5.3-1] [MQTT-1.5.3-2]', async () => {
    const prefix = Buffer.from(`devices/${device.id}/channels/`);
    const bad = [Buffer.from([0x74, 0xc3, 0x28]), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from('a\u0000b')];
    for (const tail of bad) {
      const r = await openRaw();
      rawConnect(r, {});
      assert.equal((await connack(r)).returnCode, 0);
      r.send({ cmd: 'publish', topic: Buffer.concat([prefix, tail]), payload: Buffer.from('{"n":1}'), qos: 1, messageId: 1, retain: false, dup: false });
      await r.closed;
      assert.deepEqual(r.packets.map((p) => p.cmd), ['connack'], `${tail.toString('hex')} was acknowledged`);
    }
    // Well-formed UTF-8 outside the channel name rules is an ordinary refused message: acknowledged, and the connection stays.
    const c = await open();
    await c.publishAsync(`devices/${device.id}/channels/température`, '{"n":1}', { qos: 1 });
    assert.equal(c.connected, true);
    const view = await deviceView();
    assert.deepEqual(view.ingestErrors, { FF_MQTT_INVALID_TOPIC: 3, FF_INVALID_CHANNEL_NAME: 1 });
    assert.deepEqual((await s.admin.get(`/devices/${device.id}/channels`)).body.items, []);
  });

  it('refuses MQTT 5 and MQTT 3.1 with CONNACK 1, and logs why and what to do once per client, at info', async () => {
    for (let i = 0; i < 2; i++) {
      assert.equal(await connackCode(url, creds({ protocolVersion: 5 })), 1);
      assert.equal(await connackCode(url, creds({ protocolVersion: 3 })), 1);
    }
    assert.equal(await connackCode(url, creds({ protocolVersion: 5, clientId: `${device.id}:gw` })), 1);
    const refusals = logLines.filter((l) => l.includes('unsupported protocol version'));
    const info = refusals.filter((l) => l.includes('[info]'));
    assert.equal(info.length, 3, info.join('\n'));
    assert.equal(refusals.length, 5);
    assert.match(info[0], /"protocol":"MQTT 5".*"reason":"MQTT 5 is not supported.*"action":"connect with MQTT 3\.1\.1/);
    assert.match(info[1], /"protocol":"MQTT 3\.1".*"reason":"MQTT 3\.1 is not supported/);
    assert.ok(!logLines.some((l) => l.includes(device.token)), 'a token reached the log');
    assert.equal(await connackCode(url, creds()), 0);
  });

  it('acknowledges, drops and counts a number beyond a 64-bit float as FF_NUMBER_OUT_OF_RANGE, and leaves the aggregate alone', async () => {
    const c = await open();
    const topic = `devices/${device.id}/channels/telemetry`;
    await c.publishAsync(topic, '{"v":1}', { qos: 1 });
    await c.publishAsync(topic, '{"v":1e999}', { qos: 1 });
    await c.publishAsync(topic, '{"w":-1e400}', { qos: 1 });
    assert.equal(c.connected, true);
    assert.deepEqual(await messages('telemetry'), [{ v: 1 }]);
    assert.deepEqual((await s.admin.get(`/devices/${device.id}/channels/telemetry/aggregate`)).body.data, { v: 1 });
    assert.deepEqual((await deviceView()).ingestErrors, { FF_NUMBER_OUT_OF_RANGE: 2 });
  });
});
