import { performance } from 'node:perf_hooks';
import type { Collection, Store } from './index';
import type { WriteHealth } from './write-health';

/** How long to wait before writing again after a failed write. */
const RETRY_MS = 1000;

/**
 * A stored version. The `_id` carries the version, so a flush inserts every changed record in one
 * append and then removes the old versions in another (as aggregate checkpoints do): NeDB writes
 * each update as its own append with its own file open, which cannot keep up with many records
 * changing at once one document at a time. A crash between the two leaves two versions; load keeps
 * the newer.
 */
type VersionedDoc<T> = T & { _id: string; v: number };

/**
 * Records on disk with group commit: save() marks a record dirty and resolves once a write
 * holding its state as of the flush (or later) is durable. Writes run one at a time; whatever is
 * marked while one runs goes into the next, so many records changing at once cost two appends.
 * Used for trigger state and for the notification outbox.
 */
export class VersionedStore<T extends { key: string }> {
  private collection!: Collection<VersionedDoc<T>>;
  private health!: WriteHealth;
  private readonly stored = new Map<string, string>();
  /** Key -> how to read its current record at flush time (null: gone, skip). */
  private readonly dirty = new Map<string, () => T | null>();
  private version = 0;
  private running: Promise<void> | null = null;
  private starting = false;
  private lastStart = 0;
  private waiting: { promise: Promise<void>; resolve: () => void; reject: (err: Error) => void } | null = null;

  /**
   * @param copy takes the snapshot that is written (records change while a write waits its turn);
   *   a store whose records have a known shape can pass something cheaper than structuredClone.
   * @param spacingMs how long to let changes gather before the next write starts. Every NeDB
   *   append opens and closes the file, so while the process is busy, fewer and larger writes save
   *   CPU for a few milliseconds of latency. 0 (the default): write as soon as possible.
   * @param source the name its writes are reported under in write health.
   */
  constructor(
    private readonly name: string,
    private readonly copy: (record: T) => T = structuredClone,
    private readonly spacingMs: () => number = () => 0,
    private readonly source = `versioned:${name}`,
  ) {}

  async load(store: Store): Promise<T[]> {
    this.health = store.writeHealth;
    this.collection = await store.collection<VersionedDoc<T>>(this.name);
    const newest = new Map<string, VersionedDoc<T>>();
    const stale: string[] = [];
    for (const doc of await this.collection.all()) {
      const seen = newest.get(doc.key);
      if (!seen || doc.v > seen.v) {
        if (seen) stale.push(seen._id);
        newest.set(doc.key, doc);
      } else {
        stale.push(doc._id);
      }
      this.version = Math.max(this.version, doc.v);
    }
    await this.collection.removeMany(stale);
    for (const [key, doc] of newest) this.stored.set(key, doc._id);
    return [...newest.values()].map(({ _id: _i, v: _v, ...record }) => record as unknown as T);
  }

  /** Write a record soon; resolves when it (or a newer state of it) is on disk. */
  save(key: string, read: () => T | null): Promise<void> {
    this.dirty.set(key, read);
    return this.schedule();
  }

  /** The next write: started a microtask from now, or when the one running ends. */
  private schedule(): Promise<void> {
    if (!this.waiting) {
      let resolve!: () => void;
      let reject!: (err: Error) => void;
      const promise = new Promise<void>((res, rej) => {
        resolve = res;
        reject = rej;
      });
      this.waiting = { promise, resolve, reject };
      if (!this.running) this.start();
    }
    return this.waiting.promise;
  }

  /** Start the next write: a microtask from now, or once `spacingMs` has passed since the last one began. */
  private start(): void {
    if (this.starting) return;
    this.starting = true;
    const go = () => {
      this.starting = false;
      this.flush();
    };
    // performance.now() is monotonic: a wall clock stepped back must not stall every write.
    const spacing = this.spacingMs();
    const delay = spacing > 0 ? Math.min(spacing, this.lastStart + spacing - performance.now()) : 0;
    if (delay > 0) setTimeout(go, delay);
    else queueMicrotask(go);
  }

  /**
   * Delete records, after the write in progress (which may hold them) has finished. Their slots
   * are gone by now, so later writes skip them.
   */
  async remove(keys: string[]): Promise<void> {
    await this.running?.catch(() => undefined);
    const ids: string[] = [];
    for (const key of keys) {
      this.dirty.delete(key);
      const id = this.stored.get(key);
      if (id) ids.push(id);
      this.stored.delete(key);
    }
    await this.collection.removeMany(ids);
  }

  /** Wait until nothing is dirty or being written. */
  async drain(): Promise<void> {
    while (this.running || this.waiting) await (this.running ?? this.waiting!.promise).catch(() => undefined);
  }

  private flush(): void {
    const waiter = this.waiting;
    if (!waiter) return;
    this.waiting = null;
    this.lastStart = performance.now();
    const batch = [...this.dirty];
    this.dirty.clear();
    this.running = this.write(batch).then(
      () => {
        this.health.ok(this.source);
        waiter.resolve();
      },
      (err: Error) => {
        // Failures are retried below, so they are reported (once per run) rather than logged here.
        this.health.failed(this.source, err);
        // Retry what failed with the next write, unless newer state is already queued.
        for (const [key, read] of batch) if (!this.dirty.has(key)) this.dirty.set(key, read);
        waiter.reject(err);
      },
    );
    this.running.finally(() => {
      this.running = null;
      if (this.waiting) this.start();
      // A failed write put its records back: retry them even if nothing new arrives.
      else if (this.dirty.size) setTimeout(() => this.schedule().catch(() => undefined), RETRY_MS).unref();
    });
  }

  private async write(batch: Array<[string, () => T | null]>): Promise<void> {
    const docs: VersionedDoc<T>[] = [];
    for (const [key, read] of batch) {
      const record = read();
      if (!record) continue;
      const v = ++this.version;
      docs.push({ ...this.copy(record), _id: `${key}#${v}`, v });
    }
    await this.collection.insertMany(docs);
    const old: string[] = [];
    for (const doc of docs) {
      const previous = this.stored.get(doc.key);
      if (previous) old.push(previous);
      this.stored.set(doc.key, doc._id);
    }
    await this.collection.removeMany(old);
  }
}
