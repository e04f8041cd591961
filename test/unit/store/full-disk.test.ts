import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { NedbStore } from '../../../runtime/store';
import { NedbMessageLog } from '../../../runtime/store/message-log';
import { VersionedStore } from '../../../runtime/store/versioned';
import { nodeIo, type StoreIo } from '../../../runtime/store/data-file';
import { createWriteHealth } from '../../../runtime/store/write-health';
import { SnowflakeGenerator } from '../../../runtime/ids/snowflake';
import { createLogger, silentLogger } from '../../../runtime/log';
import { fullableDisk, type FullableDisk } from '../../support/full-disk';
import { waitFor } from '../../support/mqtt';
import { tempDir } from '../../support/platform';

/** Every file under a directory, relative paths. */
function filesUnder(dir: string): string[] {
  return fs.readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => path.relative(dir, path.join(e.parentPath ?? e.path, e.name)));
}

/** Each line of a NeDB file parses on its own: no line carries the front of a failed append. */
function assertWholeLines(file: string): void {
  const text = fs.readFileSync(file, 'utf8');
  assert.ok(text === '' || text.endsWith('\n'), `${path.basename(file)} ends mid-line`);
  for (const line of text.split('\n').filter(Boolean)) assert.doesNotThrow(() => JSON.parse(line), `${path.basename(file)} has a broken line`);
}

