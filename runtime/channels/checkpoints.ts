import type { Collection, Store } from '../store';
import { padId } from '../ids/snowflake';
import type { WriteHealth } from '../store/write-health';

/** The name checkpoint writes are reported under in write health. */
const SOURCE = 'aggregates';

/** A channel's current state: the merge of every message it has received. */
export interface Aggregate {
  data: unknown;
  updatedAt: number;
  lastMessageId: string;
}

/**
 * A stored checkpoint. Its `_id` carries the version (the last merged message id), so a flush
 * inserts new versions in one append and then removes old ones in another: a crash between the
 * two leaves two versions, and load keeps the newer. NeDB has no multi-document update that
 * costs one append, and one append per channel per flush would not scale.
 */
interface CheckpointDoc {
  _id: string;
  /** stream key */
  s: string;
  /** data as JSON text (aggregates may hold keys NeDB refuses, such as "a.b" or "$x") */
  d: string;
  u: number;
  m: string;
}

/**
 * Aggregate checkpoints. The message log is the write-ahead log of the aggregates: a message is
 * durable when it is appended, and its effect on the aggregate is rebuilt on start by replaying
 * the messages newer than the checkpoint. So checkpoints are written in the background, off the
 * acknowledgement path, and retention never trims past a stream's checkpoint.
 */
export class CheckpointStore {
  private collection!: Collection<CheckpointDoc>;
  private health!: WriteHealth;
  /** stream key -> stored version (doc _id) */
  private readonly stored = new Map<string, string>();
  /** stream key -> last message id covered by the stored version */
  private readonly covered = new Map<string, string>();
  private readonly dirty = new Map<string, Aggregate>();
  private flushing: Promise<void> = Promise.resolve();

  async load(store: Store): Promise<Map<string, Aggregate>> {
    this.health = store.writeHealth;
    this.collection = await store.collection<CheckpointDoc>('aggregates');
    const newest = new Map<string, CheckpointDoc>();
    const stale: string[] = [];
    for (const doc of await this.collection.all()) {
      const seen = newest.get(doc.s);
      if (!seen || padId(doc.m) > padId(seen.m)) {
        if (seen) stale.push(seen._id);
        newest.set(doc.s, doc);
      } else {
        stale.push(doc._id);
      }
    }
    await this.collection.removeMany(stale);
    const aggregates = new Map<string, Aggregate>();
    for (const [stream, doc] of newest) {
      this.stored.set(stream, doc._id);
      this.covered.set(stream, doc.m);
      aggregates.set(stream, { data: JSON.parse(doc.d), updatedAt: doc.u, lastMessageId: doc.m });
    }
    return aggregates;
  }

  markDirty(stream: string, aggregate: Aggregate): void {
    this.dirty.set(stream, aggregate);
  }

  /** The newest message id whose effect is on disk in a checkpoint; retention stops there. */
  coveredId(stream: string): string | undefined {
    return this.covered.get(stream);
  }

  /** Write every changed aggregate. Flushes run one at a time. */
  flush(): Promise<void> {
    // A failed flush must not wedge the chain: the next one retries what it left dirty.
    const run = this.flushing.catch(() => undefined).then(() => this.writeDirty());
    this.flushing = run;
    return run;
  }

  /** Forget a stream's checkpoint (its channel was deleted). */
  async forget(stream: string): Promise<void> {
    await this.flushing.catch(() => undefined);
    this.dirty.delete(stream);
    const id = this.stored.get(stream);
    this.stored.delete(stream);
    this.covered.delete(stream);
    if (id) await this.collection.remove(id);
  }

  private async writeDirty(): Promise<void> {
    if (this.dirty.size === 0) return;
    const batch = [...this.dirty];
    this.dirty.clear();
    const docs: CheckpointDoc[] = [];
    for (const [stream, agg] of batch) {
      const id = `${stream}#${padId(agg.lastMessageId)}`;
      if (this.stored.get(stream) === id) continue;
      docs.push({ _id: id, s: stream, d: JSON.stringify(agg.data), u: agg.updatedAt, m: agg.lastMessageId });
    }
    try {
      await this.collection.insertMany(docs);
    } catch (err) {
      // Put them back (unless newer state arrived meanwhile) so the next flush retries. Until
      // then the log holds what they would have recorded: a restart replays it.
      for (const [stream, agg] of batch) if (!this.dirty.has(stream)) this.dirty.set(stream, agg);
      this.health.failed(SOURCE, err);
      throw err;
    }
    this.health.ok(SOURCE);
    const old: string[] = [];
    for (const doc of docs) {
      const previous = this.stored.get(doc.s);
      if (previous) old.push(previous);
      this.stored.set(doc.s, doc._id);
      this.covered.set(doc.s, doc.m);
    }
    await this.collection.removeMany(old);
  }
}
