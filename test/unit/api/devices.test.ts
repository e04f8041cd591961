import assert from 'node:assert/strict';
import { startApiServer, type ApiServer } from '../../support/api-server';
import { Api } from '../../support/http';
import { assertProblem } from './problems';

describe('REST API devices', () => {
  let s: ApiServer;
  beforeEach(async () => (s = await startApiServer()));
  afterEach(() => s.close());

  it('creates a device and shows its token once, at creation', async () => {
    const r = await s.admin.post('/devices', { name: 'pump-1', labels: { site: 'north' }, model: 'pump-v2' });
    assert.equal(r.status, 201);
    assert.match(r.body.id, /^[0-9a-f-]{36}$/);
    assert.equal(r.headers.get('location'), `/api/v1/devices/${r.body.id}`);
    assert.deepEqual([r.body.name, r.body.labels, r.body.model], ['pump-1', { site: 'north' }, 'pump-v2']);
    assert.match(r.body.token, /^ffd_[A-Za-z0-9_-]{43}$/);
    const text = JSON.stringify([(await s.admin.get(`/devices/${r.body.id}`)).body, (await s.admin.get('/devices')).body]);
    assert.ok(!text.includes(r.body.token), 'token shown again');
    assert.ok(!/token|hash/i.test(text), 'token or hash field in a view');
  });

  it('lists devices by label selector, a page at a time', async () => {
    for (let i = 0; i < 5; i++) await s.admin.post('/devices', { name: `n${i}`, labels: { site: 'north' } });
    await s.admin.post('/devices', { name: 's0', labels: { site: 'south' } });
    const south = await s.admin.get('/devices?selector=site%3Dsouth');
    assert.deepEqual(south.body.items.map((d: any) => d.name), ['s0']);
    const names: string[] = [];
    let after = '';
    for (;;) {
      const page = await s.admin.get(`/devices?selector=site%3Dnorth&limit=2${after ? `&after=${after}` : ''}`);
      names.push(...page.body.items.map((d: any) => d.name));
      if (!page.body.next) break;
      after = page.body.next;
    }
    assert.deepEqual(names, ['n0', 'n1', 'n2', 'n3', 'n4']);
    assertProblem(await s.admin.get('/devices?selector=site%3D%3D%3D'), 400, 'FF_INVALID_SELECTOR');
    assertProblem(await s.admin.get('/devices?limit=0'), 400, 'FF_INVALID_QUERY');
    assertProblem(await s.admin.get('/devices?after=garbage'), 400, 'FF_INVALID_QUERY');
  });

  it('patches name, model and labels, where a null label is removed', async () => {
    const { body } = await s.admin.post('/devices', { name: 'a', labels: { site: 'north', tier: 'canary' } });
    const r = await s.admin.patch(`/devices/${body.id}`, { name: 'b', model: null, labels: { tier: null, env: 'prod' } });
    assert.equal(r.status, 200);
    assert.deepEqual([r.body.name, r.body.model, r.body.labels], ['b', null, { site: 'north', env: 'prod' }]);
  });

  it('refuses invalid bodies with every failing path, and stores nothing', async () => {
    const r = await s.admin.post('/devices', { name: 42, labels: { 'bad.key': 'x', ok: 'a,b' }, extra: true });
    assertProblem(r, 400, 'FF_VALIDATION');
    const paths = r.body.errors.map((e: any) => e.path).sort();
    assert.deepEqual(paths, ['/extra', '/labels/bad.key', '/labels/ok', '/name']);
    assertProblem(await s.admin.post('/devices', '{"name": "x"', { 'content-type': 'application/json' }), 400, 'FF_MALFORMED_JSON');
    assertProblem(await s.admin.post('/devices', 'name=x', { 'content-type': 'application/x-www-form-urlencoded' }), 415, 'FF_UNSUPPORTED_MEDIA_TYPE');
    assertProblem(await s.admin.post('/devices', { name: 'x'.repeat(70_000) }), 413, 'FF_PAYLOAD_TOO_LARGE');
    assertProblem(await s.admin.patch('/devices/00000000-0000-0000-0000-000000000000', { name: 'x' }), 404, 'FF_DEVICE_NOT_FOUND');
    assertProblem(await s.admin.get('/devices/%E0%A4%A'), 400, 'FF_BAD_REQUEST');
    assert.deepEqual((await s.admin.get('/devices')).body.items, []);
  });

  it('refuses a JSON scalar where an object is required with FF_VALIDATION, not as malformed JSON', async () => {
    for (const [text, got] of [['"pump-1"', 'string'], ['42', 'number'], ['true', 'boolean'], ['null', 'null']]) {
      const r = await s.admin.post('/devices', text, { 'content-type': 'application/json' });
      assertProblem(r, 400, 'FF_VALIDATION');
      assert.deepEqual(r.body.errors, [{ path: '/', message: `must be a JSON object; got ${got}` }]);
    }
    assertProblem(await s.admin.post('/triggers', '7', { 'content-type': 'application/json' }), 400, 'FF_VALIDATION');
    assert.deepEqual((await s.admin.get('/devices')).body.items, []);
  });

  it('refuses a number beyond a 64-bit float in any REST body with FF_NUMBER_OUT_OF_RANGE at its path', async () => {
    const r = await s.admin.post('/devices', '{"name": "x", "labels": {"site": "a"}, "extra": [1, 1e999]}', { 'content-type': 'application/json' });
    assertProblem(r, 400, 'FF_NUMBER_OUT_OF_RANGE');
    assert.deepEqual(r.body.errors.map((e: any) => e.path), ['/extra/1']);
    const { body } = await s.admin.post('/devices', { name: 'pump' });
    assertProblem(await s.admin.request('PUT', `/devices/${body.id}/config`, '{"interval": 1e999}'), 400, 'FF_NUMBER_OUT_OF_RANGE');
    assert.equal((await s.admin.get(`/devices/${body.id}/config`)).body.updatedAt, null);
    assert.deepEqual((await s.admin.get('/devices')).body.items.map((d: any) => d.name), ['pump']);
  });

  it('deletes a device, after which it is not found and its token is refused', async () => {
    const { body } = await s.admin.post('/devices', { name: 'a' });
    const device = new Api(s.url, body.token);
    assert.equal((await device.post(`/devices/${body.id}/channels/t/messages`, { v: 1 })).status, 201);
    assert.equal((await s.admin.delete(`/devices/${body.id}`)).status, 204);
    assertProblem(await s.admin.get(`/devices/${body.id}`), 404, 'FF_DEVICE_NOT_FOUND');
    assertProblem(await s.admin.delete(`/devices/${body.id}`), 404, 'FF_DEVICE_NOT_FOUND');
    assertProblem(await device.post(`/devices/${body.id}/channels/t/messages`, { v: 2 }), 401, 'FF_AUTH_INVALID');
  });

  it('rotates a token: the new one works, the old one stops at once', async () => {
    const { body } = await s.admin.post('/devices', { name: 'a' });
    const rotated = await s.admin.post(`/devices/${body.id}/token`);
    assert.equal(rotated.status, 200);
    assert.notEqual(rotated.body.token, body.token);
    assertProblem(await new Api(s.url, body.token).post(`/devices/${body.id}/channels/t/messages`, 1), 401, 'FF_AUTH_INVALID');
    assert.equal((await new Api(s.url, rotated.body.token).post(`/devices/${body.id}/channels/t/messages`, 1)).status, 201);
  });
});