describe('the store on a full disk', function () {
  this.timeout(30_000);
  const ids = new SnowflakeGenerator(0);
  let disk: FullableDisk;

  beforeEach(() => {
    disk = fullableDisk();
  });

  afterEach(() => {
    disk.close();
  });

  function messageLog(writeHealth = createWriteHealth(silentLogger)): NedbMessageLog {
    return new NedbMessageLog(disk.dir, 1, silentLogger, { files: { fsync: 'off', io: disk.io ?? nodeIo() }, writeHealth });
  }

  it('cuts a half-written append back off the file, so every acknowledged message is there after a restart', async () => {
    const log = messageLog();
    await log.open();
    const acked: string[] = [];
    const append = async (i: number) => {
      const id = ids.next();
      await log.append('dev/a', id, JSON.stringify({ i, pad: 'x'.repeat(3000) }));
      acked.push(id);
    };
    for (let i = 0; i < 3; i++) await append(i);
    // Room for a message and a half: the second one is torn part-way, as a full disk tears it.
    disk.fill(5000);
    let failures = 0;
    for (let i = 3; i < 20; i++) await append(i).catch(() => failures++);
    assert.ok(failures > 0, 'the disk should have run full');
    disk.free();
    for (let i = 20; i < 25; i++) await append(i);
    await log.close();
    assertWholeLines(path.join(disk.dir, 'messages-0.db'));

    const reopened = messageLog();
    await reopened.open();
    const stored = (await reopened.read('dev/a', { limit: 1000, order: 'asc' })).map((r) => r.id);
    assert.deepEqual(stored, acked);
    await reopened.close();
  });

  it('answers a failed append with FF_STORAGE_FULL and reports it in write health until an append succeeds again', async () => {
    const lines: string[] = [];
    const health = createWriteHealth(createLogger('debug', (l) => lines.push(l)));
    const log = messageLog(health);
    await log.open();
    disk.fill(0);
    for (let i = 0; i < 3; i++) {
      await assert.rejects(log.append('dev/a', ids.next(), '{"v":1}'), (err: Error & { code?: string; status?: number }) => {
        assert.equal(err.code, 'FF_STORAGE_FULL');
        assert.equal(err.status, 503);
        return true;
      });
    }
    const [failure] = health.failing();
    assert.equal(failure.source, 'messages');
    assert.equal(failure.code, 'FF_STORAGE_FULL');
    assert.equal(failure.count, 3);
    assert.equal(lines.filter((l) => l.includes('[warn]') && l.includes('storage write failed')).length, 1, 'one warning for the whole run');

    disk.free();
    await log.append('dev/a', ids.next(), '{"v":2}');
    assert.deepEqual(health.failing(), []);
    assert.equal(lines.filter((l) => l.includes('storage writes succeed again')).length, 1);
    assert.equal(log.count('dev/a'), 1);
    await log.close();
  });

  it('refuses to start on a full disk with a message that says so, and leaves no temporary files behind', async () => {
    const store = new NedbStore({ dir: disk.dir, messageShards: 1, io: disk.io }, silentLogger);
    await store.open();
    const devices = await store.collection<{ _id: string; name: string }>('devices');
    await devices.insert({ _id: 'd1', name: 'kept' });
    for (let i = 0; i < 20; i++) await store.messages.append('dev/a', ids.next(), JSON.stringify({ i, pad: 'y'.repeat(500) }));
    await store.close();
    const before = filesUnder(disk.dir).sort();

    disk.fill(0);
    const full = new NedbStore({ dir: disk.dir, messageShards: 1, io: disk.io }, silentLogger);
    await assert.rejects(full.open(), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'FF_STORAGE_FULL');
      assert.match(err.message, /file system of .* is full: messages-0\.db could not be loaded/);
      assert.match(err.message, /Free space, then start again/);
      return true;
    });
    assert.deepEqual(filesUnder(disk.dir).sort(), before, 'no ~ or temporary files');

    disk.free();
    const again = new NedbStore({ dir: disk.dir, messageShards: 1, io: disk.io }, silentLogger);
    await again.open();
    assert.equal(again.messages.count('dev/a'), 20);
    assert.deepEqual(await (await again.collection('devices')).all(), [{ _id: 'd1', name: 'kept' }]);
    await again.close();
  });

  it('does not leave a half-written meta file when the first start finds the disk full', async function () {
    if (!disk.real) this.skip(); // the meta file is written with node:fs, which only a real full disk fails
    disk.fill(0);
    const log = messageLog();
    await assert.rejects(log.open(), (err: Error & { code?: string }) => err.code === 'FF_STORAGE_FULL' && /messages\.meta\.json could not be written/.test(err.message));
    assert.deepEqual(filesUnder(disk.dir).filter((f) => f.includes('meta')), []);
    disk.free();
    const reopened = messageLog();
    await reopened.open();
    await reopened.append('dev/a', ids.next(), '1');
    await reopened.close();
  });

  it('reports a failed group-committed record write once, retries it, and clears the report when it is on disk', async () => {
    const lines: string[] = [];
    const writeHealth = createWriteHealth(createLogger('debug', (l) => lines.push(l)));
    const store = new NedbStore({ dir: disk.dir, messageShards: 1, io: disk.io, writeHealth }, silentLogger);
    await store.open();
    const records = new VersionedStore<{ key: string; n: number; pad: string }>('trigger_states');
    await records.load(store);
    const state = { key: 'k', n: 1, pad: '' };
    await records.save('k', () => state);

    disk.fill(0);
    // Bigger than what is left of the file's last page (a real file system allocates whole pages).
    Object.assign(state, { n: 2, pad: 'z'.repeat(10_000) });
    await assert.rejects(records.save('k', () => state), (err: Error & { code?: string }) => err.code === 'FF_STORAGE_FULL');
    assert.deepEqual(writeHealth.failing().map((f) => [f.source, f.code]), [['versioned:trigger_states', 'FF_STORAGE_FULL']]);
    // The store retries by itself (every second); still failing, still one warning.
    await waitFor('a retry', () => writeHealth.failing()[0].count >= 2, 5000);
    assert.equal(lines.filter((l) => l.includes('storage write failed')).length, 1);

    disk.free();
    await waitFor('the retry to succeed', () => writeHealth.failing().length === 0, 5000);
    await records.drain();
    await store.close();
    const reopened = new NedbStore({ dir: disk.dir, messageShards: 1 }, silentLogger);
    await reopened.open();
    assert.deepEqual(await new VersionedStore<{ key: string; n: number; pad: string }>('trigger_states').load(reopened), [state]);
    await reopened.close();
  });
});

