import assert from 'node:assert/strict';
import type { MqttClient } from 'mqtt';
import { startServer, ADMIN_PASSWORD, type ServerProcess } from '../support/server';
import { Api } from '../support/http';
import { connect, waitFor } from '../support/mqtt';
import { deployFlows, editorToken } from '../support/nodered';

describe('the quick start, end to end', function () {
  this.timeout(60_000);
  let server: ServerProcess;
  let api: Api;
  let device: { id: string; token: string };
  const clients: MqttClient[] = [];

  before(async () => {
    server = await startServer();
    api = await server.admin();
    const created = await api.post('/devices', { name: 'pump-1', labels: { site: 'north' } });
    assert.equal(created.status, 201);
    device = { id: created.body.id, token: created.body.token };
  });
  afterEach(async function () {
    if (this.currentTest?.state === 'failed') process.stderr.write(`--- server output ---\n${server.output()}\n`);
    await Promise.all(clients.splice(0).map((c) => c.endAsync()));
  });
  after(async () => {
    const code = await server.stop();
    assert.equal(code, 0, `server did not exit cleanly:\n${server.output()}`);
  });

  it('keeps the editor and its admin API closed without a login', async () => {
    const flows = await fetch(`${server.httpUrl}/flows`);
    assert.equal(flows.status, 401);
    const login = await (await fetch(`${server.httpUrl}/auth/login`)).json();
    assert.equal(login.type, 'credentials');
    const editor = await fetch(`${server.httpUrl}/`);
    assert.equal(editor.status, 200);
    assert.match(await editor.text(), /<title>Fieldflow<\/title>/);
  });

  it('lists the Fieldflow palette first, with every node and an example flow for each', async () => {
    const auth = { authorization: `Bearer ${await editorToken(server.httpUrl, ADMIN_PASSWORD)}` };
    const nodes = await (await fetch(`${server.httpUrl}/nodes`, { headers: { ...auth, accept: 'application/json' } })).json();
    const ours = nodes.filter((n: any) => n.module === '@fieldflow/nodes');
    const types = ['aggregate', 'alarm', 'alarm in', 'channel in', 'channel out', 'device status', 'device trigger', 'history', 'notify', 'notify in', 'ota in', 'ota rollout', 'schedule', 'tag'];
    assert.deepEqual(ours.flatMap((n: any) => n.types).sort(), types);
    assert.ok(ours.every((n: any) => n.enabled && !n.err), JSON.stringify(ours.map((n: any) => n.err)));
    const settings = await (await fetch(`${server.httpUrl}/settings`, { headers: auth })).json();
    assert.equal(settings.editorTheme.palette.categories.order[0], 'fieldflow');
    const listing = await (await fetch(`${server.httpUrl}/library/examples/flows/@fieldflow/nodes`, { headers: auth })).json();
    const names: string[] = listing.map((e: any) => (typeof e === 'string' ? e : e.fn)).filter(Boolean);
    for (const type of types) {
      const name = names.find((n) => n.startsWith(`${type} - `));
      assert.ok(name, `no example for ${type} in ${JSON.stringify(listing)}`);
      const flow = await (await fetch(`${server.httpUrl}/library/examples/flows/@fieldflow/nodes/${encodeURIComponent(name!)}`, { headers: auth })).json();
      assert.ok(flow.some((n: any) => n.type === type), `example ${name} does not use ${type}`);
    }
  });

  it('takes QoS 0 and QoS 1 messages over MQTT/TCP and MQTT/WebSocket into history and the aggregate', async () => {
    const tcp = await connect(server.mqttUrl, { clientId: device.id, username: device.id, password: device.token });
    const ws = await connect(server.wsUrl, { clientId: `${device.id}:ws`, username: device.id, password: device.token });
    clients.push(tcp, ws);
    const topic = `devices/${device.id}/channels/telemetry`;
    await tcp.publishAsync(topic, JSON.stringify({ temp: 20, unit: 'C', cfg: { a: 1 } }), { qos: 1 });
    await ws.publishAsync(topic, JSON.stringify({ temp: 21, cfg: { a: null, b: 2 } }), { qos: 1 });
    await tcp.publishAsync(topic, JSON.stringify({ temp: 22 }), { qos: 0 });

    const history = await waitFor('three messages', async () => {
      const r = await api.get(`/devices/${device.id}/channels/telemetry/messages?order=asc`);
      return r.body.items?.length === 3 && r.body;
    });
    assert.deepEqual(history.items.map((m: any) => m.data.temp), [20, 21, 22]);
    assert.equal(history.next, null);
    const agg = await api.get(`/devices/${device.id}/channels/telemetry/aggregate`);
    assert.deepEqual(agg.body.data, { temp: 22, unit: 'C', cfg: { b: 2 } });
    assert.equal(agg.body.lastMessageId, history.items[2].id);
    const channels = await api.get(`/devices/${device.id}/channels`);
    assert.deepEqual(channels.body.items.map((c: any) => [c.name, c.messageCount]), [['telemetry', 3]]);
  });

  it('runs flows: channel in feeds a function whose result channel out stores, and device status reports presence', async () => {
    const tab = 'e2e0000000000001';
    await deployFlows(server.httpUrl, ADMIN_PASSWORD, [
      { id: tab, type: 'tab', label: 'e2e' },
      { id: 'e2e0000000000002', z: tab, type: 'channel in', deviceMode: 'selector', selector: 'site=north', channel: 'readings', onMessage: true, onAggregate: false, wires: [['e2e0000000000003']] },
      { id: 'e2e0000000000003', z: tab, type: 'function', func: 'msg.payload = { doubled: msg.payload.v * 2, from: msg.messageId, topic: msg.topic };\nreturn msg;', outputs: 1, wires: [['e2e0000000000004']] },
      { id: 'e2e0000000000004', z: tab, type: 'channel out', device: '', channel: 'derived', wires: [] },
      { id: 'e2e0000000000005', z: tab, type: 'device status', deviceMode: 'id', device: device.id, wires: [['e2e0000000000006']] },
      { id: 'e2e0000000000006', z: tab, type: 'change', rules: [{ t: 'set', p: 'payload', pt: 'msg', to: 'event', tot: 'msg' }], wires: [['e2e0000000000007']] },
      { id: 'e2e0000000000007', z: tab, type: 'channel out', device: device.id, channel: 'presence', wires: [] },
    ]);
    const client = await connect(server.mqttUrl, { clientId: device.id, username: device.id, password: device.token });
    clients.push(client);
    await client.publishAsync(`devices/${device.id}/channels/readings`, JSON.stringify({ v: 21 }), { qos: 1 });
    const derived = await waitFor('the derived message', async () => {
      const r = await api.get(`/devices/${device.id}/channels/derived/messages`);
      return r.status === 200 && r.body.items.length > 0 && r.body.items[0];
    });
    const source = (await api.get(`/devices/${device.id}/channels/readings/messages`)).body.items[0];
    assert.deepEqual(derived.data, { doubled: 42, from: source.id, topic: `devices/${device.id}/channels/readings` });
    await client.endAsync();
    clients.pop();
    const presence = await waitFor('connect and disconnect in the flow', async () => {
      const r = await api.get(`/devices/${device.id}/channels/presence/messages?order=asc`);
      const events = r.status === 200 ? r.body.items.map((m: any) => m.data) : [];
      return events.includes('DeviceDisconnect') && events;
    });
    assert.deepEqual(presence.slice(-2), ['DeviceConnect', 'DeviceDisconnect']);
  });

  it("keeps online and lastSeen on the device and publishes them retained on the device's status topic", async () => {
    const a = await connect(server.mqttUrl, { clientId: device.id, username: device.id, password: device.token });
    clients.push(a);
    const online = await waitFor('online', async () => {
      const r = await api.get(`/devices/${device.id}`);
      return r.body.online === true && r.body;
    });
    assert.ok(Date.now() - Date.parse(online.lastSeen) < 10_000);
    const watcher = await connect(server.mqttUrl, { clientId: `${device.id}:watch`, username: device.id, password: device.token });
    clients.push(watcher);
    const statuses: any[] = [];
    watcher.on('message', (_t, payload) => statuses.push(JSON.parse(payload.toString())));
    await watcher.subscribeAsync(`devices/${device.id}/status`, { qos: 1 });
    await waitFor('the retained status', () => statuses.length >= 1);
    assert.equal(statuses[0].online, true);
    await a.endAsync();
    clients.splice(clients.indexOf(a), 1);
    // The watcher is a second connection of the same device, so it stays online.
    assert.equal((await api.get(`/devices/${device.id}`)).body.online, true);
    await watcher.endAsync();
    clients.splice(0);
    const offline = await waitFor('offline', async () => {
      const r = await api.get(`/devices/${device.id}`);
      return r.body.online === false && r.body;
    });
    assert.ok(Date.parse(offline.lastSeen) >= Date.parse(online.lastSeen));
  });

  it('takes messages over HTTP with the device token and serves them in history', async () => {
    const deviceApi = new Api(server.apiUrl, device.token);
    const r = await deviceApi.post(`/devices/${device.id}/channels/http/messages`, { via: 'http' });
    assert.equal(r.status, 201);
    const h = await api.get(`/devices/${device.id}/channels/http/messages`);
    assert.deepEqual(h.body.items, [{ id: r.body.id, ts: r.body.ts, data: { via: 'http' } }]);
  });

  it("serves over HTTP, in the aggregate example, only the field it picks of the device set in the flow, whatever the caller asks for", async () => {
    const auth = { authorization: `Bearer ${await editorToken(server.httpUrl, ADMIN_PASSWORD)}` };
    const examples = `${server.httpUrl}/library/examples/flows/@fieldflow/nodes`;
    const names: string[] = ((await (await fetch(examples, { headers: auth })).json()) as any[]).map((e) => (typeof e === 'string' ? e : e.fn)).filter(Boolean);
    for (const name of names) {
      const flow = (await (await fetch(`${examples}/${encodeURIComponent(name)}`, { headers: auth })).json()) as any[];
      for (const n of flow.filter((x) => x.type === 'http in')) assert.doesNotMatch(n.url, /:/, `${name} lets the URL choose what it serves (${n.url})`);
    }
    const other = (await api.post('/devices', { name: 'pump-2' })).body;
    const write = (id: string, data: unknown) => api.post(`/devices/${id}/channels/telemetry/messages`, data);
    assert.equal((await write(device.id, { temp: 21.5, wifi: { ssid: 'plant', psk: 'device-secret' } })).status, 201);
    assert.equal((await write(other.id, { temp: 99, owner: 'someone else' })).status, 201);

    const name = names.find((n) => n.startsWith('aggregate - '))!;
    const example = (await (await fetch(`${examples}/${encodeURIComponent(name)}`, { headers: auth })).json()) as any[];
    const tab = 'e2e00000000000a0';
    const nodes = example.map((n) => ({ ...n, z: tab }));
    const open = nodes.find((n) => n.type === 'http in');
    // As shipped, no device is set: the endpoint serves nothing.
    await deployFlows(server.httpUrl, ADMIN_PASSWORD, [{ id: tab, type: 'tab', label: 'example' }, ...nodes]);
    assert.equal((await fetch(`${server.httpUrl}${open.url}`)).status, 404);
    // The user sets the device, as the example's comment says.
    nodes.find((n) => n.type === 'aggregate').device = device.id;
    await deployFlows(server.httpUrl, ADMIN_PASSWORD, [{ id: tab, type: 'tab', label: 'example' }, ...nodes]);
    for (const query of ['', `?device=${other.id}&deviceId=${other.id}&channel=secrets`]) {
      const res = await fetch(`${server.httpUrl}${open.url}${query}`);
      assert.equal(res.status, 200);
      const body = await res.json();
      assert.deepEqual(Object.keys(body).sort(), ['temperature', 'updatedAt']);
      assert.equal(body.temperature, 21.5);
    }
    assert.equal((await fetch(`${server.httpUrl}/state/${other.id}/telemetry`)).status, 404);
  });
});
