import assert from 'node:assert/strict';
import mqtt, { type MqttClient } from 'mqtt';
import { startServer, type ServerProcess } from '../support/server';
import { Api } from '../support/http';
import { waitFor } from '../support/mqtt';
import { assertProblem } from '../unit/api/problems';

interface Received {
  payload: string;
  retain: boolean;
}

const pumpSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['interval'],
  properties: {
    interval: { type: 'integer', minimum: 1 },
    thresholds: { type: 'object', properties: { high: { type: 'number' } } },
  },
};

/** Long enough for a retained message to arrive after SUBACK on a local broker. */
const QUIET_MS = 300;

describe('device models over REST, end to end', function () {
  this.timeout(60_000);
  let server: ServerProcess;
  let api: Api;
  const clients: MqttClient[] = [];

  /** Subscribe as the device to its config topic and record what arrives (retained or live). */
  async function watchConfig(device: { id: string; token: string }, clientId = device.id): Promise<Received[]> {
    const client = mqtt.connect(server.mqttUrl, { clientId, username: device.id, password: device.token, reconnectPeriod: 0, protocolVersion: 4 });
    clients.push(client);
    const received: Received[] = [];
    client.on('message', (_topic, payload, packet) => received.push({ payload: payload.toString(), retain: packet.retain }));
    await new Promise<void>((resolve, reject) => {
      client.once('connect', () => resolve());
      client.once('error', reject);
    });
    await client.subscribeAsync(`devices/${device.id}/config`, { qos: 1 });
    return received;
  }

  async function newDevice(name: string, model: string | null): Promise<{ id: string; token: string }> {
    const r = await api.post('/devices', { name, model });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    return { id: r.body.id, token: r.body.token };
  }

  before(async () => {
    server = await startServer();
    api = await server.admin();
  });
  afterEach(async function () {
    if (this.currentTest?.state === 'failed') process.stderr.write(`--- server output ---\n${server.output()}\n`);
    await Promise.all(clients.splice(0).map((c) => c.endAsync(true)));
  });
  after(async () => {
    const code = await server.stop();
    assert.equal(code, 0, `server did not exit cleanly:\n${server.output()}`);
  });

  it('registers, lists, gets, replaces and deletes a model', async () => {
    const created = await api.post('/models', { name: 'meter-1', description: 'Power meter', configSchema: pumpSchema });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    assert.equal(created.headers.get('location'), '/api/v1/models/meter-1');
    assert.deepEqual(Object.keys(created.body).sort(), ['configSchema', 'createdAt', 'description', 'name', 'updatedAt']);
    assert.deepEqual(created.body.configSchema, pumpSchema);
    assert.ok(!Number.isNaN(Date.parse(created.body.createdAt)));
    assert.ok((await api.post('/models', { name: 'aaa', configSchema: {} })).status === 201);

    const list = await api.get('/models');
    assert.equal(list.status, 200);
    assert.deepEqual(list.body.items.map((m: { name: string }) => m.name), ['aaa', 'meter-1']);
    assert.deepEqual((await api.get('/models/meter-1')).body, created.body);

    const replaced = await api.request('PUT', '/models/meter-1', { description: 'Power meter v2', configSchema: { type: 'object' } });
    assert.equal(replaced.status, 200, JSON.stringify(replaced.body));
    assert.equal(replaced.body.description, 'Power meter v2');
    assert.deepEqual(replaced.body.configSchema, { type: 'object' });
    assert.equal(replaced.body.createdAt, created.body.createdAt);

    assert.equal((await api.delete('/models/meter-1')).status, 204);
    assert.equal((await api.delete('/models/aaa')).status, 204);
    assertProblem(await api.get('/models/meter-1'), 404, 'FF_MODEL_NOT_FOUND');
    assert.deepEqual((await api.get('/models')).body, { items: [] });
  });

  it("refuses a configuration that fails the device's model schema and retains nothing on devices/{id}/config, then accepts a valid one", async () => {
    assert.equal((await api.post('/models', { name: 'pump-v2', configSchema: pumpSchema })).status, 201);
    const device = await newDevice('pump-1', 'pump-v2');
    const put = (body: unknown) => api.request('PUT', `/devices/${device.id}/config`, body);

    const refused = await put({ interval: 0, thresholds: { high: 'hot' }, colour: 'red' });
    assertProblem(refused, 422, 'FF_CONFIG_SCHEMA_MISMATCH');
    assert.deepEqual(refused.body.errors, [
      { path: '/colour', message: 'is not allowed' },
      { path: '/interval', message: 'must be >= 1' },
      { path: '/thresholds/high', message: 'must be number' },
    ]);
    assert.match(refused.body.detail, /pump-v2/);
    assert.deepEqual((await api.get(`/devices/${device.id}/config`)).body, { config: {}, updatedAt: null });
    const first = await watchConfig(device);
    await new Promise((r) => setTimeout(r, QUIET_MS));
    assert.equal(first.length, 0, 'nothing is retained for the device');

    const accepted = await put({ interval: 30, thresholds: { high: 80 } });
    assert.equal(accepted.status, 200, JSON.stringify(accepted.body));
    const live = await waitFor('the config', () => first[0]);
    assert.deepEqual(JSON.parse(live.payload), { interval: 30, thresholds: { high: 80 } });

    assertProblem(await put({ interval: 'often' }), 422, 'FF_CONFIG_SCHEMA_MISMATCH');
    const later = await watchConfig(device, `${device.id}:later`);
    const retained = await waitFor('the retained config', () => later[0]);
    assert.equal(retained.retain, true);
    assert.deepEqual(JSON.parse(retained.payload), { interval: 30, thresholds: { high: 80 } });
    await new Promise((r) => setTimeout(r, QUIET_MS));
    assert.equal(first.length, 1, 'the refused configuration was not published');
    assert.deepEqual((await api.get(`/devices/${device.id}/config`)).body, accepted.body);
  });

  it('refuses a model change the stored configuration does not satisfy, keeping the model, and allows it once the configuration fits', async () => {
    assert.equal((await api.post('/models', { name: 'strict', configSchema: pumpSchema })).status, 201);
    const device = await newDevice('legacy-1', 'legacy');
    assert.equal((await api.request('PUT', `/devices/${device.id}/config`, { interval: 'often' })).status, 200, 'an unregistered model checks nothing');

    const refused = await api.patch(`/devices/${device.id}`, { model: 'strict', name: 'renamed' });
    assertProblem(refused, 422, 'FF_CONFIG_SCHEMA_MISMATCH');
    assert.deepEqual(refused.body.errors, [{ path: '/interval', message: 'must be integer' }]);
    const unchanged = (await api.get(`/devices/${device.id}`)).body;
    assert.equal(unchanged.model, 'legacy');
    assert.equal(unchanged.name, 'legacy-1');

    assert.equal((await api.request('PUT', `/devices/${device.id}/config`, { interval: 60 })).status, 200);
    const changed = await api.patch(`/devices/${device.id}`, { model: 'strict' });
    assert.equal(changed.status, 200, JSON.stringify(changed.body));
    assert.equal(changed.body.model, 'strict');

    assertProblem(await api.delete('/models/strict'), 409, 'FF_MODEL_IN_USE');
    assert.equal((await api.patch(`/devices/${device.id}`, { model: null })).status, 200);
    assert.equal((await api.delete('/models/strict')).status, 204);
  });

  it('refuses bad model input with a specific code each, and changes nothing', async () => {
    assert.equal((await api.post('/models', { name: 'kept', description: 'kept', configSchema: pumpSchema })).status, 201);
    const kept = (await api.get('/models/kept')).body;

    assertProblem(await api.post('/models', '{"name":'), 400, 'FF_MALFORMED_JSON');
    assertProblem(await api.request('PUT', '/models/kept', 'not json'), 400, 'FF_MALFORMED_JSON');
    assertProblem(await api.post('/models', 'name=x', { 'content-type': 'application/x-www-form-urlencoded' }), 415, 'FF_UNSUPPORTED_MEDIA_TYPE');

    const wrongTypes = await api.post('/models', { name: 7, description: ['x'], configSchema: 'object', extra: true });
    assertProblem(wrongTypes, 400, 'FF_VALIDATION');
    assert.deepEqual(wrongTypes.body.errors.map((e: { path: string }) => e.path).sort(), ['/configSchema', '/description', '/extra', '/name']);
    assertProblem(await api.post('/models', [{ name: 'x' }]), 400, 'FF_VALIDATION');
    assertProblem(await api.post('/models', { name: 'has space', configSchema: {} }), 400, 'FF_VALIDATION');

    const notCompiling = await api.post('/models', { name: 'broken', configSchema: { type: 'object', properties: { n: { type: 'numbr' } } } });
    assertProblem(notCompiling, 400, 'FF_VALIDATION');
    assert.deepEqual(notCompiling.body.errors, [{ path: '/configSchema/properties/n/type', message: 'must be equal to one of the allowed values' }]);
    const unknownKeyword = await api.post('/models', { name: 'broken', configSchema: { type: 'integer', minimun: 1 } });
    assertProblem(unknownKeyword, 400, 'FF_VALIDATION');
    assert.equal(unknownKeyword.body.errors[0].path, '/configSchema');
    const oversized = await api.post('/models', { name: 'big', configSchema: { description: 'x'.repeat(70_000) } });
    assertProblem(oversized, 400, 'FF_VALIDATION');
    assert.match(oversized.body.errors[0].message, /at most 65536 bytes/);
    assertProblem(await api.post('/models', { name: 'huge', configSchema: { description: 'x'.repeat(140_000) } }), 413, 'FF_PAYLOAD_TOO_LARGE');

    assertProblem(await api.post('/models', { name: 'kept', configSchema: {} }), 409, 'FF_CONFLICT');
    const otherName = await api.request('PUT', '/models/kept', { name: 'other', configSchema: {} });
    assertProblem(otherName, 400, 'FF_VALIDATION');
    assert.deepEqual(otherName.body.errors.map((e: { path: string }) => e.path), ['/name']);
    assertProblem(await api.request('PUT', '/models/kept', { configSchema: { type: 'nope' } }), 400, 'FF_VALIDATION');

    assertProblem(await api.get('/models/unknown'), 404, 'FF_MODEL_NOT_FOUND');
    assertProblem(await api.request('PUT', '/models/unknown', { configSchema: {} }), 404, 'FF_MODEL_NOT_FOUND');
    assertProblem(await api.delete('/models/unknown'), 404, 'FF_MODEL_NOT_FOUND');

    const device = await newDevice('d', 'kept');
    assertProblem(await new Api(server.apiUrl, device.token).get('/models'), 403, 'FF_FORBIDDEN');
    assertProblem(await new Api(server.apiUrl).post('/models', { name: 'anon', configSchema: {} }), 401, 'FF_AUTH_REQUIRED');

    assert.deepEqual((await api.get('/models/kept')).body, kept);
    const names = (await api.get('/models')).body.items.map((m: { name: string }) => m.name);
    assert.ok(names.includes('kept'));
    for (const refused of ['x', 'has space', 'broken', 'big', 'huge', 'other', 'anon']) assert.ok(!names.includes(refused), refused);
  });

  it('keeps models and the check they make across a server restart, and describes the routes in OpenAPI', async () => {
    assert.equal((await api.post('/models', { name: 'durable', configSchema: pumpSchema })).status, 201);
    const device = await newDevice('d-restart', 'durable');
    assert.equal(await server.stop(), 0, server.output());
    server = await startServer({ dataDir: server.dataDir });
    api = await server.admin();

    assert.deepEqual((await api.get('/models/durable')).body.configSchema, pumpSchema);
    assertProblem(await api.request('PUT', `/devices/${device.id}/config`, { interval: -1 }), 422, 'FF_CONFIG_SCHEMA_MISMATCH');
    const doc = (await new Api(server.apiUrl).get('/openapi.json')).body;
    assert.ok(doc.paths['/models'].get && doc.paths['/models'].post);
    assert.ok(doc.paths['/models/{name}'].get && doc.paths['/models/{name}'].put && doc.paths['/models/{name}'].delete);
    assert.ok(doc.paths['/devices/{id}/config'].put.responses[422]);
  });
});
