import assert from 'node:assert/strict';
import fs from 'node:fs';
import { startApiServer, type ApiServer } from '../../support/api-server';
import { tempDir } from '../../support/platform';
import { waitFor } from '../../support/mqtt';
import type { ScheduleEvent } from '../../../runtime/events';
import { assertProblem } from './problems';

describe('REST API schedules', () => {
  let s: ApiServer;
  let dir: string;
  beforeEach(async () => {
    dir = tempDir();
    s = await startApiServer({ dataDir: dir });
  });
  afterEach(async () => {
    await s.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('runs a stored schedule as Schedule events, and it survives a restart', async () => {
    const created = await s.admin.post('/schedules', { name: 'every second', cron: '* * * * * *', timezone: 'Europe/Berlin', payload: { report: 'daily' } });
    assert.equal(created.status, 201);
    assert.equal(created.body.timezone, 'Europe/Berlin');
    assert.ok(Date.parse(created.body.nextRunAt) - Date.now() <= 1000);
    await s.close();
    s = await startApiServer({ dataDir: dir });
    const runs: ScheduleEvent[] = [];
    s.platform.events.on('Schedule', (e) => runs.push(e));
    await waitFor('a run after the restart', () => runs.length >= 1, 3000);
    assert.deepEqual(runs[0].schedule, { id: created.body.id, name: 'every second', cron: '* * * * * *', timezone: 'Europe/Berlin' });
    assert.deepEqual(runs[0].payload, { report: 'daily' });
    assert.equal(runs[0].ts % 1000, 0, 'stamped with the due time');
    const listed = (await s.admin.get('/schedules')).body.items;
    assert.equal(listed.length, 1);
    assert.ok(listed[0].lastRunAt);
  });

  it('stops a disabled or deleted schedule', async () => {
    const { body } = await s.admin.post('/schedules', { name: 'x', cron: '* * * * * *' });
    const runs: ScheduleEvent[] = [];
    s.platform.events.on('Schedule', (e) => runs.push(e));
    const off = await s.admin.patch(`/schedules/${body.id}`, { enabled: false });
    assert.equal(off.body.nextRunAt, null);
    await new Promise((r) => setTimeout(r, 1200));
    assert.equal(runs.length, 0);
    assert.equal((await s.admin.delete(`/schedules/${body.id}`)).status, 204);
    assertProblem(await s.admin.get(`/schedules/${body.id}`), 404, 'FF_SCHEDULE_NOT_FOUND');
  });

  it('refuses an invalid cron expression or timezone with FF_INVALID_CRON saying what is wrong, and stores nothing', async () => {
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [{ name: 'x', cron: '61 * * * *' }, /expected range 0-59/],
      [{ name: 'x', cron: '* * *' }, /has 3 fields/],
      [{ name: 'x', cron: 'every day' }, /fields/],
      [{ name: 'x', cron: '0 0 30 2 *' }, /day of month/],
      [{ name: 'x', cron: '0 * * * *', timezone: 'Mars/Olympus' }, /not an IANA timezone/],
    ];
    for (const [body, detail] of cases) {
      const r = await s.admin.post('/schedules', body);
      assertProblem(r, 400, 'FF_INVALID_CRON');
      assert.match(r.body.detail, detail);
    }
    const { body } = await s.admin.post('/schedules', { name: 'ok', cron: '0 * * * *' });
    assertProblem(await s.admin.patch(`/schedules/${body.id}`, { cron: '* * * * 8' }), 400, 'FF_INVALID_CRON');
    assert.equal((await s.admin.get(`/schedules/${body.id}`)).body.cron, '0 * * * *');
    assertProblem(await s.admin.post('/schedules', { cron: '0 * * * *' }), 400, 'FF_VALIDATION');
    assertProblem(await s.admin.post('/schedules', { name: 'ok', cron: '5 * * * *' }), 409, 'FF_CONFLICT');
    assertProblem(await s.admin.patch('/schedules/nope', { enabled: true }), 404, 'FF_SCHEDULE_NOT_FOUND');
    assert.equal((await s.admin.get('/schedules')).body.items.length, 1);
  });
});
