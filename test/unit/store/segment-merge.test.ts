import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { NedbMessageLog } from '../../../runtime/store/message-log';
import { MESSAGE_BYTES, SEGMENT_BYTES } from '../../../runtime/store/memory-model';
import { MERGE_MESSAGES } from '../../../runtime/store/segment-runs';
import { SnowflakeGenerator } from '../../../runtime/ids/snowflake';
import { silentLogger } from '../../../runtime/log';
import { tempDir } from '../../support/platform';
import { until } from '../../support/until';

describe('merging message log writes of one message each', () => {
  const ids = new SnowflakeGenerator(0);
  const streams = ['d1/a', 'd2/b', 'd3/c'];

  async function open(dir: string | null): Promise<NedbMessageLog> {
    const log = new NedbMessageLog(dir, 1, silentLogger);
    await log.open();
    return log;
  }

  /** Append `n` messages one at a time (each its own write), round robin; returns each stream's records. */
  async function oneByOne(log: NedbMessageLog, n: number): Promise<Map<string, Array<{ id: string; json: string }>>> {
    const written = new Map(streams.map((s) => [s, [] as Array<{ id: string; json: string }>]));
    for (let i = 0; i < n; i++) {
      const stream = streams[i % streams.length];
      const record = { id: ids.next(), json: JSON.stringify({ i, v: i % 13 }) };
      written.get(stream)!.push(record);
      await log.append(stream, record.id, record.json);
    }
    return written;
  }

  async function contents(log: NedbMessageLog): Promise<Map<string, Array<{ id: string; json: string }>>> {
    return new Map(await Promise.all(streams.map(async (s) => [s, await log.read(s, { limit: 100_000, order: 'asc' })] as const)));
  }

  it('merges them into a write per thousand messages, which reads, trims and reopens as before and costs a thousandth of a write per message', async function () {
    this.timeout(60_000);
    const dir = tempDir();
    const log = await open(dir);
    const n = 3 * MERGE_MESSAGES + 100;
    const written = await oneByOne(log, n);
    // Three full runs merge in the background; the last hundred messages wait for more.
    const { footprint } = log.memory;
    await until(async () => footprint.segments, (segments) => segments === 3 + 100);
    assert.deepEqual(await contents(log), written);
    const text = [...written.values()].flat().reduce((t, r) => t + r.json.length, 0);
    assert.equal(log.memory.usage().estimatedBytes, 103 * SEGMENT_BYTES + n * MESSAGE_BYTES + text);
    await log.trimOldest('d1/a', 500);
    written.get('d1/a')!.splice(0, 500);
    assert.deepEqual(await contents(log), written);
    await log.close();
    const reopened = await open(dir);
    assert.deepEqual(await contents(reopened), written);
    assert.ok(reopened.memory.footprint.segments <= 103, `${reopened.memory.footprint.segments} writes`);
    // Loading rewrites the file with one line per write.
    assert.ok(fs.readFileSync(path.join(dir, 'messages-0.db'), 'utf8').split('\n').length < 120);
  });

  it('matches a plain model through single appends, trims and drops while merges run, before and after a reopen', async function () {
    this.timeout(120_000);
    let seed = 7;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const dir = tempDir();
    let log = await open(dir);
    const model = new Map<string, Array<{ id: string; json: string }>>();
    const check = async () => {
      for (const stream of streams) assert.deepEqual(await log.read(stream, { limit: 100_000, order: 'asc' }), model.get(stream) ?? [], stream);
    };
    for (let i = 1; i <= 6000; i++) {
      const stream = streams[Math.floor(random() * streams.length)];
      const record = { id: ids.next(), json: JSON.stringify({ i }) };
      if (!model.has(stream)) model.set(stream, []);
      model.get(stream)!.push(record);
      await log.append(stream, record.id, record.json);
      if (i % 40 === 0) {
        const target = streams[Math.floor(random() * streams.length)];
        if (random() < 0.9) {
          const n = Math.floor(random() * 30);
          await log.trimOldest(target, n);
          model.get(target)?.splice(0, n);
        } else {
          await log.drop(target);
          model.delete(target);
        }
      }
      // Let the upkeep (deletions, rewrites, merges) run between appends now and then.
      if (i % 500 === 0) await new Promise((r) => setTimeout(r, 1200));
      if (i % 1000 === 0) await check();
      if (i === 3000) {
        await log.close();
        log = await open(dir);
        await check();
      }
    }
    assert.ok(log.memory.footprint.segments < 1500, `${log.memory.footprint.segments} writes hold ${log.memory.footprint.messages} messages`);
    await log.close();
    log = await open(dir);
    await check();
  });

  it('loses and duplicates nothing when a merge stopped after writing the merged write and before removing the others', async function () {
    this.timeout(60_000);
    const dir = tempDir();
    const log = await open(dir);
    const written = await oneByOne(log, MERGE_MESSAGES + 10);
    await until(async () => log.memory.footprint.segments, (segments) => segments === 11);
    await log.close();
    // The file is append-only until the next load: the merged write, then the removals of what it merged. A crash
    // between the two leaves the file as it was up to the first removal.
    const file = path.join(dir, 'messages-0.db');
    const text = fs.readFileSync(file, 'utf8');
    const cut = text.indexOf('{"$$deleted":true');
    assert.ok(cut > 0 && text.slice(0, cut).split('\n').some((line) => line.length > 19 * MERGE_MESSAGES), 'the merged write is in the file');
    fs.writeFileSync(file, text.slice(0, cut));
    const reopened = await open(dir);
    assert.deepEqual(await contents(reopened), written);
    await reopened.append('d1/a', ids.next(), '"after"');
    assert.equal(reopened.count('d1/a'), written.get('d1/a')!.length + 1);
  });
});
