import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { openDatastore } from '../../../runtime/store/nedb';
import { nodeIo } from '../../../runtime/store/data-file';
import { NedbMessageLog } from '../../../runtime/store/message-log';
import { SnowflakeGenerator } from '../../../runtime/ids/snowflake';
import { silentLogger } from '../../../runtime/log';
import { tempDir } from '../../support/platform';

const run = promisify(execFile);
const FILES = { fsync: 'off' as const, io: nodeIo() };
const OPEN_LOG = path.resolve(__dirname, '../../support/open-log.js');

describe('NeDB file rewrites', () => {
  it('rewrite a file to every live document once, in id order, and nothing else', async () => {
    const dir = tempDir();
    const ds = await openDatastore(dir, 'things.db', FILES);
    for (let i = 0; i < 500; i++) await ds.insertAsync({ _id: String(i).padStart(4, '0'), v: i, text: 'é€'.repeat(i % 5) });
    await ds.removeAsync({ v: { $lt: 100 } }, { multi: true });
    await ds.updateAsync({ _id: '0200' }, { $set: { v: -1 } }, {});
    await ds.compactDatafileAsync();
    const lines = fs.readFileSync(path.join(dir, 'things.db'), 'utf8').split('\n');
    assert.equal(lines.pop(), '');
    const docs = lines.map((l) => JSON.parse(l));
    assert.deepEqual(docs.map((d) => d._id), Array.from({ length: 400 }, (_, i) => String(i + 100).padStart(4, '0')));
    assert.equal(docs.find((d) => d._id === '0200').v, -1);
    assert.equal(docs[3].text, 'é€'.repeat(3));
    assert.ok(!fs.existsSync(path.join(dir, 'things.db~')));
    const reopened = await openDatastore(dir, 'things.db', FILES);
    assert.equal((await reopened.findAsync({})).length, 400);
  });

  it('load a message history within its budget in a heap too small to hold its file twice', async function () {
    this.timeout(120_000);
    const dir = tempDir();
    const ids = new SnowflakeGenerator(0);
    const log = new NedbMessageLog(dir, 1, silentLogger);
    await log.open();
    // 75,000 messages of 1 KiB, 1,000 per write: about 80 MB on the heap and as much on disk, within an 88 MB budget.
    // A 128 MB old space holds them once, not twice.
    const body = JSON.stringify({ blob: 'y'.repeat(1000) });
    for (let i = 0; i < 75_000; i += 1000) await Promise.all(Array.from({ length: 1000 }, (_, j) => log.append(`d${(i + j) % 10}/x`, ids.next(), body)));
    await log.close();
    const { stdout } = await run(process.execPath, ['--max-old-space-size=128', OPEN_LOG, dir, '88'], { maxBuffer: 1 << 20 }).catch((err) => {
      throw new Error(`the child failed (${err.code ?? err.signal}): ${err.stderr?.slice(-2000)}`);
    });
    const result = JSON.parse(stdout);
    assert.equal(result.messages, 75_000);
    assert.ok(result.usage.state !== 'full' && fs.statSync(path.join(dir, 'messages-0.db')).size > 70 * 2 ** 20, JSON.stringify(result));
  });
});
