import fs from 'node:fs';
import path from 'node:path';
import type Datastore from '@seald-io/nedb';
import { openDatastore } from './nedb';
import { GroupCommit } from './group-commit';
import { NEDB_CHUNK } from './collection';
import { padId, unpadId } from '../ids/snowflake';
import type { Logger } from '../log';

/** One stored message as the log returns it. `json` is the data as JSON text. */
export interface LogRecord {
  id: string;
  json: string;
}

export interface LogRange {
  /** Exclusive lower bound: an id. */
  after?: string;
  /** Exclusive upper bound: an id. */
  before?: string;
  limit: number;
  order: 'asc' | 'desc';
}

export interface StreamStats {
  count: number;
  firstId: string | undefined;
  lastId: string | undefined;
}

/**
 * The append-only message log, keyed by stream ("<device id>/<channel>") and snowflake id.
 * `append` resolves only once the message is in the data file; concurrent appends share a write.
 */
export interface MessageLog {
  open(): Promise<void>;
  close(): Promise<void>;
  append(stream: string, id: string, json: string): Promise<void>;
  /** Resolves once every append submitted so far has been written or has failed. */
  flush(): Promise<void>;
  read(stream: string, range: LogRange): Promise<LogRecord[]>;
  stats(stream: string): StreamStats;
  /** The stream's message count (cheap: called per message). */
  count(stream: string): number;
  /** How many of the stream's messages have ids below `id`. */
  countBefore(stream: string, id: string): number;
  streams(): IterableIterator<string>;
  /** Remove the stream's `n` oldest messages. */
  trimOldest(stream: string, n: number): Promise<number>;
  drop(stream: string): Promise<number>;
  /** The newest id in the whole log, so an id generator can start past it after a restart. */
  maxId(): string | undefined;
}

/** A document as NeDB stores it. `_id` is "<stream>|<padded id>", so a stream's ids are one key range. */
interface MessageDoc {
  _id: string;
  d: string;
}

const SEP = '|';
/** Dead lines (from trimming) a shard may carry before it is rewritten. */
const COMPACT_MIN_GARBAGE = 50_000;

class Shard {
  ds!: Datastore;
  /** Documents in the shard (kept here: NeDB can only count by building an array of them all). */
  live = 0;
  garbage = 0;
  compacting: Promise<void> | null = null;
  readonly commit: GroupCommit<MessageDoc>;

  constructor(
    private readonly dir: string | null,
    readonly file: string,
    private readonly log: Logger,
    onCommitted: (docs: MessageDoc[]) => void,
  ) {
    this.commit = new GroupCommit<MessageDoc>(
      async (docs) => {
        try {
          await this.ds.insertAsync(docs);
        } catch (err) {
          await this.forget(docs);
          throw err;
        }
        this.live += docs.length;
        onCommitted(docs);
      },
      (doc) => doc._id.length + doc.d.length,
    );
  }

  async open(): Promise<void> {
    this.ds = await openDatastore(this.dir, this.file);
    this.live = this.ds.getAllData().length;
  }

  /** Remove a key range of one stream, in chunks NeDB can handle. Returns how many went. */
  async removeKeys(keys: string[]): Promise<number> {
    let removed = 0;
    for (let i = 0; i < keys.length; i += NEDB_CHUNK) {
      const chunk = keys.slice(i, i + NEDB_CHUNK);
      const n = await this.ds.removeAsync({ _id: { $gte: chunk[0], $lte: chunk[chunk.length - 1] } }, { multi: true });
      removed += n;
      this.live -= n;
      this.garbage += n;
    }
    this.maybeCompact();
    return removed;
  }

  /**
   * NeDB puts a batch in memory before it writes it; if the write fails, take the batch out
   * again so memory does not hold messages the disk does not. A batch is the newest part of each
   * of its streams, so one key range per stream covers it.
   */
  private async forget(docs: MessageDoc[]): Promise<void> {
    const ranges = new Map<string, [string, string]>();
    for (const doc of docs) {
      const stream = doc._id.slice(0, doc._id.lastIndexOf(SEP));
      const r = ranges.get(stream);
      if (!r) ranges.set(stream, [doc._id, doc._id]);
      else r[1] = doc._id;
    }
    for (const [lo, hi] of ranges.values()) {
      await this.ds.removeAsync({ _id: { $gte: lo, $lte: hi } }, { multi: true }).catch(() => undefined);
    }
  }

