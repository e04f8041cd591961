import assert from 'node:assert/strict';
import { startApiServer, type ApiServer } from '../../support/api-server';
import { assertProblem } from '../api/problems';

describe('REST API OTA fleets', () => {
  let s: ApiServer;
  const ids: Record<string, string> = {};
  beforeEach(async () => {
    s = await startApiServer();
    for (const [name, labels] of [['n1', { site: 'north', tier: 'canary' }], ['n2', { site: 'north' }], ['s1', { site: 'south' }]] as const) {
      ids[name] = (await s.admin.post('/devices', { name, labels })).body.id;
    }
  });
  afterEach(() => s.close());

  const members = async (id: string) => (await s.admin.get(`/ota/fleets/${id}/devices`)).body.items.map((d: any) => d.name).sort();

  it('is the union of a label selector and an explicit list, evaluated when asked', async () => {
    const f = await s.admin.post('/ota/fleets', { name: 'north canary + s1', selector: 'site=north,tier=canary', devices: [ids.s1] });
    assert.equal(f.status, 201, JSON.stringify(f.body));
    assert.deepEqual(await members(f.body.id), ['n1', 's1']);
    await s.admin.patch(`/devices/${ids.n2}`, { labels: { tier: 'canary' } });
    assert.deepEqual(await members(f.body.id), ['n1', 'n2', 's1'], 'a device that gains the label joins');
    await s.admin.delete(`/devices/${ids.s1}`);
    assert.deepEqual(await members(f.body.id), ['n1', 'n2'], 'a deleted device leaves');
    const changed = await s.admin.patch(`/ota/fleets/${f.body.id}`, { selector: 'site=south' });
    assert.equal(changed.body.selector, 'site=south');
    assert.deepEqual(await members(f.body.id), []);
  });

  it('refuses bad selectors, unknown devices, empty definitions and duplicate names', async () => {
    assertProblem(await s.admin.post('/ota/fleets', { name: 'x', selector: 'site=north,,tier' }), 400, 'FF_INVALID_FLEET');
    const unknown = await s.admin.post('/ota/fleets', { name: 'x', devices: [ids.n1, 'nope'] });
    assertProblem(unknown, 400, 'FF_INVALID_FLEET');
    assert.deepEqual(unknown.body.errors.map((e: any) => e.path), ['/devices/1']);
    assertProblem(await s.admin.post('/ota/fleets', { name: 'x' }), 400, 'FF_INVALID_FLEET');
    assertProblem(await s.admin.post('/ota/fleets', { name: 'x', selector: 'a', extra: 1 }), 400, 'FF_INVALID_FLEET');
    assert.equal((await s.admin.post('/ota/fleets', { name: 'x', selector: 'site' })).status, 201);
    assertProblem(await s.admin.post('/ota/fleets', { name: 'x', selector: 'site' }), 409, 'FF_CONFLICT');
    assertProblem(await s.admin.get('/ota/fleets/nope'), 404, 'FF_FLEET_NOT_FOUND');
    assert.equal((await s.admin.get('/ota/fleets')).body.items.length, 1);
  });
});
