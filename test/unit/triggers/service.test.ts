import assert from 'node:assert/strict';
import fs from 'node:fs';
import type { Platform } from '../../../runtime';
import type { TriggerFiredEvent } from '../../../runtime/events';
import { startPlatform, tempDir } from '../../support/platform';
import { waitFor } from '../../support/mqtt';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('triggers', () => {
  let dir: string;
  let platform: Platform;
  let device: string;
  let fires: TriggerFiredEvent[];

  async function boot(): Promise<void> {
    platform = await startPlatform({ dataDir: dir });
    fires = [];
    platform.events.on('TriggerFired', (e) => fires.push(e));
  }

  beforeEach(async () => {
    dir = tempDir();
    await boot();
    device = (await platform.devices.create({ name: 'tank-1', labels: { site: 'north' } })).device.id;
  });
  afterEach(async () => {
    await platform.stop().catch(() => undefined);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const restart = async () => {
    await platform.stop();
    await boot();
  };
  /** The device's logged fires; none while the events channel does not exist yet. */
  const events = async () =>
    (await platform.channels.history(device, 'events', { order: 'asc' }).catch(() => ({ items: [] }))).items.map((m) => m.data as Record<string, any>);

  it('logs each fire on the events channel, emits TriggerFired, and raises and clears its alarm', async () => {
    const t = await platform.triggers.create({ name: 'tank high', selector: 'site=north', channel: 'level', path: 'tank.pct', kind: 'cross', threshold: 80, deadband: 5, alarm: { severity: 'critical' } });
    await platform.channels.publish(device, 'level', { tank: { pct: 50 } });
    const up = await platform.channels.publish(device, 'level', { tank: { pct: 85 } });
    await waitFor('the fire', () => fires.length === 1);
    assert.equal(fires[0].device.id, device);
    assert.deepEqual({ ...fires[0].fire, id: undefined }, {
      id: undefined, trigger: { id: t.id, name: 'tank high', kind: 'cross' }, device, ts: up.ts, edge: 'rising', value: 85, previous: 50,
      channel: 'level', path: 'tank.pct', messageId: up.id, since: up.ts,
    });
    await waitFor('the alarm', () => platform.alarms.findOpen(device, 'tank high') !== undefined);
    const alarm = platform.alarms.findOpen(device, 'tank high')!;
    assert.equal(alarm.severity, 'critical');
    assert.deepEqual(alarm.source, { kind: 'trigger', id: t.id });
    await waitFor('logged', async () => (await events()).length === 1);
    assert.deepEqual((await events())[0], { type: 'TriggerFired', ...fires[0].fire });

    await platform.channels.publish(device, 'level', { tank: { pct: 77 } });
    await sleep(50);
    assert.ok(platform.alarms.findOpen(device, 'tank high'), 'inside the deadband the alarm stays');
    await platform.channels.publish(device, 'level', { tank: { pct: 70 } });
    await waitFor('cleared', () => platform.alarms.get(alarm.id).status === 'cleared');
    assert.equal(platform.alarms.get(alarm.id).clearedBy, `trigger:${t.id}`);
  });

  it('does not fire again after a restart for a crossing it already fired on', async () => {
    await platform.triggers.create({ name: 'high', device, channel: 'c', path: 'v', kind: 'cross', threshold: 10 });
    await platform.channels.publish(device, 'c', { v: 1 });
    await platform.channels.publish(device, 'c', { v: 20 });
    await waitFor('fire', () => fires.length === 1);
    await restart();
    await platform.channels.publish(device, 'c', { v: 25 });
    await sleep(100);
    assert.equal(fires.length, 0, 'still above: no new crossing');
    await platform.channels.publish(device, 'c', { v: 5 });
    await platform.channels.publish(device, 'c', { v: 15 });
    await waitFor('the next crossing', () => fires.length === 1);
    assert.equal(fires[0].fire.value, 15);
    assert.equal((await events()).length, 2);
  });

  it('resumes a pending hold after a restart with its remaining time, firing at the original deadline', async () => {
    await platform.triggers.create({ name: 'held', device, channel: 'c', path: 'v', kind: 'cross', threshold: 10, forSeconds: 1.5 });
    await platform.channels.publish(device, 'c', { v: 1 });
    const up = await platform.channels.publish(device, 'c', { v: 20 });
    await sleep(300);
    await restart();
    const restartedAt = Date.now();
    await sleep(400);
    assert.equal(fires.length, 0, 'not before the deadline');
    await waitFor('the held fire', () => fires.length === 1, 3000);
    assert.equal(fires[0].fire.ts, up.ts + 1500);
    assert.equal(fires[0].fire.since, up.ts);
    assert.ok(Date.now() - restartedAt < 2000, 'the timer resumed with what was left, not a fresh 1.5 s');
    await sleep(200);
    assert.equal((await events()).length, 1);
  });

  it('cancels a pending hold when the condition stops holding after a restart', async () => {
    await platform.triggers.create({ name: 'held', device, channel: 'c', path: 'v', kind: 'cross', threshold: 10, forSeconds: 0.6 });
    await platform.channels.publish(device, 'c', { v: 1 });
    await platform.channels.publish(device, 'c', { v: 20 });
    await restart();
    await platform.channels.publish(device, 'c', { v: 2 });
    await sleep(900);
    assert.equal(fires.length, 0);
  });

  it('fires a hold whose deadline passed while the platform was stopped, once, at start', async () => {
    await platform.triggers.create({ name: 'held', device, channel: 'c', path: 'v', kind: 'cross', threshold: 10, forSeconds: 0.2 });
    await platform.channels.publish(device, 'c', { v: 1 });
    const up = await platform.channels.publish(device, 'c', { v: 20 });
    await platform.stop();
    await sleep(400);
    await boot();
    // It fires during start, before anything subscribes; the events channel is the record.
    await waitFor('the overdue fire', async () => (await events()).length === 1);
    assert.equal((await events())[0].ts, up.ts + 200);
    await restart();
    await sleep(300);
    assert.equal((await events()).length, 1);
  });

  it('logs on the next start, exactly once, a fire that was stored but could not be logged', async () => {
    await platform.stop();
    // One channel per device: 'c' takes it, so the fire cannot be logged on `events`.
    platform = await startPlatform({ dataDir: dir, ingest: { maxChannelsPerDevice: 1 } });
    await platform.triggers.create({ name: 'high', device, channel: 'c', path: 'v', kind: 'cross', threshold: 10, alarm: { severity: 'minor' } });
    await platform.channels.publish(device, 'c', { v: 1 });
    const up = await platform.channels.publish(device, 'c', { v: 20 });
    await sleep(200);
    assert.deepEqual(await events(), []);
    assert.equal(platform.alarms.findOpen(device, 'high'), undefined, 'not announced, so no alarm yet');
    await restart();
    await waitFor('the recovered fire', async () => (await events()).length === 1);
    const [logged] = await events();
    assert.deepEqual([logged.ts, logged.value, logged.messageId], [up.ts, 20, up.id]);
    await waitFor('its alarm', () => platform.alarms.findOpen(device, 'high'));
    await restart();
    await sleep(300);
    assert.equal((await events()).length, 1, 'not logged twice');
    assert.equal(platform.alarms.findOpen(device, 'high')!.count, 1);
  });

  it('detects silence once per outage, also for a device that never sent anything, and re-arms when data returns', async () => {
    const quiet = (await platform.devices.create({ name: 'never-sends', labels: { site: 'north' } })).device.id;
    await platform.triggers.create({ name: 'offline', selector: 'site=north', channel: '+', kind: 'nodata', durationSeconds: 0.3, alarm: { severity: 'major' } });
    await platform.channels.publish(device, 'a', { x: 1 });
    await waitFor('both silent', () => fires.length === 2, 3000);
    assert.deepEqual(fires.map((f) => f.device.id).sort(), [device, quiet].sort());
    await sleep(500);
    assert.equal(fires.length, 2, 'fires once per silence');
    assert.ok(platform.alarms.findOpen(device, 'offline'));
    await platform.channels.publish(device, 'b', { x: 2 });
    await waitFor('alarm cleared on data', () => platform.alarms.findOpen(device, 'offline') === undefined);
    await waitFor('silent again', () => fires.length === 3, 3000);
    assert.equal(fires[2].device.id, device);
  });

  it('refuses invalid definitions with FF_INVALID_TRIGGER and the failing paths, storing nothing', async () => {
    const bad: Array<[unknown, string]> = [
      [{ name: 'x', channel: 'c', path: 'v', kind: 'sideways' }, '/kind'],
      [{ name: 'x', channel: 'c', path: 'v', kind: 'cross' }, '/threshold'],
      [{ name: 'x', channel: 'c', path: 'v', kind: 'cross', threshold: 1, deadband: -1 }, '/deadband'],
      [{ name: 'x', channel: 'c', path: 'v', kind: 'cross', threshold: 1, forSeconds: -5 }, '/forSeconds'],
      [{ name: 'x', channel: 'c', kind: 'nodata', durationSeconds: -1 }, '/durationSeconds'],
      [{ name: 'x', channel: 'c', path: 42, kind: 'change' }, '/path'],
      [{ name: 'x', channel: 'c', path: 'a..b', kind: 'change' }, '/path'],
      [{ name: 'x', channel: 'c', path: 'v', kind: 'range', low: 5, high: 1 }, '/low'],
      [{ name: 'x', channel: 'c', path: 'v', kind: 'range', low: 0, high: 10, on: 'leave', deadband: 6 }, '/deadband'],
      [{ name: 'x', channel: 'events', path: 'v', kind: 'change' }, '/channel'],
      [{ name: 'x', channel: 'c', path: 'v', kind: 'cross', threshold: 1, selector: 'a===b' }, '/selector'],
      ['not an object', '/'],
    ];
    for (const [input, path] of bad) {
      await assert.rejects(platform.triggers.create(input), (err: any) => {
        assert.equal(err.code, 'FF_INVALID_TRIGGER', JSON.stringify(input));
        assert.ok(err.errors.some((e: any) => e.path === path), `${JSON.stringify(input)}: ${JSON.stringify(err.errors)}`);
        return true;
      });
    }
    assert.deepEqual(platform.triggers.list(), []);
  });

  it('watches a tag as a trigger source', async () => {
    await platform.triggers.create({ name: 'door', device, tag: { appKey: 'app', name: 'door' }, kind: 'change', from: 'closed', to: 'open' });
    await platform.tags.commit(device, 'app', { door: 'closed', temp: 1 });
    await platform.tags.commit(device, 'app', { temp: 2 });
    await platform.tags.commit(device, 'app', { door: 'open' });
    await waitFor('fire', () => fires.length === 1);
    assert.deepEqual([fires[0].fire.channel, fires[0].fire.path, fires[0].fire.value, fires[0].fire.previous], ['tag_values', 'app.door', 'open', 'closed']);
  });

  it('backtests a definition over stored history with the same fires live evaluation produced', async () => {
    const spec = { name: 'bt', device, channel: 'c', path: 'v', kind: 'cross', threshold: 50, deadband: 5, forSeconds: 0.05 };
    await platform.triggers.create(spec);
    const start = Date.now() - 1;
    const values = [10, 60, 52, 47, 56, 40, 70, 71, 30, 60, 61, 62];
    for (const v of values) {
      await platform.channels.publish(device, 'c', { v });
      await sleep(v > 50 ? 30 : 5);
    }
    await sleep(200);
    const live = fires.map((f) => [f.fire.ts, f.fire.value]);
    assert.ok(live.length >= 2, `live fired ${live.length}`);
    const result = await platform.triggers.backtest(spec, { from: start });
    assert.deepEqual(result.fires.map((f) => [f.ts, f.value]), live);
    assert.equal(result.count, live.length);
    assert.equal(result.scanned, values.length);
  });

  it('stops evaluating and forgets state when a trigger is deleted, and flow triggers cannot be changed over the API', async () => {
    const t = await platform.triggers.create({ name: 'x', device, channel: 'c', path: 'v', kind: 'cross', threshold: 10 });
    await platform.triggers.remove(t.id);
    await platform.channels.publish(device, 'c', { v: 1 });
    await platform.channels.publish(device, 'c', { v: 20 });
    await sleep(50);
    assert.equal(fires.length, 0);
    assert.equal(platform.events.has('MessageCreate'), false, 'no listener while nothing runs');
    const flow = await platform.triggers.attach('abc123', { name: 'f', device, channel: 'c', path: 'v', kind: 'cross', threshold: 10 });
    await assert.rejects(platform.triggers.remove(flow.id), { code: 'FF_CONFLICT' });
    await assert.rejects(platform.triggers.update(flow.id, { name: 'g', channel: 'c', path: 'v', kind: 'change' }), { code: 'FF_CONFLICT' });
    await assert.rejects(platform.triggers.remove('nope'), { code: 'FF_TRIGGER_NOT_FOUND' });
  });
});
