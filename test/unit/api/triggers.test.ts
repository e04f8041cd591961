import assert from 'node:assert/strict';
import { startApiServer, type ApiServer } from '../../support/api-server';
import { assertProblem } from './problems';

describe('REST API triggers', () => {
  let s: ApiServer;
  let id: string;
  beforeEach(async () => {
    s = await startApiServer();
    id = (await s.admin.post('/devices', { name: 'tank-1' })).body.id;
  });
  afterEach(() => s.close());
  const spec = () => ({ name: 'tank high', device: id, channel: 'level', path: 'pct', kind: 'cross', threshold: 80, deadband: 5 });

  it('creates, reads, replaces, lists and deletes a trigger, filling in defaults', async () => {
    const created = await s.admin.post('/triggers', spec());
    assert.equal(created.status, 201);
    assert.equal(created.headers.get('location'), `/api/v1/triggers/${created.body.id}`);
    assert.deepEqual({ ...created.body, id: undefined, createdAt: undefined, updatedAt: undefined }, {
      ...spec(), id: undefined, createdAt: undefined, updatedAt: undefined, direction: 'rising', forSeconds: 0, enabled: true, owner: 'api', running: true,
    });
    const replaced = await s.admin.request('PUT', `/triggers/${created.body.id}`, { ...spec(), threshold: 90, enabled: false });
    assert.equal(replaced.body.threshold, 90);
    assert.equal(replaced.body.running, false);
    assert.deepEqual((await s.admin.get('/triggers')).body.items.map((t: any) => t.threshold), [90]);
    assert.equal((await s.admin.delete(`/triggers/${created.body.id}`)).status, 204);
    assertProblem(await s.admin.get(`/triggers/${created.body.id}`), 404, 'FF_TRIGGER_NOT_FOUND');
  });

  it('refuses invalid definitions with FF_INVALID_TRIGGER listing every problem, and stores nothing', async () => {
    const r = await s.admin.post('/triggers', { name: 'x', channel: 'level', path: 7, kind: 'cross', deadband: -2, forSeconds: -1 });
    assertProblem(r, 400, 'FF_INVALID_TRIGGER');
    assert.deepEqual(r.body.errors.map((e: any) => e.path).sort(), ['/deadband', '/forSeconds', '/path']);
    const missing = await s.admin.post('/triggers', { name: 'x', channel: 'level', path: 'pct', kind: 'cross' });
    assert.deepEqual(missing.body.errors, [{ path: '/threshold', message: 'is required for kind cross' }]);
    assertProblem(await s.admin.post('/triggers', { name: 'x', kind: 'teleport', channel: 'c', path: 'p' }), 400, 'FF_INVALID_TRIGGER');
    assertProblem(await s.admin.post('/triggers', '{"name":', { 'content-type': 'application/json' }), 400, 'FF_MALFORMED_JSON');
    assertProblem(await s.admin.request('PUT', '/triggers/nope', spec()), 404, 'FF_TRIGGER_NOT_FOUND');
    assert.deepEqual((await s.admin.get('/triggers')).body.items, []);
  });

  it('backtests a definition over a time range and returns each fire with its time', async () => {
    const from = new Date().toISOString();
    const values = [70, 85, 77, 74, 81, 90, 60, 82];
    const published = [];
    for (const pct of values) published.push((await s.admin.post(`/devices/${id}/channels/level/messages`, { pct })).body);
    const r = await s.admin.post('/triggers/backtest', { trigger: spec(), from });
    assert.equal(r.status, 200);
    assert.equal(r.body.scanned, values.length);
    assert.equal(r.body.count, 3);
    assert.deepEqual(r.body.fires.map((f: any) => [f.ts, f.value, f.edge, f.device]), [
      [published[1].ts, 85, 'rising', id],
      [published[4].ts, 81, 'rising', id],
      [published[7].ts, 82, 'rising', id],
    ]);
    const limited = await s.admin.post('/triggers/backtest', { trigger: spec(), from, maxFires: 1 });
    assert.deepEqual([limited.body.count, limited.body.fires.length, limited.body.truncated], [3, 1, true]);
    const stored = await s.admin.post('/triggers', spec());
    assert.equal((await s.admin.post(`/triggers/${stored.body.id}/backtest`, { from })).body.count, 3);
  });

  it('refuses a backtest with a bad range or definition with specific codes', async () => {
    assertProblem(await s.admin.post('/triggers/backtest', { trigger: spec() }), 400, 'FF_VALIDATION');
    assertProblem(await s.admin.post('/triggers/backtest', { trigger: spec(), from: 'yesterday-ish' }), 400, 'FF_VALIDATION');
    assertProblem(await s.admin.post('/triggers/backtest', { trigger: spec(), from: Date.now() + 60_000 }), 400, 'FF_VALIDATION');
    assertProblem(await s.admin.post('/triggers/backtest', { trigger: { ...spec(), threshold: 'high' }, from: 0 }), 400, 'FF_INVALID_TRIGGER');
    assertProblem(await s.admin.post('/triggers/backtest', { trigger: { ...spec(), device: '00000000-0000-4000-8000-000000000000' }, from: 0 }), 404, 'FF_DEVICE_NOT_FOUND');
    assertProblem(await s.anonymous.post('/triggers/backtest', { trigger: spec(), from: 0 }), 401, 'FF_AUTH_REQUIRED');
  });
});
