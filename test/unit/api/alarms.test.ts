import assert from 'node:assert/strict';
import { startApiServer, type ApiServer } from '../../support/api-server';
import type { AlarmEvent } from '../../../runtime/events';
import { assertProblem } from './problems';

describe('REST API alarms', () => {
  let s: ApiServer;
  let id: string;
  let other: string;
  let events: AlarmEvent[];
  beforeEach(async () => {
    s = await startApiServer();
    id = (await s.admin.post('/devices', { name: 'pump-1' })).body.id;
    other = (await s.admin.post('/devices', { name: 'pump-2' })).body.id;
    events = [];
    for (const type of ['AlarmRaised', 'AlarmUpdated', 'AlarmAcked', 'AlarmCleared'] as const) s.platform.events.on(type, (e) => events.push(e));
  });
  afterEach(() => s.close());

  it('keeps one open alarm per device and type: raising again counts up and escalates severity, which needs a new ack', async () => {
    const first = await s.admin.post('/alarms', { device: id, type: 'overheat', severity: 'minor', message: 'warm' });
    assert.equal(first.status, 201);
    assert.equal(first.body.status, 'active');
    assert.equal(first.body.acknowledged, false);
    const acked = await s.admin.post(`/alarms/${first.body.id}/ack`, { comment: 'looking' });
    assert.equal(acked.body.acknowledged, true);
    assert.equal(acked.body.ackedBy, 'user:admin');
    assert.equal(acked.body.ackComment, 'looking');
    const again = await s.admin.post('/alarms', { device: id, type: 'overheat', severity: 'info' });
    assert.equal(again.status, 200);
    assert.deepEqual([again.body.id, again.body.count, again.body.severity, again.body.acknowledged], [first.body.id, 2, 'minor', true]);
    const worse = await s.admin.post('/alarms', { device: id, type: 'overheat', severity: 'critical', message: 'hot' });
    assert.deepEqual([worse.body.id, worse.body.count, worse.body.severity, worse.body.acknowledged, worse.body.message], [first.body.id, 3, 'critical', false, 'hot']);
    await s.admin.post('/alarms', { device: other, type: 'overheat' });
    assert.equal((await s.admin.get('/alarms?status=active')).body.items.length, 2);
    assert.deepEqual(events.map((e) => e.type), ['AlarmRaised', 'AlarmAcked', 'AlarmUpdated', 'AlarmUpdated', 'AlarmRaised']);
    assert.equal(events[0].device.id, id);
    assert.equal(events[0].alarm.id, first.body.id);
  });

  it('clears an alarm, after which a new raise opens a new alarm', async () => {
    const a = await s.admin.post('/alarms', { device: id, type: 'leak' });
    const cleared = await s.admin.post(`/alarms/${a.body.id}/clear`);
    assert.equal(cleared.status, 200);
    assert.equal(cleared.body.status, 'cleared');
    assert.equal(cleared.body.clearedBy, 'user:admin');
    const again = await s.admin.post(`/alarms/${a.body.id}/clear`, { comment: 'twice' });
    assert.equal(again.body.clearComment, null, 'the first clear stands');
    const b = await s.admin.post('/alarms', { device: id, type: 'leak' });
    assert.equal(b.status, 201);
    assert.notEqual(b.body.id, a.body.id);
  });

  it('lists with filters and cursor pages, newest first', async () => {
    const ids: string[] = [];
    for (const [device, type, severity] of [[id, 'a', 'critical'], [id, 'b', 'minor'], [other, 'a', 'minor'], [id, 'c', 'info']] as const) {
      ids.push((await s.admin.post('/alarms', { device, type, severity })).body.id);
      await new Promise((r) => setTimeout(r, 2));
    }
    await s.admin.post(`/alarms/${ids[1]}/ack`);
    const get = async (q: string) => (await s.admin.get(`/alarms?${q}`)).body.items.map((a: any) => a.id);
    assert.deepEqual(await get(`device=${id}`), [ids[3], ids[1], ids[0]]);
    assert.deepEqual(await get('type=a'), [ids[2], ids[0]]);
    assert.deepEqual(await get('severity=critical,info'), [ids[3], ids[0]]);
    assert.deepEqual(await get('acknowledged=true'), [ids[1]]);
    assert.deepEqual(await get('acknowledged=false&severity=minor'), [ids[2]]);
    const page1 = (await s.admin.get('/alarms?limit=3')).body;
    assert.deepEqual(page1.items.map((a: any) => a.id), [ids[3], ids[2], ids[1]]);
    const page2 = (await s.admin.get(`/alarms?limit=3&after=${page1.next}`)).body;
    assert.deepEqual([page2.items.map((a: any) => a.id), page2.next], [[ids[0]], null]);
  });

  it('refuses bad input with specific codes and changes nothing', async () => {
    assertProblem(await s.admin.post('/alarms/00000000-0000-4000-8000-000000000000/ack', { comment: 'x' }), 404, 'FF_ALARM_NOT_FOUND');
    assertProblem(await s.admin.post('/alarms/nope/clear'), 404, 'FF_ALARM_NOT_FOUND');
    assertProblem(await s.admin.get('/alarms/nope'), 404, 'FF_ALARM_NOT_FOUND');
    assertProblem(await s.admin.post('/alarms', { device: id, type: 'x', severity: 'apocalyptic' }), 400, 'FF_VALIDATION');
    assertProblem(await s.admin.post('/alarms', { device: id }), 400, 'FF_VALIDATION');
    assertProblem(await s.admin.post('/alarms', { device: '00000000-0000-4000-8000-000000000000', type: 'x' }), 404, 'FF_DEVICE_NOT_FOUND');
    assertProblem(await s.admin.get('/alarms?status=open'), 400, 'FF_INVALID_QUERY');
    assertProblem(await s.admin.get('/alarms?after=unknown'), 400, 'FF_INVALID_QUERY');
    assertProblem(await s.anonymous.get('/alarms'), 401, 'FF_AUTH_REQUIRED');
    await assert.rejects(s.platform.alarms.raise({ device: id, type: 'x', details: { big: 'x'.repeat(20_000) } }), { code: 'FF_INVALID_ALARM' });
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    await assert.rejects(s.platform.alarms.raise({ device: id, type: 'x', details: cyclic }), { code: 'FF_INVALID_ALARM' });
    assert.deepEqual((await s.admin.get('/alarms')).body.items, []);
    assert.deepEqual(events, []);
  });

  it("deletes a device's alarms with the device", async () => {
    await s.admin.post('/alarms', { device: id, type: 'x' });
    await s.admin.delete(`/devices/${id}`);
    assert.deepEqual((await s.admin.get('/alarms')).body.items, []);
  });
});