  private maybeCompact(): void {
    if (this.compacting || this.garbage < COMPACT_MIN_GARBAGE || this.garbage < this.live) return;
    this.garbage = 0;
    this.compacting = this.ds
      .compactDatafileAsync()
      .catch((err) => this.log.error('message log compaction failed; the file keeps its dead lines', { file: this.file, error: (err as Error).message }))
      .finally(() => {
        this.compacting = null;
      });
  }
}

/**
 * The NeDB message log. Messages are spread over a few shards (one NeDB file each) by stream, so
 * that a shard's compaction, which rewrites its whole file, stalls only part of the traffic.
 *
 * NeDB keeps every document in memory; on top of that this class keeps, per stream, the sorted
 * array of its keys, so paging is a binary search and a key-range read instead of a scan.
 */
export class NedbMessageLog implements MessageLog {
  private readonly shards: Shard[] = [];
  private readonly index = new Map<string, string[]>();
  private readonly streamShard = new Map<string, number>();
  private newest: string | undefined;
  private shardCount: number;

  /**
   * @param dir the directory of the shard files, or null to keep the log in memory (tests).
   * @param shardCount how many files to spread streams over; fixed once data exists.
   */
  constructor(
    private readonly dir: string | null,
    shardCount: number,
    private readonly log: Logger,
  ) {
    this.shardCount = shardCount;
  }

  async open(): Promise<void> {
    this.shardCount = this.settleShardCount();
    for (let i = 0; i < this.shardCount; i++) {
      const shard = new Shard(this.dir, `messages-${i}.db`, this.log, (docs) => this.indexCommitted(docs));
      const started = Date.now();
      await shard.open();
      this.shards.push(shard);
      const n = this.indexShard(shard, i);
      if (this.dir !== null) {
        this.log.info(`loaded ${shard.file}`, { messages: n, ms: Date.now() - started });
      }
    }
  }

  async close(): Promise<void> {
    await this.flush();
    for (const shard of this.shards) if (shard.compacting) await shard.compacting;
  }

  append(stream: string, id: string, json: string): Promise<void> {
    return this.shards[this.shardOf(stream)].commit.submit({ _id: stream + SEP + padId(id), d: json });
  }

  async flush(): Promise<void> {
    for (const shard of this.shards) await shard.commit.flush();
  }

  async read(stream: string, range: LogRange): Promise<LogRecord[]> {
    const keys = this.index.get(stream);
    if (!keys || keys.length === 0 || range.limit <= 0) return [];
    const prefix = stream + SEP;
    let lo = range.after === undefined ? 0 : upperBound(keys, prefix + padId(range.after));
    let hi = range.before === undefined ? keys.length : lowerBound(keys, prefix + padId(range.before));
    if (lo >= hi) return [];
    if (range.order === 'asc') hi = Math.min(hi, lo + range.limit);
    else lo = Math.max(lo, hi - range.limit);
    const docs = (await this.shards[this.shardOf(stream)].ds.findAsync({
      _id: { $gte: keys[lo], $lte: keys[hi - 1] },
    })) as unknown as MessageDoc[];
    // NeDB returns a key range in key order; a trim that ran meanwhile can only make it shorter.
    const records = docs.map((doc) => ({ id: unpadId(doc._id.slice(prefix.length)), json: doc.d }));
    return range.order === 'asc' ? records : records.reverse();
  }

  stats(stream: string): StreamStats {
    const keys = this.index.get(stream);
    if (!keys || keys.length === 0) return { count: 0, firstId: undefined, lastId: undefined };
    const cut = stream.length + 1;
    return {
      count: keys.length,
      firstId: unpadId(keys[0].slice(cut)),
      lastId: unpadId(keys[keys.length - 1].slice(cut)),
    };
  }

