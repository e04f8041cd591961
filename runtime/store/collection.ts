import type Datastore from '@seald-io/nedb';
import { openDatastore } from './nedb';

/**
 * A small document collection. Services keep their working set in memory and use this only to
 * persist, so the interface is what a write-through cache needs and nothing more.
 */
export interface Collection<T extends { _id: string }> {
  all(): Promise<T[]>;
  insert(doc: T): Promise<void>;
  insertMany(docs: T[]): Promise<void>;
  /** Replace the stored document with the same `_id`. */
  replace(doc: T): Promise<void>;
  remove(id: string): Promise<boolean>;
  removeMany(ids: string[]): Promise<number>;
}

/** NeDB appends a line per write; compact once dead lines outnumber live documents. */
const COMPACT_MIN_GARBAGE = 1000;

export class NedbCollection<T extends { _id: string }> implements Collection<T> {
  private garbage = 0;
  private compacting: Promise<void> | null = null;

  private constructor(private readonly ds: Datastore) {}

  static async open<T extends { _id: string }>(dir: string | null, name: string): Promise<NedbCollection<T>> {
    return new NedbCollection<T>(await openDatastore(dir, name));
  }

  async all(): Promise<T[]> {
    return (await this.ds.findAsync({})) as unknown as T[];
  }

  async insert(doc: T): Promise<void> {
    await this.ds.insertAsync(doc);
  }

  async insertMany(docs: T[]): Promise<void> {
    if (docs.length) await this.ds.insertAsync(docs);
  }

  async replace(doc: T): Promise<void> {
    await this.ds.updateAsync({ _id: doc._id }, doc, {});
    this.addGarbage(1);
  }

  async remove(id: string): Promise<boolean> {
    const n = await this.ds.removeAsync({ _id: id }, {});
    this.addGarbage(n);
    return n > 0;
  }

  async removeMany(ids: string[]): Promise<number> {
    if (!ids.length) return 0;
    const n = await this.ds.removeAsync({ _id: { $in: ids } }, { multi: true });
    this.addGarbage(n);
    return n;
  }

  /** Wait for a compaction that is running, so a clean shutdown leaves a compact file. */
  async settle(): Promise<void> {
    if (this.compacting) await this.compacting;
  }

  private addGarbage(n: number): void {
    this.garbage += n;
    if (this.compacting || this.garbage < COMPACT_MIN_GARBAGE) return;
    if (this.garbage < this.ds.getAllData().length) return;
    this.garbage = 0;
    this.compacting = this.ds.compactDatafileAsync().finally(() => {
      this.compacting = null;
    });
  }
}
