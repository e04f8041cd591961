import fs from 'node:fs';
import path from 'node:path';
import type Datastore from '@seald-io/nedb';
import { openDatastore } from './nedb';
import { GroupCommit } from './group-commit';
import { ID_WIDTH, joinId, padId, splitId } from '../ids/snowflake';
import { StreamColumns } from './columns';
import type { Logger } from '../log';
import { fileError, nodeIo, storageError, type DataFileOptions } from './data-file';
import { createWriteHealth, type WriteHealth } from './write-health';
import { MemoryBudget, type MemoryOptions } from './memory-budget';
import { heapLimitBytes, resolveBudgetBytes, segmentBytes, stringBytes } from './memory-model';
import { fitHistory } from './history-fit';
import { SmallRuns } from './segment-runs';

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
  /** The memory the retained history takes against its budget, for a backend that holds it in memory. */
  readonly memory?: MemoryBudget;
}

/**
 * A segment: the messages of one group-commit write, as one NeDB document, in columns. All ids
 * are one string and all texts another, so a stored message costs a few array slots and no
 * object of its own: memory per message stays low, and the garbage collector's work follows the
 * number of writes, not of messages.
 */
interface SegmentDoc {
  /** The padded id of the segment's first message. */
  _id: string;
  /** The streams the segment holds messages of. */
  s: string[];
  /** Per message: its stream, as an index into `s`. */
  n: number[];
  /** The messages' padded ids, ID_WIDTH characters each. */
  k: string;
  /** The messages' data as JSON texts, one after another. */
  t: string;
  /** Per message: where its text ends in `t`. */
  o: number[];
}

interface Pending {
  stream: string;
  key: string;
  ms: number;
  low: number;
  json: string;
  /** Its place in a segment document, when read from one. */
  pos?: number;
}

interface Segment {
  no: number;
  id: string;
  shard: Shard;
  /** The texts and their end offsets (the document's own, or the same values). */
  t: string;
  o: number[];
  /** Messages stored in the segment document. */
  total: number;
  /** Of those, the ones still in a stream's index. */
  live: number;
  /** Rewrite even if mostly live: it holds messages of a dropped (deleted) stream. */
  purge: boolean;
  /** Its heap bytes by the memory model, worked out once per text (trimming walks every segment). */
  bytes: number;
}

/**
 * A stream's horizon: the id of its newest trimmed message. Trimming changes the index at once
 * but a segment's file line only later (or never, while it stays mostly live), so the horizon is
 * what keeps trimmed messages from coming back when the file is loaded again.
 */
interface HorizonDoc {
  _id: string;
  h: string;
}

const HORIZON_PREFIX = '~';

/** How the log writes its files, and where it reports how the appends go. */
export interface MessageLogWriting {
  files: DataFileOptions;
  writeHealth: WriteHealth;
  /** After each durable group-commit write: how many messages it held and how long it took (metrics). */
  onCommit?: (messages: number, seconds: number) => void;
}

/** A segment whose live messages fall to this share of its stored ones is rewritten. */
const REWRITE_BELOW = 0.5;
const UPKEEP_DELAY_MS = 1000;
/** Dead lines (from rewrites and removals) a shard file may carry before it is rewritten. */
const COMPACT_MIN_GARBAGE = 10_000;

class Shard {
  ds!: Datastore;
  /** Segment documents in the file (NeDB can only count them by building an array of them all). */
  live = 0;
  garbage = 0;
  compacting: Promise<void> | null = null;
  readonly commit: GroupCommit<Pending>;

  constructor(
    private readonly dir: string | null,
    readonly file: string,
    private readonly log: Logger,
    private readonly writing: MessageLogWriting,
    /** The name this shard's appends are reported under in write health. */
    source: string,
    onCommitted: (shard: Shard, doc: SegmentDoc, batch: Pending[]) => void,
  ) {
    const health = writing.writeHealth;
    this.commit = new GroupCommit<Pending>(
      async (batch) => {
        const doc = toSegment(batch);
        const started = performance.now();
        try {
          await this.ds.insertAsync(doc);
        } catch (err) {
          // NeDB puts a document in memory before it writes it: take it out again, so memory
          // does not hold messages the disk does not. (A key clash was refused before that.)
          if (!(err as { errorType?: string }).errorType) await this.ds.removeAsync({ _id: doc._id }, {}).catch(() => undefined);
          const failure = storageError(err);
          health.failed(source, failure);
          throw failure;
        }
        health.ok(source);
        writing.onCommit?.(batch.length, (performance.now() - started) / 1000);
        this.live++;
        onCommitted(this, doc, batch);
      },
      (p) => p.json.length + ID_WIDTH + 8,
    );
  }

