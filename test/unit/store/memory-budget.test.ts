import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { NedbMessageLog } from '../../../runtime/store/message-log';
import { scanMessageFile } from '../../../runtime/store/history-scan';
import { MESSAGE_BYTES, SEGMENT_BYTES, stringBytes } from '../../../runtime/store/memory-model';
import type { MemoryOptions } from '../../../runtime/store/memory-budget';
import { SnowflakeGenerator, idToTime } from '../../../runtime/ids/snowflake';
import { createLogger, silentLogger } from '../../../runtime/log';
import { isFieldflowError } from '../../../runtime/errors';
import { tempDir } from '../../support/platform';

const MB = 2 ** 20;

describe('the message log memory budget', () => {
  const ids = new SnowflakeGenerator(0);
  const roomy: MemoryOptions = { budgetBytes: 1024 * MB, configured: true, trimOnStart: false };

  async function open(dir: string | null, shards = 1, memory: MemoryOptions = roomy, logger = silentLogger): Promise<NedbMessageLog> {
    const log = new NedbMessageLog(dir, shards, logger, undefined, memory);
    await log.open();
    return log;
  }

  /** Append `n` messages as writes of `perWrite`, round robin over `streams`; returns the ids per stream. */
  async function write(log: NedbMessageLog, n: number, perWrite: number, streams: string[], text = (i: number) => JSON.stringify({ i, temp: 21.5 })): Promise<Map<string, string[]>> {
    const written = new Map<string, string[]>(streams.map((s) => [s, []]));
    for (let i = 0; i < n; i += perWrite) {
      await Promise.all(
        Array.from({ length: Math.min(perWrite, n - i) }, (_, j) => {
          const stream = streams[(i + j) % streams.length];
          const id = ids.next();
          written.get(stream)!.push(id);
          return log.append(stream, id, text(i + j));
        }),
      );
    }
    return written;
  }

  function files(dir: string): string[] {
    return fs.readdirSync(dir).filter((f) => /^messages-\d+\.db$/.test(f)).map((f) => path.join(dir, f));
  }

  function scanned(dir: string): number {
    return files(dir).reduce((n, f) => n + scanMessageFile(f).estimatedBytes, 0);
  }

  it('estimates a write of one message at a segment, a message and its text, and a write of many at one segment for all', async () => {
    const single = await open(null);
    await single.append('d/a', ids.next(), '{"v":1}');
    assert.equal(single.memory.usage().estimatedBytes, SEGMENT_BYTES + MESSAGE_BYTES + 7);
    const batch = await open(null);
    await write(batch, 1000, 1000, ['d/a'], () => '{"v":1}');
    assert.equal(batch.memory.usage().estimatedBytes, SEGMENT_BYTES + 1000 * (MESSAGE_BYTES + 7));
    // V8 keeps a string with a character past U+00FF in two bytes a character, and a write's texts are one string.
    const wide = await open(null);
    await write(wide, 2, 2, ['d/a'], (i) => (i === 0 ? '"€"' : '"e"'));
    assert.equal(wide.memory.usage().estimatedBytes, SEGMENT_BYTES + 2 * MESSAGE_BYTES + 2 * 6);
  });

  it('counts trimmed writes until they are deleted, and drops them from the estimate then', async () => {
    const log = await open(null);
    await write(log, 100, 10, ['d/a', 'd/b']);
    const full = log.memory.usage().estimatedBytes;
    await log.trimOldest('d/a', 50);
    await log.trimOldest('d/b', 20);
    // Four writes lost every message; the other six lost half of theirs and wait for their rewrite.
    assert.equal(log.memory.usage().estimatedBytes, full);
    assert.equal(log.memory.footprint.reclaimableBytes, 4 * (SEGMENT_BYTES + 10 * MESSAGE_BYTES) + sumText(40));
    await log.close(); // runs the pending upkeep
    assert.equal(log.memory.footprint.reclaimableBytes, 0);
    assert.equal(log.memory.footprint.messages, 30);
    assert.equal(log.memory.usage().estimatedBytes, estimateOf(log));
    assert.ok(log.memory.usage().estimatedBytes < full / 2);
  });

  it('estimates from the files alone exactly what the log holds once it loads them, after trims, rewrites and drops', async () => {
    const dir = tempDir();
    const log = await open(dir, 3);
    await write(log, 3000, 1, ['d1/a', 'd2/b', 'd3/c', 'd4/d']);
    await write(log, 3000, 500, ['d1/a', 'd2/b', 'd3/c', 'd4/d'], (i) => JSON.stringify({ i, unit: i % 7 === 0 ? '°C' : '℃' }));
    await log.trimOldest('d1/a', 1200);
    await log.trimOldest('d2/b', 100);
    await log.drop('d3/c');
    await log.close();
    const fromFiles = scanned(dir);
    const reopened = await open(dir, 3);
    assert.equal(fromFiles, reopened.memory.usage().estimatedBytes);
    assert.equal(reopened.memory.usage().estimatedBytes, estimateOf(reopened));
  });

  it('refuses to open a history over its budget, says how much it needs and what lets it start, and leaves the files as they were', async () => {
    const dir = tempDir();
    const log = await open(dir);
    await write(log, 2000, 1, ['d1/a', 'd2/b']);
    await log.close();
    const before = files(dir).map((f) => fs.readFileSync(f));
    const budgetBytes = Math.floor(scanned(dir) / 2);
    await assert.rejects(open(dir, 1, { budgetBytes, configured: true, trimOnStart: false }), (err: Error) => {
      assert.ok(isFieldflowError(err) && err.code === 'FF_HISTORY_TOO_LARGE', err.message);
      assert.match(err.message, /2,000 messages/);
      assert.match(err.message, /FIELDFLOW_MEMORY_BUDGET_MB=\d+/);
      assert.match(err.message, /--max-old-space-size=\d+/);
      assert.match(err.message, /FIELDFLOW_MEMORY_TRIM_ON_START=true deletes the oldest \d[\d,]* messages/);
      assert.match(err.message, /FIELDFLOW_DATABASE_URL/);
      return true;
    });
    assert.deepEqual(files(dir).map((f) => fs.readFileSync(f)), before);
  });

  it('with trim on start, deletes the oldest writes of every stream until the history fits, keeps the newest, and says so', async () => {
    const dir = tempDir();
    const log = await open(dir, 2);
    const written = await write(log, 4000, 1, ['d1/a', 'd2/b', 'd3/c']);
    await log.close();
    const budgetBytes = Math.floor(scanned(dir) / 2);
    const lines: string[] = [];
    const logger = createLogger('info', (line) => lines.push(line));
    const trimmed = await open(dir, 2, { budgetBytes, configured: true, trimOnStart: true }, logger);
    const usage = trimmed.memory.usage();
    assert.ok(usage.estimatedBytes <= budgetBytes * 0.95 && usage.estimatedBytes > budgetBytes * 0.9, `${usage.estimatedBytes} of ${budgetBytes}`);
    let oldestKept = Infinity;
    for (const [stream, list] of written) {
      const kept = (await trimmed.read(stream, { limit: 10_000, order: 'asc' })).map((r) => r.id);
      assert.ok(kept.length > 0 && kept.length < list.length, stream);
      assert.deepEqual(kept, list.slice(list.length - kept.length), `${stream} keeps its newest messages`);
      oldestKept = Math.min(oldestKept, idToTime(kept[0]));
    }
    const warning = lines.find((l) => l.includes('[warn]') && l.includes('FIELDFLOW_MEMORY_TRIM_ON_START'));
    assert.ok(warning, lines.join('\n'));
    const fields = JSON.parse(warning.slice(warning.indexOf('{')));
    assert.ok(fields.deleted > 0 && fields.kept > 0 && fields.deleted + fields.kept === 4000);
    assert.ok(Date.parse(fields.before) <= oldestKept + 1);
    await trimmed.close();
    // The deletion is in the files: a start with the same budget and no trim loads it.
    const again = await open(dir, 2, { budgetBytes, configured: true, trimOnStart: false });
    assert.equal(again.memory.usage().estimatedBytes, usage.estimatedBytes);
  });

  /** The model over what the log holds now, from its counts. */
  function estimateOf(log: NedbMessageLog): number {
    const fp = log.memory.footprint;
    let text = 0;
    for (const segment of (log as unknown as { segments: Map<number, { t: string }> }).segments.values()) text += stringBytes(segment.t);
    return fp.segments * SEGMENT_BYTES + fp.messages * MESSAGE_BYTES + text;
  }

  function sumText(n: number): number {
    let t = 0;
    for (let i = 0; i < n; i++) t += JSON.stringify({ i, temp: 21.5 }).length;
    return t;
  }
});
