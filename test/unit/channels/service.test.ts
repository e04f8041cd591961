import assert from 'node:assert/strict';
import type { Platform } from '../../../runtime';
import type { PlatformEvent } from '../../../runtime/events';
import { startPlatform, tempDir } from '../../support/platform';

describe('channels', () => {
  let platform: Platform;
  let deviceId: string;

  beforeEach(async () => {
    platform = await startPlatform();
    deviceId = (await platform.devices.create({ name: 'pump-1', labels: { site: 'north' } })).device.id;
  });
  afterEach(() => platform.stop());

  it('merge each message into the aggregate with JSON Merge Patch', async () => {
    const ch = platform.channels;
    await ch.publish(deviceId, 'state', { temp: 20, cfg: { a: 1, b: 2 }, tags: ['x'] });
    await ch.publish(deviceId, 'state', { cfg: { a: null, c: 3 }, tags: ['y', 'z'] });
    const agg = ch.aggregate(deviceId, 'state');
    assert.deepEqual(agg.data, { temp: 20, cfg: { b: 2, c: 3 }, tags: ['y', 'z'] });
    await ch.publish(deviceId, 'state', 42);
    assert.equal(ch.aggregate(deviceId, 'state').data, 42);
    await ch.publish(deviceId, 'state', { back: true });
    assert.deepEqual(ch.aggregate(deviceId, 'state').data, { back: true });
  });

  it('record the id of the last merged message on the aggregate', async () => {
    const r = await platform.channels.publishRaw(deviceId, 'state', Buffer.from('{"a":1}'));
    const agg = platform.channels.aggregate(deviceId, 'state');
    assert.equal(agg.lastMessageId, r.id);
    assert.equal(agg.updatedAt, r.ts);
  });

  it('merge concurrent messages in id order', async () => {
    const results = await Promise.all(Array.from({ length: 200 }, (_, i) => platform.channels.publish(deviceId, 's', { n: i })));
    const last = results.reduce((a, b) => (BigInt(a.id) > BigInt(b.id) ? a : b));
    assert.deepEqual(platform.channels.aggregate(deviceId, 's').data, { n: 199 });
    assert.equal(platform.channels.aggregate(deviceId, 's').lastMessageId, last.id);
  });

  it('page through history with the next cursor, newest first by default', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 25; i++) ids.push((await platform.channels.publish(deviceId, 't', { i })).id);
    const seen: string[] = [];
    let before: string | undefined;
    for (;;) {
      const page = await platform.channels.history(deviceId, 't', { limit: 10, before });
      seen.push(...page.items.map((m) => m.id));
      if (!page.next) break;
      before = page.next;
    }
    assert.deepEqual(seen, [...ids].reverse());
    const asc = await platform.channels.history(deviceId, 't', { order: 'asc', limit: 3, after: ids[20] });
    assert.deepEqual(asc.items.map((m) => m.data), [{ i: 21 }, { i: 22 }, { i: 23 }]);
    assert.equal(asc.next, ids[23]);
  });

  it('select history by time: after is inclusive, before is exclusive', async () => {
    let now = Date.parse('2026-11-22T10:00:00Z');
    const p = await startPlatform({ now: () => now });
    try {
      const id = (await p.devices.create({ name: 'x' })).device.id;
      for (let minute = 0; minute < 5; minute++) {
        now = Date.parse(`2026-11-22T10:0${minute}:00Z`);
        await p.channels.publish(id, 't', { minute });
      }
      const page = await p.channels.history(id, 't', { after: '2026-11-22T10:01:00Z', before: '2026-11-22T10:03:00Z', order: 'asc' });
      assert.deepEqual(page.items.map((m) => m.data), [{ minute: 1 }, { minute: 2 }]);
      assert.equal(new Date(page.items[0].ts).toISOString(), '2026-11-22T10:01:00.000Z');
    } finally {
      await p.stop();
    }
  });

  it('refuse a limit outside 1..1000 and an unknown order', async () => {
    await platform.channels.publish(deviceId, 't', {});
    for (const limit of [0, 1001, 1.5]) {
      await assert.rejects(platform.channels.history(deviceId, 't', { limit }), { code: 'FF_INVALID_QUERY' });
    }
    await assert.rejects(platform.channels.history(deviceId, 't', { order: 'sideways' as 'asc' }), { code: 'FF_INVALID_QUERY' });
  });

  it('answer unknown devices and channels with their own not-found codes', async () => {
    await assert.rejects(platform.channels.publish('no-such-device', 't', {}), { code: 'FF_DEVICE_NOT_FOUND' });
    await assert.rejects(platform.channels.history(deviceId, 'never-written'), { code: 'FF_CHANNEL_NOT_FOUND' });
    assert.throws(() => platform.channels.aggregate(deviceId, 'never-written'), { code: 'FF_CHANNEL_NOT_FOUND' });
    await assert.rejects(platform.channels.publish(deviceId, 'bad/name', {}), { code: 'FF_INVALID_CHANNEL_NAME' });
  });

  it('refuse a new channel past the per-device limit, and keep accepting existing ones', async () => {
    const p = await startPlatform({ ingest: { maxChannelsPerDevice: 2 } });
    try {
      const id = (await p.devices.create({ name: 'x' })).device.id;
      await p.channels.publish(id, 'a', 1);
      await p.channels.publish(id, 'b', 1);
      await assert.rejects(p.channels.publish(id, 'c', 1), { code: 'FF_CHANNEL_LIMIT' });
      await p.channels.publish(id, 'a', 2);
      assert.deepEqual(p.channels.list(id).map((c) => [c.name, c.messageCount]), [['a', 2], ['b', 1]]);
    } finally {
      await p.stop();
    }
  });

  it('refuse a message that would grow the aggregate past its limit, and keep the rest', async () => {
    const p = await startPlatform({ ingest: { maxAggregateBytes: 2048 } });
    try {
      const id = (await p.devices.create({ name: 'x' })).device.id;
      let i = 0;
      for (; i < 100; i++) {
        const ok = await p.channels.publish(id, 'grow', { [`key${i}`]: 'v'.repeat(40) }).then(() => true, (err) => {
          assert.equal(err.code, 'FF_AGGREGATE_TOO_LARGE');
          return false;
        });
        if (!ok) break;
      }
      assert.ok(i > 20 && i < 100, `refused at message ${i}`);
      assert.ok(JSON.stringify(p.channels.aggregate(id, 'grow').data).length <= 2048);
      assert.equal(p.channels.get(id, 'grow').messageCount, i);
      // Deleting keys with null keeps it under the limit, so the channel goes on working.
      await p.channels.publish(id, 'grow', { key0: null, key1: null });
      await p.channels.publish(id, 'grow', { small: 1 });
    } finally {
      await p.stop();
    }
  });

  it('emit MessageCreate then AggregateUpdate after the message is stored', async () => {
    const events: PlatformEvent[] = [];
    platform.events.on('MessageCreate', (e) => events.push(e));
    platform.events.on('AggregateUpdate', (e) => events.push(e));
    platform.events.on('MessageCreate', (e) => {
      // Stored before anyone hears of it.
      assert.equal(platform.channels.get(e.device.id, e.channel).messageCount > 0, true);
    });
    const r = await platform.channels.publish(deviceId, 't', { a: { b: 1 } });
    await platform.channels.publish(deviceId, 't', { a: { c: 2 } });
    assert.deepEqual(events.map((e) => e.type), ['MessageCreate', 'AggregateUpdate', 'MessageCreate', 'AggregateUpdate']);
    const first = events[0] as Extract<PlatformEvent, { type: 'MessageCreate' }>;
    assert.equal(first.messageId, r.id);
    assert.deepEqual(first.device, { id: deviceId, name: 'pump-1', labels: { site: 'north' } });
    assert.deepEqual(events[3].type === 'AggregateUpdate' && events[3].data, { a: { b: 1, c: 2 } });
  });

  it('keep ingesting when an event handler throws', async () => {
    platform.events.on('MessageCreate', () => {
      throw new Error('flow bug');
    });
    await platform.channels.publish(deviceId, 't', 1);
    assert.equal(platform.channels.get(deviceId, 't').messageCount, 1);
  });

  it('trim to the maximum count and age, keeping the aggregate whole', async () => {
    let now = Date.parse('2026-11-01T00:00:00Z');
    const p = await startPlatform({ now: () => now, retention: { maxAgeSeconds: 86400, maxCount: 1000, intervalSeconds: 3600 } });
    try {
      const id = (await p.devices.create({ name: 'x' })).device.id;
      for (let i = 0; i < 30; i++) await p.channels.publish(id, 'old', { [`k${i}`]: i });
      now += 2 * 86400_000;
      for (let i = 0; i < 30; i++) await p.channels.publish(id, 'fresh', { i });
      await p.channels.setRetention(id, 'fresh', { maxCount: 10 });
      await p.channels.enforceRetention();
      assert.equal(p.channels.get(id, 'old').messageCount, 0, 'messages older than a day stay');
      assert.equal(p.channels.get(id, 'fresh').messageCount, 10);
      const kept = await p.channels.history(id, 'fresh', { order: 'asc', limit: 100 });
      assert.deepEqual(kept.items.map((m) => m.data), Array.from({ length: 10 }, (_, i) => ({ i: i + 20 })));
      assert.equal(Object.keys(p.channels.aggregate(id, 'old').data as object).length, 30);
    } finally {
      await p.stop();
    }
  });

  it('trim a channel that grows far past its count soon, without waiting for the sweep', async () => {
    const p = await startPlatform({ retention: { maxCount: 100, intervalSeconds: 3600 }, store: { checkpointIntervalMs: 20 } });
    try {
      const id = (await p.devices.create({ name: 'x' })).device.id;
      for (let i = 0; i < 400; i++) await p.channels.publish(id, 'fast', { i });
      const deadline = Date.now() + 3000;
      while (p.channels.get(id, 'fast').messageCount > 200 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      assert.ok(p.channels.get(id, 'fast').messageCount <= 200, `still ${p.channels.get(id, 'fast').messageCount} messages`);
    } finally {
      await p.stop();
    }
  });

  it('rebuild aggregates after a crash from the checkpoint plus the messages after it', async () => {
    const dir = tempDir();
    // A platform whose checkpoints never get written: as if it crashed right after acknowledging.
    const crashed = await startPlatform({ dataDir: dir, store: { checkpointIntervalMs: 3_600_000 } });
    const id = (await crashed.devices.create({ name: 'x' })).device.id;
    await crashed.channels.publish(id, 's', { a: 1, nested: { x: 1 } });
    await (crashed.channels as any).checkpoints.flush();
    await crashed.channels.publish(id, 's', { b: 2, nested: { x: null, y: 2 } });
    const last = await crashed.channels.publish(id, 's', { c: 3 });
    const restarted = await startPlatform({ dataDir: dir });
    try {
      const agg = restarted.channels.aggregate(id, 's');
      assert.deepEqual(agg.data, { a: 1, b: 2, c: 3, nested: { y: 2 } });
      assert.equal(agg.lastMessageId, last.id);
      const next = await restarted.channels.publish(id, 's', { d: 4 });
      assert.ok(BigInt(next.id) > BigInt(last.id));
    } finally {
      await restarted.stop();
      await crashed.stop();
    }
  });

  it('delete a device with its channels, messages and aggregates', async () => {
    await platform.channels.publish(deviceId, 'a', { x: 1 });
    await platform.channels.setRetention(deviceId, 'b', { maxCount: 5 });
    await platform.devices.remove(deviceId);
    assert.throws(() => platform.channels.list(deviceId), { code: 'FF_DEVICE_NOT_FOUND' });
    assert.equal([...platform.channels['log'].streams()].length, 0);
  });
});

describe('channels while stopping', () => {
  it('refuse new messages with FF_UNAVAILABLE once stop has begun, keeping what was acknowledged', async () => {
    const p = await startPlatform();
    const id = (await p.devices.create({ name: 'x' })).device.id;
    const acked = await p.channels.publish(id, 't', { before: true });
    const stopping = p.stop();
    await assert.rejects(p.channels.publish(id, 't', { after: true }), { code: 'FF_UNAVAILABLE' });
    await stopping;
    assert.equal((await p.channels.history(id, 't')).items[0].id, acked.id);
  });
});
