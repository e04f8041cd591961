import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { createPlatform, type Platform } from '../../runtime';
import { silentLogger } from '../../runtime/log';
import { startPlatform, tempDir } from '../support/platform';

const checkOf = (platform: Platform, name: string) => platform.health.readiness().checks.find((c) => c.name === name);

describe('platform readiness checks', () => {
  let platform: Platform | null = null;
  let dir: string | null = null;
  afterEach(async () => {
    await platform?.stop().catch(() => undefined);
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
    platform = dir = null;
  });

  it('is not ready before it starts nor while it starts, is ready once it runs, and is not ready while and after it stops', async () => {
    const p = (platform = createPlatform({ dataDir: null, logger: silentLogger, mqtt: { port: null, host: '127.0.0.1' }, auth: { adminPassword: 'pw-for-tests', bcryptRounds: 4 } }));
    const own = () => {
      const r = p.health.readiness();
      return { ready: r.ready, checks: r.checks.filter((c) => c.name !== 'memory') };
    };
    assert.deepEqual(own(), { ready: false, checks: [{ name: 'platform', ok: false, detail: 'created' }, { name: 'storage', ok: true }] });
    const starting = p.start();
    assert.deepEqual(checkOf(p, 'platform'), { name: 'platform', ok: false, detail: 'starting' });
    await starting;
    assert.deepEqual(own(), { ready: true, checks: [{ name: 'platform', ok: true, detail: 'running' }, { name: 'storage', ok: true }] });
    const stopping = p.stop();
    assert.equal(p.health.readiness().ready, false);
    assert.deepEqual(checkOf(p, 'platform'), { name: 'platform', ok: false, detail: 'stopping' });
    await stopping;
    assert.deepEqual(checkOf(p, 'platform'), { name: 'platform', ok: false, detail: 'stopped' });
  });

  it('takes checks registered by other parts: one that fails makes it not ready, one that passes does not, and a removed check is gone', async () => {
    const p = (platform = await startPlatform());
    let state: 'ok' | 'warn' | 'full' = 'ok';
    const remove = p.health.register('queue', () => ({ ok: state !== 'full', detail: state }));
    assert.deepEqual(p.health.readiness().checks.map((c) => c.name), ['platform', 'storage', 'memory', 'queue']);
    assert.equal(p.health.readiness().ready, true);
    state = 'full';
    assert.equal(p.health.readiness().ready, false);
    assert.deepEqual(checkOf(p, 'queue'), { name: 'queue', ok: false, detail: 'full' });
    state = 'warn';
    assert.equal(p.health.readiness().ready, true);
    assert.deepEqual(checkOf(p, 'queue'), { name: 'queue', ok: true, detail: 'warn' });
    state = 'full';
    remove();
    assert.equal(checkOf(p, 'queue'), undefined);
    assert.equal(p.health.readiness().ready, true);
  });

  it('counts a check that throws as failing, and refuses a name twice or one that is not plain lower case', async () => {
    const p = (platform = await startPlatform());
    p.health.register('broken', () => {
      throw new Error('bug');
    });
    assert.deepEqual(p.health.readiness().ready, false);
    assert.deepEqual(checkOf(p, 'broken'), { name: 'broken', ok: false, detail: 'the check threw an error (see the log)' });
    assert.throws(() => p.health.register('storage', () => ({ ok: true })), /already registered/);
    assert.throws(() => p.health.register('Memory Budget', () => ({ ok: true })), /must match/);
  });

  it('is not ready while message log writes fail (the log file is on a full device), and ready again once a write succeeds', async () => {
    dir = tempDir();
    const p = (platform = await startPlatform({ dataDir: dir }));
    const { device } = await p.devices.create({ name: 'd' });
    await p.channels.publish(device.id, 'temp', { t: 1 });
    assert.equal(p.health.readiness().ready, true);

    // A real failing write: the log file is swapped for /dev/full, where every write fails with ENOSPC (and cutting
    // the failed append back off fails too, so a later write may report the file as unusable rather than full).
    const file = path.join(dir, 'platform', 'messages', 'messages-0.db');
    fs.renameSync(file, `${file}.aside`);
    fs.symlinkSync('/dev/full', file);
    await assert.rejects(p.channels.publish(device.id, 'temp', { t: 2 }), /is full|failed/);
    await assert.rejects(p.channels.publish(device.id, 'temp', { t: 3 }), /is full|failed/);
    const storage = checkOf(p, 'storage')!;
    assert.equal(p.health.readiness().ready, false);
    assert.equal(storage.ok, false);
    const [failure] = storage.detail as Array<Record<string, unknown>>;
    assert.deepEqual({ source: failure.source, failedWrites: failure.failedWrites }, { source: 'messages', failedWrites: 2 });
    assert.match(String(failure.code), /^FF_STORAGE_(FULL|UNAVAILABLE)$/);
    assert.ok(!JSON.stringify(storage.detail).includes(dir), 'the detail shows no file path');

    fs.unlinkSync(file);
    fs.renameSync(`${file}.aside`, file);
    await p.channels.publish(device.id, 'temp', { t: 4 });
    assert.deepEqual(checkOf(p, 'storage'), { name: 'storage', ok: true });
    assert.equal(p.health.readiness().ready, true);
    const stored = (await p.channels.history(device.id, 'temp', { limit: 10 })).items.map((m) => (m.data as { t: number }).t);
    assert.deepEqual(stored.sort(), [1, 4]);
  });
});
