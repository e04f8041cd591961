import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { OfflineQueue, QueueLockedError, InvalidArgumentError, type QueuedMessage } from '../../../sdk';
import { tempDir } from '../../support/platform';

/** Take every message that is ready to send. */
function takeAll(q: OfflineQueue): QueuedMessage[] {
  const out: QueuedMessage[] = [];
  for (let m = q.takeNext(); m; m = q.takeNext()) out.push(m);
  return out;
}

async function addAll(q: OfflineQueue, n: number, topic = 'channels/t'): Promise<QueuedMessage[]> {
  const added = [];
  for (let i = 0; i < n; i++) added.push(q.add(topic, JSON.stringify({ i })));
  await Promise.all(added.map((a) => a.written));
  return added.map((a) => a.message);
}

describe('SDK offline queue', () => {
  it('numbers messages <producer>-<seq> from 1 and hands them out oldest first', async () => {
    const q = await OfflineQueue.open({ dir: tempDir() });
    try {
      assert.match(q.producer, /^[A-Za-z0-9_]{1,32}$/);
      const added = await addAll(q, 3);
      assert.deepEqual(added.map((m) => m.messageId), [1, 2, 3].map((s) => `${q.producer}-${s}`));
      assert.deepEqual(takeAll(q).map((m) => JSON.parse(m.payload).i), [0, 1, 2]);
      assert.equal(q.size, 3, 'in flight is still pending');
    } finally {
      await q.close();
    }
  });

  it('keeps unacknowledged messages across a reopen, in order, with the same producer, and never reuses a sequence number', async () => {
    const dir = tempDir();
    let q = await OfflineQueue.open({ dir });
    const producer = q.producer;
    await addAll(q, 5);
    takeAll(q);
    q.ack(1);
    q.ack(3);
    await q.close();

    q = await OfflineQueue.open({ dir });
    assert.equal(q.producer, producer);
    assert.deepEqual(takeAll(q).map((m) => m.seq), [2, 4, 5]);
    for (const s of [2, 4, 5]) q.ack(s);
    await q.close();

    // Everything acknowledged: the log holds no message, but the next number still follows the last one used.
    q = await OfflineQueue.open({ dir });
    try {
      assert.equal(q.size, 0);
      const [m] = await addAll(q, 1);
      assert.equal(m.messageId, `${producer}-6`);
    } finally {
      await q.close();
    }
  });

  it('ignores a torn last line, as a crash in the middle of a write leaves it', async () => {
    const dir = tempDir();
    let q = await OfflineQueue.open({ dir });
    await addAll(q, 2);
    await q.close();
    fs.appendFileSync(path.join(dir, 'queue.log'), '{"a":3,"t":"channels/t","p":"{\\"i\\":');
    q = await OfflineQueue.open({ dir });
    try {
      assert.deepEqual(takeAll(q).map((m) => m.seq), [1, 2]);
      const [m] = await addAll(q, 1);
      assert.equal(m.seq, 3, 'the torn message was never sent, so its number is free');
      await q.close();
      q = await OfflineQueue.open({ dir });
      assert.deepEqual(takeAll(q).map((m) => m.seq), [1, 2, 3]);
    } finally {
      await q.close();
    }
  });

  it('survives a kill -9 of the writing process: every message it reported written is there', async () => {
    const dir = tempDir();
    const queueModule = path.resolve(__dirname, '../../../sdk/queue.js');
    // The child writes as fast as it can and prints each seq once it is written; it is killed mid-stream.
    const script = `
      const { OfflineQueue } = require(${JSON.stringify(queueModule)});
      OfflineQueue.open({ dir: ${JSON.stringify(dir)} }).then(async (q) => {
        for (let i = 0; ; i++) {
          const { message, written } = q.add('channels/t', JSON.stringify({ i, pad: 'x'.repeat(200) }));
          written.then(() => process.stdout.write(message.seq + '\\n'));
          if (i % 50 === 49) await new Promise((r) => setImmediate(r));
        }
      });`;
    const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    while (out.split('\n').length < 2000) await new Promise((r) => setTimeout(r, 10));
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    const reported = out.split('\n').filter(Boolean).map(Number);

    const q = await OfflineQueue.open({ dir, maxMessages: 1_000_000, maxBytes: 1 << 30 });
    try {
      const seqs = takeAll(q).map((m) => m.seq);
      assert.ok(seqs.length >= reported.length, `${seqs.length} loaded, ${reported.length} reported written`);
      assert.deepEqual(seqs, seqs.map((_, i) => i + 1), 'contiguous from 1, in order');
      const [m] = await addAll(q, 1);
      assert.equal(m.seq, seqs.length + 1);
    } finally {
      await q.close();
    }
  });

  it('drops the oldest unsent messages when the count bound is hit, and remembers how many it dropped', async () => {
    const dir = tempDir();
    let q = await OfflineQueue.open({ dir, maxMessages: 3 });
    const dropped: number[] = [];
    q.onDrop = (m) => dropped.push(m.seq);
    await addAll(q, 2);
    assert.equal(q.takeNext()!.seq, 1, 'seq 1 is in flight');
    await addAll(q, 3);
    assert.deepEqual(dropped, [2, 3], 'the oldest unsent go first; the one in flight stays');
    assert.equal(q.dropped, 2);
    assert.equal(q.size, 3);
    await q.close();
    q = await OfflineQueue.open({ dir, maxMessages: 3 });
    try {
      assert.equal(q.dropped, 2);
      assert.deepEqual(takeAll(q).map((m) => m.seq), [1, 4, 5]);
    } finally {
      await q.close();
    }
  });

  it('drops by bytes too, and refuses a message larger than the whole bound', async () => {
    const q = await OfflineQueue.open({ dir: tempDir(), maxBytes: 100 });
    try {
      await Promise.all([q.add('channels/t', 'x'.repeat(40)).written, q.add('channels/t', 'y'.repeat(40)).written]);
      await q.add('channels/t', 'z'.repeat(40)).written;
      assert.equal(q.dropped, 1);
      assert.equal(q.bytes, 80);
      assert.deepEqual(takeAll(q).map((m) => m.payload[0]), ['y', 'z']);
      assert.throws(() => q.add('channels/t', 'w'.repeat(101)), InvalidArgumentError);
    } finally {
      await q.close();
    }
  });

  it('resends a message whose send failed, before the ones after it', async () => {
    const q = await OfflineQueue.open();
    await addAll(q, 3);
    assert.deepEqual(takeAll(q).map((m) => m.seq), [1, 2, 3]);
    q.ack(1);
    q.unsend(2);
    assert.deepEqual(takeAll(q).map((m) => m.seq), [2]);
    q.unsendAll();
    assert.deepEqual(takeAll(q).map((m) => m.seq), [2, 3]);
  });

  it('refuses a queue directory another live process holds, and takes over the lock of a dead one', async () => {
    const dir = tempDir();
    const q = await OfflineQueue.open({ dir });
    await assert.rejects(OfflineQueue.open({ dir }), QueueLockedError);
    await q.close();

    const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)']);
    fs.writeFileSync(path.join(dir, 'lock'), String(child.pid));
    await assert.rejects(OfflineQueue.open({ dir }), (err: QueueLockedError) => err.code === 'FF_SDK_QUEUE_LOCKED' && err.pid === child.pid);
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    const again = await OfflineQueue.open({ dir });
    await again.close();
  });

  it('starts a new producer when the log is gone, so numbers from 1 cannot collide with ones the server has seen', async () => {
    const dir = tempDir();
    let q = await OfflineQueue.open({ dir });
    const first = q.producer;
    await q.close();
    fs.rmSync(path.join(dir, 'queue.log'));
    q = await OfflineQueue.open({ dir });
    try {
      assert.notEqual(q.producer, first);
    } finally {
      await q.close();
    }
  });

  it('rewrites its log as acknowledgements pile up, so the file stays small', async () => {
    const dir = tempDir();
    const q = await OfflineQueue.open({ dir });
    try {
      for (let round = 0; round < 10; round++) {
        await addAll(q, 500);
        for (const m of takeAll(q)) q.ack(m.seq);
      }
      await addAll(q, 1);
      const size = fs.statSync(path.join(dir, 'queue.log')).size;
      assert.ok(size < 200_000, `log has ${size} bytes`);
      assert.equal(q.size, 1);
      assert.equal(takeAll(q)[0].seq, 5001);
    } finally {
      await q.close();
    }
  });

  it('does not hand out a message added while the log is rewritten until its own line is written', async () => {
    const dir = tempDir();
    const q = await OfflineQueue.open({ dir });
    try {
      // Enough acknowledgements in one tick that the next write is a rewrite.
      await addAll(q, 1100);
      for (const m of takeAll(q)) q.ack(m.seq);
      const first = q.add('channels/t', '"before"');
      // The rewrite starts with the next flush; a message that arrives meanwhile is not in its snapshot.
      await new Promise((r) => setImmediate(r));
      const late = q.add('channels/t', '"during"');
      const handedOut: number[] = [];
      const onDisk = () => fs.readFileSync(path.join(dir, 'queue.log'), 'utf8');
      await first.written;
      for (let m = q.takeNext(); m; m = q.takeNext()) {
        assert.ok(onDisk().includes(`"a":${m.seq},`), `seq ${m.seq} handed out before its line is on disk`);
        handedOut.push(m.seq);
      }
      await late.written;
      for (let m = q.takeNext(); m; m = q.takeNext()) handedOut.push(m.seq);
      assert.deepEqual(handedOut, [first.message.seq, late.message.seq]);
      assert.ok(onDisk().includes('during'));
    } finally {
      await q.close();
    }
  });
});
