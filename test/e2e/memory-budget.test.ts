import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { createPlatform } from '../../runtime';
import { silentLogger } from '../../runtime/log';
import { tempDir } from '../support/platform';
import { ADMIN_PASSWORD, startServer } from '../support/server';

describe('a server whose stored history does not fit in memory', function () {
  this.timeout(180_000);
  const MESSAGES = 100_000;
  let dataDir: string;
  let devices: string[];
  let first: string;
  let last: string;

  before(async () => {
    // 100,000 messages of 1 KiB, 1,000 per write: about 110 MB on the heap. A server with a 128 MB old space (a
    // 176 MB heap limit, young generation included) has a default budget of 24 MB, and no room for them.
    dataDir = tempDir('fieldflow-e2e-');
    const platform = createPlatform({ dataDir, logger: silentLogger, mqtt: { port: null }, auth: { adminPassword: ADMIN_PASSWORD, bcryptRounds: 4 } });
    await platform.start();
    devices = [];
    for (let i = 0; i < 10; i++) devices.push((await platform.devices.create({ name: `logger-${i}` })).device.id);
    const body = JSON.stringify({ blob: 'y'.repeat(1000) });
    for (let i = 0; i < MESSAGES; i += 1000) {
      const written = await Promise.all(Array.from({ length: 1000 }, (_, j) => platform.channels.publishRaw(devices[(i + j) % 10], 'log', body)));
      first ??= written[0].id;
      last = written[written.length - 1].id;
    }
    await platform.stop();
  });

  it('refuses to start, saying how much memory the history needs and what lets it start, instead of running out of memory', async () => {
    const file = path.join(dataDir, 'platform', 'messages', 'messages-0.db');
    const before = fs.statSync(file).size;
    const started = Date.now();
    const failure = await startServer({ dataDir, env: { NODE_OPTIONS: '--max-old-space-size=128' } }).then(
      async (server) => {
        await server.stop();
        return null;
      },
      (err: Error) => err.message,
    );
    assert.ok(failure, 'the server started');
    assert.match(failure, /exited with 1 /);
    assert.doesNotMatch(failure, /heap out of memory/i);
    assert.match(failure, /Fieldflow failed to start: The stored message history \(100,000 messages in .*\) needs about \d+ MB of memory, more than its memory budget of [\d.]+ MB \(by default, half of what the 176 MB heap limit leaves after 128 MB for the rest of the server\)/);
    assert.match(failure, /NODE_OPTIONS=--max-old-space-size=\d+/);
    assert.match(failure, /FIELDFLOW_MEMORY_TRIM_ON_START=true deletes the oldest [\d,]+ messages/);
    assert.match(failure, /PostgreSQL \(FIELDFLOW_DATABASE_URL\)/);
    assert.ok(Date.now() - started < 20_000, 'it stops before loading anything');
    assert.equal(fs.statSync(file).size, before, 'nothing was deleted');
  });

  it('with FIELDFLOW_MEMORY_TRIM_ON_START, deletes the oldest messages down to the budget, says so, and serves the newest', async () => {
    const server = await startServer({
      dataDir,
      env: { NODE_OPTIONS: '--max-old-space-size=128', FIELDFLOW_MEMORY_BUDGET_MB: '40', FIELDFLOW_MEMORY_TRIM_ON_START: 'true' },
    });
    try {
      assert.match(server.output(), /\[warn\] \[fieldflow\] the message history did not fit its memory budget: deleted its oldest messages/);
      const api = await server.admin();
      let kept = 0;
      let oldest = '';
      let newest = '';
      for (const device of devices) {
        const info = await api.get(`/devices/${device}/channels/log`);
        assert.equal(info.status, 200, JSON.stringify(info.body));
        kept += info.body.messageCount;
        const asc = await api.get(`/devices/${device}/channels/log/messages?order=asc&limit=1`);
        const desc = await api.get(`/devices/${device}/channels/log/messages?order=desc&limit=1`);
        if (!oldest || BigInt(asc.body.items[0].id) < BigInt(oldest)) oldest = asc.body.items[0].id;
        if (BigInt(desc.body.items[0].id) > BigInt(newest || '0')) newest = desc.body.items[0].id;
      }
      // 40 MB at about 1.1 KB a message: about 36,000 of the 100,000 stay, the newest.
      assert.ok(kept > 30_000 && kept < 40_000, `kept ${kept}`);
      assert.equal(newest, last);
      assert.ok(BigInt(oldest) > BigInt(first));
    } finally {
      await server.stop();
    }
  });
});