  async open(): Promise<void> {
    this.ds = await openDatastore(this.dir, this.file, this.writing.files);
    this.live = this.ds.getAllData().length;
  }

  async remove(id: string): Promise<void> {
    this.live -= await this.ds.removeAsync({ _id: id }, {});
    this.garbage++;
    this.maybeCompact();
  }

  async setHorizon(stream: string, key: string): Promise<void> {
    const _id = HORIZON_PREFIX + stream;
    const replaced = await this.ds.updateAsync({ _id }, { _id, h: key } satisfies HorizonDoc, { upsert: true });
    if (!replaced.upsert) this.garbage++;
  }

  /** Remove segments merged into another; their removal counts as one rewrite toward compaction. */
  async removeMerged(ids: string[]): Promise<void> {
    this.live -= await this.ds.removeAsync({ _id: { $in: ids } }, { multi: true });
    this.garbage++;
    this.maybeCompact();
  }

  async rewrite(doc: SegmentDoc): Promise<void> {
    await this.ds.updateAsync({ _id: doc._id }, doc, {});
    this.garbage++;
    this.maybeCompact();
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

function toSegment(batch: Pending[]): SegmentDoc {
  const streams: string[] = [];
  const slot = new Map<string, number>();
  const n: number[] = [];
  const o: number[] = [];
  let end = 0;
  for (const p of batch) {
    let i = slot.get(p.stream);
    if (i === undefined) {
      i = streams.length;
      slot.set(p.stream, i);
      streams.push(p.stream);
    }
    n.push(i);
    end += p.json.length;
    o.push(end);
  }
  return { _id: batch[0].key, s: streams, n, k: batch.map((p) => p.key).join(''), t: batch.map((p) => p.json).join(''), o };
}

/** The messages of a segment document, one by one. */
function* messagesOf(doc: SegmentDoc): Generator<Pending> {
  for (let i = 0; i < doc.o.length; i++) {
    const key = doc.k.slice(i * ID_WIDTH, (i + 1) * ID_WIDTH);
    const { ms, low } = splitId(key);
    yield { stream: doc.s[doc.n[i]], key, ms, low, json: doc.t.slice(i === 0 ? 0 : doc.o[i - 1], doc.o[i]), pos: i };
  }
}

/**
 * The NeDB message log. Each group-commit write is one NeDB document (a segment) holding every
 * message of the batch, appended to the shard's file in one write. Reads come from an in-memory
 * index per stream (columns of numbers) that points into the segments NeDB already holds.
 *
 * Trimming removes a stream's oldest rows from its index; a segment whose messages are all gone
 * is deleted, and one that is half gone is rewritten with the rest, so memory follows what is
 * retained.
 */
export class NedbMessageLog implements MessageLog {
  private readonly shards: Shard[] = [];
  private readonly index = new Map<string, StreamColumns>();
  private readonly streamShard = new Map<string, number>();
  private readonly segments = new Map<number, Segment>();
  /** Segment numbers are reused: the index stores them in 32 bits, and a process can outlive 2^32 writes. */
  private readonly freeSegmentNos: number[] = [];
  private nextSegmentNo = 1;
  private newest: { ms: number; low: number } | undefined;
  private shardCount: number;
  /** Segments to delete or rewrite, handled one at a time in the background. */
  private readonly upkeep = new Set<Segment>();
  private upkeepRunning: Promise<void> | null = null;
  private upkeepTimer: NodeJS.Timeout | null = null;
  /** Runs of small segments, and those due to be merged (by the upkeep, after its deletions and rewrites). */
  private readonly runs = new SmallRuns<Segment>();
  private readonly merges: Segment[][] = [];
  /** Set by a failed merge (a full disk, say): merging only saves memory, so it is not tried again. */
  private mergesOff = false;
  private closing = false;
  readonly memory: MemoryBudget;

  private readonly writing: MessageLogWriting;

  /**
   * @param dir the directory of the shard files, or null to keep the log in memory (tests).
   * @param shardCount how many files to spread streams over; fixed once data exists.
   * @param writing how files are written (default: node:fs, no fsync) and where failed appends are reported.
   * @param memoryOptions the memory budget; by default a share of the heap limit.
   */
  constructor(
    private readonly dir: string | null,
    shardCount: number,
    private readonly log: Logger,
    writing?: MessageLogWriting,
    private readonly memoryOptions: MemoryOptions = { budgetBytes: resolveBudgetBytes(null), configured: false, trimOnStart: false },
  ) {
    this.shardCount = shardCount;
    this.writing = writing ?? { files: { fsync: 'off', io: nodeIo() }, writeHealth: createWriteHealth(log) };
    this.memory = new MemoryBudget(memoryOptions.budgetBytes, (bytes) => this.oldestCutoff(bytes));
  }

  async open(): Promise<void> {
    this.shardCount = this.settleShardCount();
    if (this.dir !== null) {
      const files = Array.from({ length: this.shardCount }, (_, i) => path.join(this.dir!, `messages-${i}.db`));
      fitHistory(files, { ...this.memoryOptions, heapLimitBytes: heapLimitBytes() }, this.log);
    }
    for (let i = 0; i < this.shardCount; i++) {
      const source = this.shardCount === 1 ? 'messages' : `messages:${i}`;
      const shard = new Shard(this.dir, `messages-${i}.db`, this.log, this.writing, source, (sh, doc, batch) => this.indexSegment(sh, doc, batch));
      const started = Date.now();
      await shard.open();
      this.shards.push(shard);
      let messages = 0;
      const docs = shard.ds.getAllData() as unknown as Array<SegmentDoc | HorizonDoc>;
      const horizons = new Map<string, string>();
      for (const doc of docs) if (doc._id.startsWith(HORIZON_PREFIX)) horizons.set(doc._id.slice(HORIZON_PREFIX.length), (doc as HorizonDoc).h);
      // getAllData walks the _id tree in order: segments in write order, so each stream's ids arrive sorted.
      for (const doc of docs) {
        if (doc._id.startsWith(HORIZON_PREFIX)) continue;
        const segment = doc as SegmentDoc;
        // A merge that stopped before removing the segments it merged leaves their messages twice: keep the first.
        const fresh = [...messagesOf(segment)].filter((m) => !(m.key <= (horizons.get(m.stream) ?? '')) && !this.indexed(m));
        messages += this.indexSegment(shard, segment, fresh, i);
      }
      if (this.dir !== null) this.log.info(`loaded ${shard.file}`, { messages, segments: shard.live, ms: Date.now() - started });
    }
  }

  async close(): Promise<void> {
    this.closing = true;
    await this.flush();
    if (this.upkeepTimer) clearTimeout(this.upkeepTimer);
    this.upkeepTimer = null;
    await this.runUpkeep();
    for (const shard of this.shards) if (shard.compacting) await shard.compacting;
  }

  append(stream: string, id: string, json: string): Promise<void> {
    const { ms, low } = splitId(id);
    return this.shards[this.shardOf(stream)].commit.submit({ stream, key: padId(id), ms, low, json });
  }

  async flush(): Promise<void> {
    for (const shard of this.shards) await shard.commit.flush();
  }

  async read(stream: string, range: LogRange): Promise<LogRecord[]> {
    const cols = this.index.get(stream);
    if (!cols || cols.length === 0 || range.limit <= 0) return [];
    let lo = 0;
    let hi = cols.length;
    if (range.after !== undefined) {
      const a = splitId(range.after);
      lo = cols.upperBound(a.ms, a.low);
    }
    if (range.before !== undefined) {
      const b = splitId(range.before);
      hi = cols.lowerBound(b.ms, b.low);
    }
    if (lo >= hi) return [];
    if (range.order === 'asc') hi = Math.min(hi, lo + range.limit);
    else lo = Math.max(lo, hi - range.limit);
    const records: LogRecord[] = [];
    for (let i = lo; i < hi; i++) {
      const segment = this.segments.get(cols.segAt(i))!;
      const p = cols.posAt(i);
      records.push({ id: joinId(cols.msAt(i), cols.lowAt(i)), json: segment.t.slice(p === 0 ? 0 : segment.o[p - 1], segment.o[p]) });
    }
    return range.order === 'asc' ? records : records.reverse();
  }

  stats(stream: string): StreamStats {
    const cols = this.index.get(stream);
    if (!cols || cols.length === 0) return { count: 0, firstId: undefined, lastId: undefined };
    const last = cols.length - 1;
    return { count: cols.length, firstId: joinId(cols.msAt(0), cols.lowAt(0)), lastId: joinId(cols.msAt(last), cols.lowAt(last)) };
  }

  count(stream: string): number {
    return this.index.get(stream)?.length ?? 0;
  }

  countBefore(stream: string, id: string): number {
    const cols = this.index.get(stream);
    if (!cols) return 0;
    const { ms, low } = splitId(id);
    return cols.lowerBound(ms, low);
  }

  streams(): IterableIterator<string> {
    return this.index.keys();
  }

  async trimOldest(stream: string, n: number): Promise<number> {
    return this.removeOldest(stream, n, false);
  }

  async drop(stream: string): Promise<number> {
    const removed = await this.removeOldest(stream, Infinity, true);
    this.streamShard.delete(stream);
    return removed;
  }

  /**
   * Take a stream's oldest rows out of the index, record the new horizon, and queue the segments
   * that lost messages. `purge` (a deleted stream) has its segments rewritten whatever is left.
   */
  private async removeOldest(stream: string, n: number, purge: boolean): Promise<number> {
    const cols = this.index.get(stream);
    if (!cols || n <= 0) return 0;
    const count = Math.min(n, cols.length);
    const horizon = padId(joinId(cols.msAt(count - 1), cols.lowAt(count - 1)));
    cols.shift(count, (no) => {
      const segment = this.segments.get(no)!;
      if (--segment.live === 0) this.memory.footprint.reclaimableBytes += segment.bytes;
      if (purge) segment.purge = true;
      if (purge || segment.live <= segment.total * REWRITE_BELOW) this.upkeep.add(segment);
    });
    if (cols.length === 0) this.index.delete(stream);
    this.scheduleUpkeep();
    await this.shards[this.shardOf(stream)].setHorizon(stream, horizon);
    return count;
  }

  maxId(): string | undefined {
    return this.newest && joinId(this.newest.ms, this.newest.low);
  }

  /** Add a segment's messages to the index. Returns how many it holds. */
  private indexSegment(shard: Shard, doc: SegmentDoc, messages: Pending[], shardNo?: number): number {
    const no = this.freeSegmentNos.pop() ?? this.nextSegmentNo++;
    const segment: Segment = { no, id: doc._id, shard, t: doc.t, o: doc.o, total: doc.o.length, live: messages.length, purge: false, bytes: costOf(doc.o.length, doc.t) };
    this.segments.set(segment.no, segment);
    const bytes = segment.bytes;
    this.memory.footprint.add(segment.total, bytes);
    if (segment.live === 0) this.memory.footprint.reclaimableBytes += bytes;
    // Messages behind their stream's horizon were trimmed before the file was last loaded.
    if (segment.live <= segment.total * REWRITE_BELOW) this.upkeep.add(segment);
    const due = this.runs.add(shard, segment);
    if (due && !this.mergesOff) {
      this.merges.push(due);
      this.scheduleUpkeep();
    }
    for (let i = 0; i < messages.length; i++) {
      const m = messages[i];
      let cols = this.index.get(m.stream);
      if (!cols) {
        this.index.set(m.stream, (cols = new StreamColumns()));
        if (shardNo !== undefined) this.streamShard.set(m.stream, shardNo);
      }
      // A fresh batch is the document in order; messages read back from a file carry their place.
      cols.push(m.ms, m.low, segment.no, m.pos ?? i);
      if (!this.newest || m.ms > this.newest.ms || (m.ms === this.newest.ms && m.low > this.newest.low)) this.newest = { ms: m.ms, low: m.low };
    }
    return segment.live;
  }

  /**
   * Segments are looked at a moment after trimming starts, not per trim: a retention sweep trims
   * stream after stream, and a segment shared by many streams would otherwise be rewritten again
   * and again on its way to empty.
   */
  private scheduleUpkeep(): void {
    if (this.upkeepTimer || (this.upkeep.size === 0 && this.merges.length === 0)) return;
    this.upkeepTimer = setTimeout(() => {
      this.upkeepTimer = null;
      void this.runUpkeep();
    }, UPKEEP_DELAY_MS);
    this.upkeepTimer.unref();
  }

  /**
   * Delete emptied segments and rewrite half-empty ones, then merge runs of small ones, one at a time, off the
   * caller's path. A closing log leaves the merges: they only save memory, and a restart queues them again.
   */
  private runUpkeep(): Promise<void> {
    this.upkeepRunning ??= (async () => {
      const retry: Segment[] = [];
      try {
        while (this.upkeep.size || (this.merges.length && !this.closing)) {
          if (!this.upkeep.size) {
            await this.merge(this.merges.shift()!);
            continue;
          }
          const segment: Segment = this.upkeep.values().next().value!;
          this.upkeep.delete(segment);
          await this.tidy(segment).catch((err) => {
            this.log.error('message log upkeep failed; will retry', { segment: segment.id, error: (err as Error).message });
            retry.push(segment);
          });
        }
      } finally {
        this.upkeepRunning = null;
        if (retry.length) {
          for (const segment of retry) this.upkeep.add(segment);
          this.scheduleUpkeep();
        }
      }
    })();
    return this.upkeepRunning;
  }

  private async tidy(segment: Segment): Promise<void> {
    if (this.segments.get(segment.no) !== segment) return;
    if (segment.live > 0 && segment.live > segment.total * REWRITE_BELOW && !segment.purge) return;
    const doc = segment.live === 0 ? null : ((await segment.shard.ds.findOneAsync({ _id: segment.id })) as unknown as SegmentDoc | null);
    // Keep the messages still in their stream's index: trims only ever take a stream's oldest rows.
    const kept = doc ? [...messagesOf(doc)].filter((m) => this.rowOf(m) !== -1) : [];
    if (kept.length === 0) {
      await segment.shard.remove(segment.id);
      this.forget(segment);
      return;
    }
    const rewritten = toSegment(kept);
    rewritten._id = segment.id;
    await segment.shard.rewrite(rewritten);
    this.adopt(segment, rewritten, kept);
  }

  /**
   * Point the rows of `kept` at their places in `doc`, the document just written for `segment`, and
   * take its new size. One synchronous step, so a read sees the old layout or the new one.
   */
  private adopt(segment: Segment, doc: SegmentDoc, kept: Pending[]): void {
    let live = 0;
    kept.forEach((m, pos) => {
      const row = this.rowOf(m);
      if (row === -1) return; // trimmed while the document was being written
      this.index.get(m.stream)!.move(row, segment.no, pos);
      live++;
    });
    this.forgetCost(segment);
    segment.t = doc.t;
    segment.o = doc.o;
    segment.total = kept.length;
    segment.live = live;
    segment.purge = false;
    segment.bytes = costOf(segment.total, segment.t);
    const bytes = segment.bytes;
    this.memory.footprint.add(segment.total, bytes);
    if (live === 0) this.memory.footprint.reclaimableBytes += bytes;
    if (live <= segment.total * REWRITE_BELOW) this.upkeep.add(segment);
  }

  /** Drop a segment whose document is gone (or going) from its file. */
  private forget(segment: Segment): void {
    this.segments.delete(segment.no);
    this.freeSegmentNos.push(segment.no);
    this.forgetCost(segment);
  }

  /**
   * Merge a run of small segments of one file into its first: one document holding their live messages, so a
   * message written alone stops costing a segment. The first segment keeps its id, and with it its place in the
   * file and in id order (the run is contiguous in its file). It is written before the others are removed, and
   * loading keeps the first copy of a message, so a crash in between loses nothing and duplicates nothing.
   */
  private async merge(run: Segment[]): Promise<void> {
    const present = run.filter((s) => this.segments.get(s.no) === s && s.live > 0);
    if (present.length < 2 || this.mergesOff) return;
    const [first, ...rest] = present;
    try {
      const docs = (await first.shard.ds.findAsync({ _id: { $in: present.map((s) => s.id) } })) as unknown as SegmentDoc[];
      docs.sort((a, b) => (a._id < b._id ? -1 : 1));
      const kept: Pending[] = [];
      let last = '';
      for (const doc of docs) {
        for (const m of messagesOf(doc)) {
          // Keys rise through a run; a key seen already is a copy left by an interrupted merge.
          if (m.key <= last) continue;
          last = m.key;
          if (this.rowOf(m) !== -1) kept.push(m);
        }
      }
      if (kept.length === 0) return;
      const merged = toSegment(kept);
      merged._id = first.id;
      await first.shard.rewrite(merged);
      this.adopt(first, merged, kept);
      for (const segment of rest) this.forget(segment);
      await first.shard.removeMerged(rest.map((s) => s.id));
    } catch (err) {
      this.mergesOff = true;
      this.merges.length = 0;
      this.log.error('merging small message log writes failed; no more merges until a restart (each message then keeps costing a write)', { error: (err as Error).message });
    }
  }

  /** Whether a stream's index already holds this message or a later one (it is then a copy). */
  private indexed(m: Pending): boolean {
    const cols = this.index.get(m.stream);
    if (!cols || cols.length === 0) return false;
    const last = cols.length - 1;
    return cols.msAt(last) > m.ms || (cols.msAt(last) === m.ms && cols.lowAt(last) >= m.low);
  }

  /** Take a segment that leaves memory (or is replaced) out of the footprint. */
  private forgetCost(segment: Segment): void {
    const bytes = segment.bytes;
    this.memory.footprint.remove(segment.total, bytes);
    if (segment.live === 0) this.memory.footprint.reclaimableBytes -= bytes;
  }

  /**
   * Walk the segments oldest first (the map keeps them in the order they were written or loaded, which is id
   * order within a file) until the live ones hold `bytes`; the id of the next one bounds the messages to trim.
   */
  private oldestCutoff(bytes: number): string | undefined {
    let freed = 0;
    for (const segment of this.segments.values()) {
      if (segment.live === 0) continue;
      if (freed >= bytes) return segment.id;
      freed += segment.bytes;
    }
    const newest = this.maxId();
    return newest === undefined ? undefined : (BigInt(newest) + 1n).toString();
  }

  /** The row of a message in its stream's index, or -1 if it is no longer there. */
  private rowOf(m: Pending): number {
    const cols = this.index.get(m.stream);
    if (!cols) return -1;
    const row = cols.lowerBound(m.ms, m.low);
    return row < cols.length && cols.msAt(row) === m.ms && cols.lowAt(row) === m.low ? row : -1;
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
      const stored = JSON.parse(fs.readFileSync(metaFile, 'utf8')) as { shards: number; format?: number };
      if (stored.format !== FORMAT) {
        throw new Error(`${metaFile}: message log format ${stored.format ?? 1} is not this version's (${FORMAT}); start with an empty data directory`);
      }
      if (stored.shards !== this.shardCount) {
        this.log.warn('message log shard count is fixed by existing data; using the stored count', {
          configured: this.shardCount,
          stored: stored.shards,
        });
      }
      return stored.shards;
    }
    writeFileAtomic(metaFile, JSON.stringify({ shards: this.shardCount, format: FORMAT }) + '\n');
    return this.shardCount;
  }
}

/**
 * Write a small file whole or not at all: a full disk must not leave a truncated meta file, which
 * the next start could not parse.
 */
function writeFileAtomic(file: string, text: string): void {
  const temp = `${file}.tmp`;
  try {
    fs.writeFileSync(temp, text, { mode: 0o600 });
    fs.renameSync(temp, file);
  } catch (err) {
    fs.rmSync(temp, { force: true });
    throw fileError(err, file, 'written');
  }
}

/** A segment's heap bytes by the memory model. */
function costOf(total: number, t: string): number {
  return segmentBytes(total, stringBytes(t));
}

/** The on-disk layout of the message files; bumped when it changes. */
const FORMAT = 3;

function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}
