import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { NedbMessageLog } from '../../../runtime/store/message-log';
import { SnowflakeGenerator } from '../../../runtime/ids/snowflake';
import { silentLogger } from '../../../runtime/log';
import { nodeIo, type StoreIo } from '../../../runtime/store/data-file';
import { createWriteHealth } from '../../../runtime/store/write-health';
import { tempDir } from '../../support/platform';

describe('the NeDB message log', () => {
  const ids = new SnowflakeGenerator(0);

  async function filled(dir: string | null, n: number, streams = ['d1/a', 'd2/b']): Promise<{ log: NedbMessageLog; written: Map<string, string[]> }> {
    const log = new NedbMessageLog(dir, 3, silentLogger);
    await log.open();
    const written = new Map<string, string[]>(streams.map((s) => [s, []]));
    await Promise.all(
      Array.from({ length: n }, (_, i) => {
        const stream = streams[i % streams.length];
        const id = ids.next();
        written.get(stream)!.push(id);
        return log.append(stream, id, JSON.stringify({ i }));
      }),
    );
    return { log, written };
  }

  it('reads a stream in id order, both ways, with exclusive cursors', async () => {
    const { log, written } = await filled(null, 50);
    const a = written.get('d1/a')!;
    const asc = await log.read('d1/a', { limit: 10, order: 'asc' });
    assert.deepEqual(asc.map((r) => r.id), a.slice(0, 10));
    const next = await log.read('d1/a', { after: asc[9].id, limit: 100, order: 'asc' });
    assert.deepEqual(next.map((r) => r.id), a.slice(10));
    const desc = await log.read('d1/a', { before: a[20], limit: 5, order: 'desc' });
    assert.deepEqual(desc.map((r) => r.id), a.slice(15, 20).reverse());
    assert.deepEqual(await log.read('d1/a', { after: a[24], limit: 5, order: 'asc' }), []);
    assert.equal(log.stats('d1/a').count, 25);
    assert.equal(log.stats('d1/a').lastId, a[24]);
  });

  it('keeps streams apart', async () => {
    const { log, written } = await filled(null, 20);
    const b = await log.read('d2/b', { limit: 100, order: 'asc' });
    assert.deepEqual(b.map((r) => r.id), written.get('d2/b'));
    assert.deepEqual(await log.read('nope/x', { limit: 10, order: 'asc' }), []);
  });

  it('survives a reopen with every appended message, and reports the newest id', async () => {
    const dir = tempDir();
    const { log, written } = await filled(dir, 300);
    await log.close();
    const reopened = new NedbMessageLog(dir, 3, silentLogger);
    await reopened.open();
    for (const [stream, list] of written) {
      const got = await reopened.read(stream, { limit: 1000, order: 'asc' });
      assert.deepEqual(got.map((r) => r.id), list);
    }
    const newest = [...written.values()].flat().sort((x, y) => (BigInt(x) < BigInt(y) ? -1 : 1)).pop();
    assert.equal(reopened.maxId(), newest);
  });

  it('writes a burst of concurrent appends in far fewer appends than messages', async () => {
    const dir = tempDir();
    // Count the file writes the store makes (its own write seam, wrapped around node:fs).
    const real = nodeIo();
    let appends = 0;
    const io: StoreIo = { ...real, write: (fd, data, offset, length) => (appends++, real.write(fd, data, offset, length)) };
    const log = new NedbMessageLog(dir, 1, silentLogger, { files: { fsync: 'off', io }, writeHealth: createWriteHealth(silentLogger) });
    await log.open();
    appends = 0; // opening rewrote the file
    const file = path.join(dir, 'messages-0.db');
    await Promise.all(Array.from({ length: 1000 }, () => log.append('d/x', ids.next(), '{}')));
    assert.ok(fs.readFileSync(file, 'utf8').trim().split('\n').length <= 2, 'one document per write');
    assert.equal(log.stats('d/x').count, 1000);
    assert.ok(appends > 0 && appends <= 2, `expected 1-2 appends, saw ${appends}`);
  });

  it('trims the oldest messages of one stream and drops whole streams', async () => {
    const dir = tempDir();
    const { log, written } = await filled(dir, 40);
    assert.equal(await log.trimOldest('d1/a', 5), 5);
    const left = await log.read('d1/a', { limit: 100, order: 'asc' });
    assert.deepEqual(left.map((r) => r.id), written.get('d1/a')!.slice(5));
    assert.equal(await log.drop('d2/b'), 20);
    assert.equal(log.stats('d2/b').count, 0);
    await log.close();
    const reopened = new NedbMessageLog(dir, 3, silentLogger);
    await reopened.open();
    assert.equal(reopened.stats('d1/a').count, 15);
    assert.equal(reopened.stats('d2/b').count, 0);
  });

  it('drops a stream far larger than NeDB can remove in one call', async function () {
    this.timeout(60_000);
    const log = new NedbMessageLog(null, 1, silentLogger);
    await log.open();
    const n = 150_000;
    for (let i = 0; i < n; i += 10_000) {
      await Promise.all(Array.from({ length: 10_000 }, () => log.append('big/x', ids.next(), '1')));
    }
    await log.append('small/y', ids.next(), '2');
    assert.equal(await log.drop('big/x'), n);
    assert.equal(log.count('big/x'), 0);
    assert.equal(log.count('small/y'), 1);
  });

  it('forgets trimmed messages on disk too, even when they share writes with messages that stay', async () => {
    const dir = tempDir();
    const log = new NedbMessageLog(dir, 1, silentLogger);
    await log.open();
    const kept: string[] = [];
    for (let round = 0; round < 10; round++) {
      // Each round is one write holding messages of both streams.
      const a = ids.next();
      const b = ids.next();
      kept.push(b);
      await Promise.all([log.append('short/a', a, JSON.stringify({ a: round })), log.append('long/b', b, JSON.stringify({ b: round }))]);
    }
    assert.equal(await log.trimOldest('short/a', 9), 9);
    await log.close();
    const reopened = new NedbMessageLog(dir, 1, silentLogger);
    await reopened.open();
    // NeDB rewrites the file without superseded lines when it loads it.
    const file = fs.readFileSync(path.join(dir, 'messages-0.db'), 'utf8');
    assert.deepEqual((await reopened.read('short/a', { limit: 100, order: 'asc' })).map((r) => JSON.parse(r.json)), [{ a: 9 }]);
    assert.deepEqual((await reopened.read('long/b', { limit: 100, order: 'asc' })).map((r) => r.id), kept);
    assert.ok(!file.includes('{\\"a\\":0}'), 'a trimmed message is still in the file');
  });

  it('deletes a write from disk once all its messages are trimmed', async () => {
    const dir = tempDir();
    const log = new NedbMessageLog(dir, 1, silentLogger);
    await log.open();
    await Promise.all(Array.from({ length: 50 }, () => log.append('only/x', ids.next(), '{"x":1}')));
    await log.append('only/x', ids.next(), '{"last":true}');
    await log.trimOldest('only/x', 50);
    await log.close();
    const reopened = new NedbMessageLog(dir, 1, silentLogger);
    await reopened.open();
    assert.equal(reopened.count('only/x'), 1);
  });

  it('keeps trims and drops across a reopen, also when their writes stay mostly live', async () => {
    const dir = tempDir();
    const log = new NedbMessageLog(dir, 1, silentLogger);
    await log.open();
    await Promise.all(Array.from({ length: 10 }, (_, i) => log.append('dev/a', ids.next(), JSON.stringify(i))));
    await Promise.all([
      ...Array.from({ length: 6 }, (_, i) => log.append('dev/a', ids.next(), JSON.stringify(10 + i))),
      ...Array.from({ length: 4 }, () => log.append('dev/b', ids.next(), '"b"')),
    ]);
    await log.trimOldest('dev/a', 4);
    await log.drop('dev/b');
    await log.close();
    const reopened = new NedbMessageLog(dir, 1, silentLogger);
    await reopened.open();
    assert.deepEqual((await reopened.read('dev/a', { limit: 100, order: 'asc' })).map((r) => JSON.parse(r.json)), [4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]);
    assert.equal(reopened.count('dev/b'), 0);
    assert.deepEqual([...reopened.streams()], ['dev/a']);
  });

  it('opens a file whose last append was cut off by a crash, with every complete append', async () => {
    const dir = tempDir();
    const log = new NedbMessageLog(dir, 1, silentLogger);
    await log.open();
    const written: string[] = [];
    for (let i = 0; i < 5; i++) {
      await Promise.all(Array.from({ length: 100 }, () => {
        const id = ids.next();
        written.push(id);
        return log.append('dev/a', id, '{"v":1}');
      }));
    }
    await log.close();
    fs.appendFileSync(path.join(dir, 'messages-0.db'), '{"_id":"0000000000000000001","s":["dev/a"],"n":[0],"k":"00000');
    const reopened = new NedbMessageLog(dir, 1, silentLogger);
    await reopened.open();
    assert.deepEqual((await reopened.read('dev/a', { limit: 1000, order: 'asc' })).map((r) => r.id), written);
  });

  it('reuses segment numbers of deleted writes', async () => {
    const log = new NedbMessageLog(null, 1, silentLogger);
    await log.open();
    for (let round = 0; round < 20; round++) {
      await log.append('dev/a', ids.next(), '1');
      await log.trimOldest('dev/a', 1);
      await log.close(); // runs the pending upkeep
    }
    assert.ok((log as unknown as { nextSegmentNo: number }).nextSegmentNo <= 3);
  });

  it('matches a plain model through random appends, trims and drops, before and after a reopen', async function () {
    this.timeout(30_000);
    let seed = 42;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const dir = tempDir();
    let log = new NedbMessageLog(dir, 3, silentLogger);
    await log.open();
    const model = new Map<string, Array<{ id: string; json: string }>>();
    const streams = ['d1/a', 'd1/b', 'd2/a', 'd3/x', 'd4/y'];
    const check = async (l: NedbMessageLog) => {
      for (const stream of streams) {
        const want = model.get(stream) ?? [];
        const got = await l.read(stream, { limit: 1000, order: 'asc' });
        assert.deepEqual(got, want, `stream ${stream}`);
      }
    };
    for (let round = 0; round < 150; round++) {
      const burst = 1 + Math.floor(random() * 12);
      await Promise.all(Array.from({ length: burst }, () => {
        const stream = streams[Math.floor(random() * streams.length)];
        const id = ids.next();
        const json = JSON.stringify({ round, r: random() });
        if (!model.has(stream)) model.set(stream, []);
        model.get(stream)!.push({ id, json });
        return log.append(stream, id, json);
      }));
      const stream = streams[Math.floor(random() * streams.length)];
      const roll = random();
      if (roll < 0.3) {
        const n = Math.floor(random() * 6);
        await log.trimOldest(stream, n);
        model.get(stream)?.splice(0, n);
      } else if (roll < 0.35) {
        await log.drop(stream);
        model.delete(stream);
      }
      if (round % 50 === 49) {
        await check(log);
        await log.close();
        log = new NedbMessageLog(dir, 3, silentLogger);
        await log.open();
        await check(log);
      }
    }
  });

  it('keeps the shard count it was created with', async () => {
    const dir = tempDir();
    const { log, written } = await filled(dir, 30, ['d1/a', 'd2/b', 'd3/c', 'd4/d']);
    await log.close();
    const reopened = new NedbMessageLog(dir, 7, silentLogger);
    await reopened.open();
    for (const [stream, list] of written) assert.equal(reopened.stats(stream).count, list.length);
    await reopened.append('d1/a', ids.next(), '{}');
    assert.equal(reopened.stats('d1/a').count, written.get('d1/a')!.length + 1);
  });
});