describe('the store when cutting back a failed append fails too', () => {
  it('cuts the file back before the next append, so a later append never continues a broken line', async () => {
    const dir = tempDir();
    const real = nodeIo();
    let failWrites = false;
    let failTruncates = false;
    const io: StoreIo = {
      ...real,
      async write(fd, data, offset, length) {
        if (!failWrites) return real.write(fd, data, offset, length);
        await real.write(fd, data, offset, Math.min(length, 10)); // the front of the line lands
        throw Object.assign(new Error('EIO: i/o error, write'), { code: 'EIO' });
      },
      async truncate(fd, size) {
        if (failTruncates) throw Object.assign(new Error('EIO: i/o error, ftruncate'), { code: 'EIO' });
        return real.truncate(fd, size);
      },
    };
    const ids = new SnowflakeGenerator(0);
    const writeHealth = createWriteHealth(silentLogger);
    const log = new NedbMessageLog(dir, 1, silentLogger, { files: { fsync: 'off', io }, writeHealth });
    await log.open();
    const first = ids.next();
    await log.append('dev/a', first, '{"n":1}');
    failWrites = failTruncates = true;
    await assert.rejects(log.append('dev/a', ids.next(), '{"n":2}'), (err: Error & { code?: string }) => err.code === 'FF_STORAGE_UNAVAILABLE' && /EIO/.test(err.message));
    assert.equal(writeHealth.failing()[0].code, 'FF_STORAGE_UNAVAILABLE');
    failWrites = false;
    // The cut-back still fails: nothing may be appended behind the broken line.
    await assert.rejects(log.append('dev/a', ids.next(), '{"n":3}'), (err: Error & { code?: string }) => err.code === 'FF_STORAGE_UNAVAILABLE');
    failTruncates = false;
    const last = ids.next();
    await log.append('dev/a', last, '{"n":4}');
    await log.close();
    assertWholeLines(path.join(dir, 'messages-0.db'));
    const reopened = new NedbMessageLog(dir, 1, silentLogger);
    await reopened.open();
    assert.deepEqual((await reopened.read('dev/a', { limit: 10, order: 'asc' })).map((r) => r.id), [first, last]);
  });
});

describe('fsync of appends', () => {
  async function appendsWith(fsync: 'off' | 'batch'): Promise<{ syncs: number; syncedBeforeResolve: boolean }> {
    const real = nodeIo();
    let syncs = 0;
    let pendingSync = false;
    const io: StoreIo = {
      ...real,
      async write(fd, data, offset, length) {
        pendingSync = true;
        return real.write(fd, data, offset, length);
      },
      async fdatasync(fd) {
        syncs++;
        pendingSync = false;
        return real.fdatasync(fd);
      },
    };
    const log = new NedbMessageLog(tempDir(), 1, silentLogger, { files: { fsync, io }, writeHealth: createWriteHealth(silentLogger) });
    await log.open();
    syncs = 0; // opening rewrites (and always syncs) the file
    const ids = new SnowflakeGenerator(0);
    let syncedBeforeResolve = true;
    for (let round = 0; round < 5; round++) {
      await Promise.all(Array.from({ length: 10 }, () => log.append('dev/a', ids.next(), '{}').then(() => (syncedBeforeResolve &&= !pendingSync))));
    }
    await log.close();
    return { syncs, syncedBeforeResolve };
  }

  it('with batch, syncs each group commit before any of its appends is acknowledged', async () => {
    const { syncs, syncedBeforeResolve } = await appendsWith('batch');
    assert.equal(syncs, 5, 'one fdatasync per group commit, not per message');
    assert.ok(syncedBeforeResolve);
  });

  it('with off, never syncs an append', async () => {
    assert.equal((await appendsWith('off')).syncs, 0);
  });
});