  count(stream: string): number {
    return this.index.get(stream)?.length ?? 0;
  }

  countBefore(stream: string, id: string): number {
    const keys = this.index.get(stream);
    return keys ? lowerBound(keys, stream + SEP + padId(id)) : 0;
  }

  streams(): IterableIterator<string> {
    return this.index.keys();
  }

  async trimOldest(stream: string, n: number): Promise<number> {
    const keys = this.index.get(stream);
    if (!keys || n <= 0) return 0;
    // Out of the index first, so readers stop asking for messages that are on their way out.
    const doomed = keys.splice(0, Math.min(n, keys.length));
    if (keys.length === 0) this.index.delete(stream);
    return this.shards[this.shardOf(stream)].removeKeys(doomed);
  }

  async drop(stream: string): Promise<number> {
    let removed = 0;
    // Chunk by chunk, so a failure leaves the index describing exactly what is still stored.
    for (;;) {
      const keys = this.index.get(stream);
      if (!keys || keys.length === 0) break;
      removed += await this.trimOldest(stream, NEDB_CHUNK);
    }
    this.index.delete(stream);
    this.streamShard.delete(stream);
    return removed;
  }

  maxId(): string | undefined {
    return this.newest;
  }

  private indexCommitted(docs: MessageDoc[]): void {
    for (const doc of docs) {
      const stream = doc._id.slice(0, doc._id.lastIndexOf(SEP));
      let keys = this.index.get(stream);
      if (!keys) this.index.set(stream, (keys = []));
      keys.push(doc._id);
    }
    this.noteNewest(docs[docs.length - 1]._id);
  }

  private indexShard(shard: Shard, shardNo: number): number {
    // NeDB's getAllData walks the _id tree in order, so each stream's keys arrive sorted.
    const docs = shard.ds.getAllData() as unknown as MessageDoc[];
    for (const doc of docs) {
      const stream = doc._id.slice(0, doc._id.lastIndexOf(SEP));
      let keys = this.index.get(stream);
      if (!keys) {
        this.index.set(stream, (keys = []));
        this.streamShard.set(stream, shardNo);
      }
      keys.push(doc._id);
      this.noteNewest(doc._id);
    }
    return docs.length;
  }

  private noteNewest(key: string): void {
    const id = unpadId(key.slice(key.lastIndexOf(SEP) + 1));
    if (this.newest === undefined || padId(id) > padId(this.newest)) this.newest = id;
  }

  private shardOf(stream: string): number {
    let shard = this.streamShard.get(stream);
    if (shard === undefined) {
      shard = fnv1a(stream) % this.shardCount;
      this.streamShard.set(stream, shard);
    }
    return shard;
  }

  /**
   * A stream's shard is a hash of its name modulo the shard count, so the count must not change
   * under existing data. It is recorded next to the files; a different configured count is
   * reported and ignored.
   */
  private settleShardCount(): number {
    if (this.dir === null) return this.shardCount;
    fs.mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const metaFile = path.join(this.dir, 'messages.meta.json');
    if (fs.existsSync(metaFile)) {
      const stored = JSON.parse(fs.readFileSync(metaFile, 'utf8')) as { shards: number };
      if (stored.shards !== this.shardCount) {
        this.log.warn('message log shard count is fixed by existing data; using the stored count', {
          configured: this.shardCount,
          stored: stored.shards,
        });
      }
      return stored.shards;
    }
    fs.writeFileSync(metaFile, JSON.stringify({ shards: this.shardCount }) + '\n', { mode: 0o600 });
    return this.shardCount;
  }
}

/** First index whose key is >= `key`. */
export function lowerBound(keys: string[], key: string): number {
  let lo = 0;
  let hi = keys.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (keys[mid] < key) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** First index whose key is > `key`. */
export function upperBound(keys: string[], key: string): number {
  let lo = 0;
  let hi = keys.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (keys[mid] <= key) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}
