import assert from 'node:assert/strict';
import { GroupCommit } from '../../../runtime/store/group-commit';

describe('group commit', () => {
  it('writes everything submitted in one synchronous run as one batch', async () => {
    const writes: number[][] = [];
    const gc = new GroupCommit<number>(async (items) => {
      writes.push(items);
    });
    await Promise.all([1, 2, 3, 4].map((i) => gc.submit(i)));
    assert.deepEqual(writes, [[1, 2, 3, 4]]);
  });

  it('batches what arrives while a write is in flight, without any timer', async () => {
    const writes: number[][] = [];
    let release!: () => void;
    const gc = new GroupCommit<number>(async (items) => {
      writes.push(items);
      if (writes.length === 1) await new Promise<void>((r) => (release = r));
    });
    const first = gc.submit(1);
    await new Promise((r) => setImmediate(r));
    const later = [2, 3, 4].map((i) => gc.submit(i));
    release();
    await Promise.all([first, ...later]);
    assert.deepEqual(writes, [[1], [2, 3, 4]]);
  });

  it('resolves a submit only after its write completes, in submission order', async () => {
    const log: string[] = [];
    const gc = new GroupCommit<number>(async (items) => {
      await new Promise((r) => setTimeout(r, 5));
      log.push(`wrote ${items.join(',')}`);
    });
    await Promise.all([1, 2].map((i) => gc.submit(i).then(() => log.push(`acked ${i}`))));
    assert.deepEqual(log, ['wrote 1,2', 'acked 1', 'acked 2']);
  });

  it('rejects every submit of a failed batch and keeps serving later ones', async () => {
    let fail = true;
    const gc = new GroupCommit<number>(async () => {
      if (fail) throw new Error('disk full');
    });
    const results = await Promise.allSettled([gc.submit(1), gc.submit(2)]);
    assert.deepEqual(results.map((r) => r.status), ['rejected', 'rejected']);
    fail = false;
    await gc.submit(3);
  });

  it('caps a batch by count', async () => {
    const sizes: number[] = [];
    const gc = new GroupCommit<number>(async (items) => {
      sizes.push(items.length);
    }, () => 0, 3);
    await Promise.all([1, 2, 3, 4, 5, 6, 7].map((i) => gc.submit(i)));
    assert.deepEqual(sizes, [3, 3, 1]);
  });

  it('caps a batch by bytes, but always takes at least one item', async () => {
    const batches: number[][] = [];
    const gc = new GroupCommit<number>(async (items) => {
      batches.push(items);
    }, (n) => n, 100, 10);
    await Promise.all([4, 4, 4, 50, 1].map((i) => gc.submit(i)));
    assert.deepEqual(batches, [[4, 4], [4], [50], [1]]);
  });
});
