import type Datastore from '@seald-io/nedb';
import { openDatastore } from './nedb';
import type { DataFileOptions } from './data-file';
import type { Logger } from '../log';

/**
 * A small document collection. Services keep their working set in memory and use this only to
 * persist, so the interface is what a write-through cache needs and nothing more.
 */
export interface Collection<T extends { _id: string }> {
  all(): Promise<T[]>;
  insert(doc: T): Promise<void>;
  /** All or nothing: if the write fails, none of the documents stay. */
  insertMany(docs: T[]): Promise<void>;
  /** Replace the stored document with the same `_id`. */
  replace(doc: T): Promise<void>;
  remove(id: string): Promise<boolean>;
  removeMany(ids: string[]): Promise<number>;
}

/** NeDB appends a line per write; compact once dead lines outnumber live documents. */
const COMPACT_MIN_GARBAGE = 1000;
/**
 * NeDB spreads a query's candidates into an array with `push(...docs)`, which overflows the
 * stack somewhere above 100,000 documents; bulk operations stay well under that.
 */
const NEDB_CHUNK = 10_000;

export class NedbCollection<T extends { _id: string }> implements Collection<T> {
  private garbage = 0;
  private live = 0;
  private compacting: Promise<void> | null = null;

  private constructor(
    private readonly ds: Datastore,
    private readonly log: Logger,
  ) {
    this.live = ds.getAllData().length;
  }

  static async open<T extends { _id: string }>(dir: string | null, name: string, files: DataFileOptions, log: Logger): Promise<NedbCollection<T>> {
    return new NedbCollection<T>(await openDatastore(dir, name, files), log);
  }

  async all(): Promise<T[]> {
    // A copy: NeDB's own documents must not be changed behind its back.
    return structuredClone(this.ds.getAllData()) as unknown as T[];
  }

  async insert(doc: T): Promise<void> {
    await this.insertMany([doc]);
  }

  async insertMany(docs: T[]): Promise<void> {
    if (!docs.length) return;
    try {
      await this.ds.insertAsync(docs);
    } catch (err) {
      // NeDB adds documents to memory before it writes them; take them out again if the write
      // failed, or the retry would hit a unique-key error forever.
      if (!(err as { errorType?: string }).errorType) await this.removeMany(docs.map((d) => d._id)).catch(() => undefined);
      throw err;
    }
    this.live += docs.length;
  }

  async replace(doc: T): Promise<void> {
    await this.ds.updateAsync({ _id: doc._id }, doc, {});
    this.addGarbage(1);
  }

  async remove(id: string): Promise<boolean> {
    const n = await this.ds.removeAsync({ _id: id }, {});
    this.live -= n;
    this.addGarbage(n);
    return n > 0;
  }

  async removeMany(ids: string[]): Promise<number> {
    let removed = 0;
    for (let i = 0; i < ids.length; i += NEDB_CHUNK) {
      const n = await this.ds.removeAsync({ _id: { $in: ids.slice(i, i + NEDB_CHUNK) } }, { multi: true });
      removed += n;
      this.live -= n;
      this.addGarbage(n);
    }
    return removed;
  }

  /** Wait for a compaction that is running, so a clean shutdown leaves a compact file. */
  async settle(): Promise<void> {
    if (this.compacting) await this.compacting;
  }

  private addGarbage(n: number): void {
    this.garbage += n;
    if (this.compacting || this.garbage < COMPACT_MIN_GARBAGE || this.garbage < this.live) return;
    this.garbage = 0;
    this.compacting = this.ds
      .compactDatafileAsync()
      .catch((err) => this.log.error('compaction failed; the file keeps its dead lines', { error: (err as Error).message }))
      .finally(() => {
        this.compacting = null;
      });
  }
}
