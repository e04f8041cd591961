import assert from 'node:assert/strict';
import { startApiServer, type ApiServer } from '../../support/api-server';
import { Api } from '../../support/http';
import { assertProblem } from './problems';

describe('REST API channels and messages', () => {
  let s: ApiServer;
  let id: string;
  let device: Api;
  beforeEach(async () => {
    s = await startApiServer({ ingest: { maxPayloadBytes: 1024 } });
    const { body } = await s.admin.post('/devices', { name: 'pump-1' });
    id = body.id;
    device = new Api(s.url, body.token);
  });
  afterEach(() => s.close());
  const messages = (channel = 'telemetry') => `/devices/${id}/channels/${channel}/messages`;

  it('accepts a message with the device token or a user token and answers 201 {id, ts}', async () => {
    const a = await device.post(messages(), { temp: 21.5 });
    assert.equal(a.status, 201);
    assert.match(a.body.id, /^[0-9]+$/);
    assert.ok(Math.abs(Date.parse(a.body.ts) - Date.now()) < 5000);
    const b = await s.admin.post(messages(), [1, 2, 3]);
    assert.equal(b.status, 201);
    const history = await s.admin.get(messages());
    assert.deepEqual(history.body.items.map((m: any) => m.data), [[1, 2, 3], { temp: 21.5 }]);
    assert.deepEqual(history.body.items.map((m: any) => m.id), [b.body.id, a.body.id]);
  });

  it("refuses another device's token", async () => {
    const other = await s.admin.post('/devices', { name: 'other' });
    assertProblem(await new Api(s.url, other.body.token).post(messages(), { x: 1 }), 401, 'FF_AUTH_INVALID');
    assertProblem(await s.anonymous.post(messages(), { x: 1 }), 401, 'FF_AUTH_REQUIRED');
  });

  it('refuses bad payloads with specific codes and stores none of them', async () => {
    assertProblem(await device.post(messages(), '{"temp": ', { 'content-type': 'application/json' }), 400, 'FF_MALFORMED_JSON');
    assertProblem(await device.post(messages(), '', { 'content-type': 'application/json' }), 400, 'FF_MALFORMED_JSON');
    assertProblem(await device.post(messages(), { big: 'x'.repeat(2000) }), 413, 'FF_PAYLOAD_TOO_LARGE');
    assertProblem(await device.post(messages(), 'temp=1', { 'content-type': 'text/plain' }), 415, 'FF_UNSUPPORTED_MEDIA_TYPE');
    assertProblem(await device.post(messages(), '[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]', { 'content-type': 'application/json' }), 400, 'FF_PAYLOAD_TOO_DEEP');
    assertProblem(await device.post(`/devices/${id}/channels/bad%2Fname/messages`, 1), 400, 'FF_INVALID_CHANNEL_NAME');
    assertProblem(await s.admin.post('/devices/00000000-0000-0000-0000-000000000000/channels/t/messages', 1), 404, 'FF_DEVICE_NOT_FOUND');
    assertProblem(await s.admin.get(messages()), 404, 'FF_CHANNEL_NOT_FOUND');
    assertProblem(await device.post(messages(), '{"temp": 1e999}', { 'content-type': 'application/json' }), 400, 'FF_NUMBER_OUT_OF_RANGE');
    assertProblem(await s.admin.patch(`/devices/${id}/channels/telemetry/aggregate`, '{"temp": -1e999}', { 'content-type': 'application/merge-patch+json' }), 400, 'FF_NUMBER_OUT_OF_RANGE');
    // A good message after all of that is stored, alone.
    assert.equal((await device.post(messages(), { ok: true })).status, 201);
    assert.deepEqual((await s.admin.get(messages())).body.items.map((m: any) => m.data), [{ ok: true }]);
    assert.deepEqual((await s.admin.get(`/devices/${id}/channels/telemetry/aggregate`)).body.data, { ok: true });
  });

  it('pages history by cursor and by time, and validates the query', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 7; i++) ids.push((await device.post(messages(), { i })).body.id);
    const p1 = await s.admin.get(`${messages()}?order=asc&limit=3`);
    assert.deepEqual(p1.body.items.map((m: any) => m.id), ids.slice(0, 3));
    assert.equal(p1.body.next, ids[2]);
    const p3 = await s.admin.get(`${messages()}?order=asc&limit=3&after=${ids[5]}`);
    assert.deepEqual(p3.body.items.map((m: any) => m.data.i), [6]);
    assert.equal(p3.body.next, null);
    const none = await s.admin.get(`${messages()}?before=${encodeURIComponent('2000-01-01T00:00:00Z')}`);
    assert.deepEqual(none.body.items, []);
    const all = await s.admin.get(`${messages()}?after=${encodeURIComponent(new Date(Date.now() - 60_000).toISOString())}`);
    assert.equal(all.body.items.length, 7);
    for (const q of ['limit=0', 'limit=1001', 'limit=ten', 'order=up', 'after=not-a-time', 'unknown=1']) {
      assertProblem(await s.admin.get(`${messages()}?${q}`), 400, 'FF_INVALID_QUERY');
    }
  });

  it('serves the aggregate and merge-patches it as a recorded message', async () => {
    await device.post(messages('state'), { mode: 'auto', limits: { hi: 80, lo: 10 } });
    const patched = await s.admin.patch(`/devices/${id}/channels/state/aggregate`, { limits: { lo: null } }, { 'content-type': 'application/merge-patch+json' });
    assert.equal(patched.status, 200);
    assert.deepEqual(patched.body.data, { mode: 'auto', limits: { hi: 80 } });
    const agg = await s.admin.get(`/devices/${id}/channels/state/aggregate`);
    assert.deepEqual(agg.body.data, { mode: 'auto', limits: { hi: 80 } });
    assert.equal(agg.body.lastMessageId, (await s.admin.get(`${messages('state')}?limit=1`)).body.items[0].id);
    assert.equal((await s.admin.get(`/devices/${id}/channels/state`)).body.messageCount, 2);
  });

  it('lists channels with counts and sets per-channel retention', async () => {
    await device.post(messages('a'), 1);
    await device.post(messages('a'), 2);
    await device.post(messages('b'), 3);
    const list = await s.admin.get(`/devices/${id}/channels`);
    assert.deepEqual(list.body.items.map((c: any) => [c.name, c.messageCount]), [['a', 2], ['b', 1]]);
    assert.ok(Date.parse(list.body.items[0].lastMessageAt) > 0);
    const set = await s.admin.patch(`/devices/${id}/channels/a`, { retention: { maxCount: 5, maxAgeSeconds: 3600 } });
    assert.deepEqual(set.body.retention, { maxCount: 5, maxAgeSeconds: 3600 });
    const cleared = await s.admin.patch(`/devices/${id}/channels/a`, { retention: { maxAgeSeconds: null } });
    assert.deepEqual(cleared.body.retentionOverrides, { maxCount: 5 });
    assert.equal(cleared.body.retention.maxAgeSeconds, 30 * 86400);
    const bad = await s.admin.patch(`/devices/${id}/channels/a`, { retention: { maxCount: -1 } });
    assertProblem(bad, 400, 'FF_VALIDATION');
    assert.equal(bad.body.errors[0].path, '/retention/maxCount');
  });
});
