import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { DeviceClosedError, InvalidArgumentError, QueueIoError } from './errors';
import { lockDir } from './queue-lock';

/** Options of the offline queue. */
export interface QueueOptions {
  /**
   * Directory that holds the queue (`queue.log`, `lock`). Messages in it survive a restart of the
   * process. Without it the queue is kept in memory only, with a new producer id per process.
   */
  dir?: string;
  /** Most messages kept unacknowledged; the oldest unsent one is dropped to make room. Default 10,000. */
  maxMessages?: number;
  /** Most payload bytes kept unacknowledged; the oldest unsent messages are dropped to make room. Default 16 MiB. */
  maxBytes?: number;
  /** fsync each write before the message may be sent (default true). Without it a power cut can lose queued messages. */
  fsync?: boolean;
}

/** A message in the queue. Its `messageId` is what the server de-duplicates on. */
export interface QueuedMessage {
  /** Sequence number, from 1, never reused for this producer. */
  readonly seq: number;
  /** `<producer>-<seq>` */
  readonly messageId: string;
  /** Topic below `devices/{id}/`, without the message id: `channels/<name>` or `tags/<appKey>`. */
  readonly topic: string;
  /** The JSON payload, serialized. */
  readonly payload: string;
}

type State = 'queued' | 'sent' | 'acked' | 'dropped';

interface Entry extends QueuedMessage {
  state: State;
  durable: boolean;
  bytes: number;
}

/** One line of the log. */
type Record =
  | { m: { producer: string; next: number; dropped: number } }
  | { a: number; t: string; p: string }
  | { k: number }
  | { d: number };

const LOG = 'queue.log';
/** Rewrite the log once it holds this many lines that no longer matter (and more than the live ones). */
const COMPACT_AFTER = 2000;

/**
 * The device's store-and-forward queue. Every message gets a sequence number before it is sent;
 * the server de-duplicates on `<producer>-<seq>`, so resending a message whose PUBACK was lost
 * (after a reconnect, or after the process restarted) stores nothing twice.
 *
 * On disk it is an append-only log of JSON lines: a message, an acknowledgement, a drop. A message
 * is handed out for sending only once its line is written (and fsynced, grouped with the other
 * lines of the same tick). The log is rewritten (to a temporary file, then renamed) when it opens
 * and when acknowledged lines pile up. A line torn by a crash can only be the last one; it is ignored,
 * and the message it held was never sent.
 */
export class OfflineQueue {
  private items: Entry[] = [];
  /** items[0..head) are acked or dropped. */
  private head = 0;
  /** items[head..cursor) have been handed out or are acked/dropped; items[cursor] is the next to send. */
  private cursor = 0;
  private count = 0;
  private byteCount = 0;
  private droppedCount = 0;
  private nextSeq: number;
  private garbage = 0;
  private fd: fs.FileHandle | null = null;
  private buffer: string[] = [];
  private waiters: Array<{ resolve: () => void; reject: (err: Error) => void }> = [];
  private needSync = false;
  private flushing = false;
  private scheduled = false;
  private closed = false;
  private failure: Error | null = null;
  private unlock: (() => Promise<void>) | null = null;
  private readonly maxMessages: number;
  private readonly maxBytes: number;
  private readonly fsync: boolean;
  /** Called for each message dropped to make room. */
  onDrop: (message: QueuedMessage) => void = () => undefined;
  /** Called when messages became durable (ready to send). */
  onReady: () => void = () => undefined;

  private constructor(
    /** The producer id of this queue: fixed for its directory. */
    readonly producer: string,
    private readonly dir: string | undefined,
    options: QueueOptions,
    nextSeq: number,
  ) {
    this.maxMessages = options.maxMessages ?? 10_000;
    this.maxBytes = options.maxBytes ?? 16 * 1024 * 1024;
    this.fsync = options.fsync ?? true;
    this.nextSeq = nextSeq;
    if (!(this.maxMessages >= 1) || !(this.maxBytes >= 1)) throw new InvalidArgumentError('maxMessages and maxBytes must be at least 1');
  }

  /** Open (or create) a queue; with a directory, load what a previous process left in it. */
  static async open(options: QueueOptions = {}): Promise<OfflineQueue> {
    if (!options.dir) return new OfflineQueue(randomProducer(), undefined, options, 1);
    const dir = options.dir;
    try {
      await fs.mkdir(dir, { recursive: true });
    } catch (err) {
      throw new QueueIoError(`cannot create the queue directory ${dir}`, err);
    }
    const unlock = await lockDir(dir);
    try {
      const loaded = await load(path.join(dir, LOG));
      const queue = new OfflineQueue(loaded.producer, dir, options, loaded.next);
      queue.droppedCount = loaded.dropped;
      queue.unlock = unlock;
      for (const e of loaded.entries) {
        queue.items.push({ ...e, messageId: `${loaded.producer}-${e.seq}`, state: 'queued', durable: true, bytes: Buffer.byteLength(e.payload) });
        queue.count++;
        queue.byteCount += Buffer.byteLength(e.payload);
      }
      await queue.rewrite();
      return queue;
    } catch (err) {
      await unlock();
      throw err instanceof QueueIoError ? err : new QueueIoError(`cannot open the queue in ${dir}: ${(err as Error).message}`, err);
    }
  }

  /** Messages not yet acknowledged (queued or in flight). */
  get size(): number {
    return this.count;
  }

  /** Payload bytes of the messages not yet acknowledged. */
  get bytes(): number {
    return this.byteCount;
  }

  /** Messages dropped unsent to make room, over the life of the queue directory. */
  get dropped(): number {
    return this.droppedCount;
  }

  /**
   * Queue a message. Oldest unsent messages are dropped first if the bounds are hit. Resolves once
   * the message is on disk (so it may be sent).
   */
  add(topic: string, payload: string): { message: QueuedMessage; written: Promise<void> } {
    if (this.closed) throw new DeviceClosedError('the queue is closed');
    const bytes = Buffer.byteLength(payload);
    if (bytes > this.maxBytes) throw new InvalidArgumentError(`the message has ${bytes} bytes; the queue holds at most ${this.maxBytes}`);
    while (this.count > 0 && (this.count + 1 > this.maxMessages || this.byteCount + bytes > this.maxBytes)) {
      if (!this.dropOldestUnsent()) break;
    }
    const seq = this.nextSeq++;
    const entry: Entry = { seq, messageId: `${this.producer}-${seq}`, topic, payload, state: 'queued', durable: !this.dir, bytes };
    this.items.push(entry);
    this.count++;
    this.byteCount += bytes;
    if (!this.dir) return { message: entry, written: Promise.resolve() };
    const written = this.append({ a: seq, t: topic, p: payload }, true).then(() => {
      entry.durable = true;
    });
    return { message: entry, written };
  }

  /** The next message to send (oldest first), marked as in flight; undefined if none is ready. */
  takeNext(): QueuedMessage | undefined {
    while (this.cursor < this.items.length) {
      const e = this.items[this.cursor];
      if (e.state !== 'queued') {
        this.cursor++;
        continue;
      }
      if (!e.durable) return undefined;
      e.state = 'sent';
      this.cursor++;
      return e;
    }
    return undefined;
  }

  /** The server acknowledged a message: forget it. Returns false if it was not pending. */
  ack(seq: number): boolean {
    const e = this.find(seq);
    if (!e || e.state === 'acked' || e.state === 'dropped') return false;
    e.state = 'acked';
    this.count--;
    this.byteCount -= e.bytes;
    this.garbage += 2;
    this.advanceHead();
    if (this.dir) void this.append({ k: seq }, false).catch(() => undefined);
    return true;
  }

  /** A send failed before its acknowledgement: send it again, in order, with the same id. */
  unsend(seq: number): void {
    const i = this.indexOf(seq);
    if (i < 0 || this.items[i].state !== 'sent') return;
    this.items[i].state = 'queued';
    if (i < this.cursor) this.cursor = i;
  }

  /** Every message that is not acknowledged becomes sendable again (a new connection). */
  unsendAll(): void {
    for (let i = this.head; i < this.items.length; i++) if (this.items[i].state === 'sent') this.items[i].state = 'queued';
    this.cursor = this.head;
  }

  /** Write what is buffered, then release the directory. Unacknowledged messages stay for the next open. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.dir) {
      await new Promise<void>((resolve) => {
        if (this.buffer.length === 0 && !this.flushing) return resolve();
        this.waiters.push({ resolve, reject: () => resolve() });
        this.schedule();
      });
      await this.fd?.close().catch(() => undefined);
      this.fd = null;
    }
    await this.unlock?.();
  }

  private dropOldestUnsent(): boolean {
    for (let i = this.cursor; i < this.items.length; i++) {
      const e = this.items[i];
      if (e.state !== 'queued') continue;
      e.state = 'dropped';
      this.count--;
      this.byteCount -= e.bytes;
      this.droppedCount++;
      this.garbage += 2;
      this.advanceHead();
      if (this.dir) void this.append({ d: e.seq }, false).catch(() => undefined);
      this.onDrop(e);
      return true;
    }
    return false;
  }

  private advanceHead(): void {
    while (this.head < this.items.length && (this.items[this.head].state === 'acked' || this.items[this.head].state === 'dropped')) this.head++;
    if (this.cursor < this.head) this.cursor = this.head;
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.cursor -= this.head;
      this.head = 0;
    }
  }

  private indexOf(seq: number): number {
    let lo = this.head;
    let hi = this.items.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const s = this.items[mid].seq;
      if (s === seq) return mid;
      if (s < seq) lo = mid + 1;
      else hi = mid - 1;
    }
    return -1;
  }

  private find(seq: number): Entry | undefined {
    const i = this.indexOf(seq);
    return i < 0 ? undefined : this.items[i];
  }

  private append(record: Record, durable: boolean): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    this.buffer.push(JSON.stringify(record) + '\n');
    if (durable) this.needSync = true;
    const p = new Promise<void>((resolve, reject) => this.waiters.push({ resolve, reject }));
    this.schedule();
    return p;
  }

  private schedule(): void {
    if (this.scheduled || this.flushing) return;
    this.scheduled = true;
    setImmediate(() => void this.flush());
  }

  /** One write (and one fsync) for everything buffered since the last one: group commit. */
  private async flush(): Promise<void> {
    this.scheduled = false;
    this.flushing = true;
    const lines = this.buffer;
    const waiters = this.waiters;
    const sync = this.needSync && this.fsync;
    this.buffer = [];
    this.waiters = [];
    this.needSync = false;
    try {
      if (this.garbage > COMPACT_AFTER && this.garbage > this.count) {
        // The rewrite holds the in-memory state, which already includes the buffered lines.
        await this.rewrite();
      } else if (lines.length > 0) {
        await writeAll(this.fd!, lines.join(''));
        if (sync) await this.fd!.datasync();
      }
      const ready = lines.some((l) => l.startsWith('{"a"'));
      for (const w of waiters) w.resolve();
      if (ready) this.onReady();
    } catch (err) {
      this.failure = new QueueIoError(`cannot write the queue log in ${this.dir}: ${(err as Error).message}`, err);
      for (const w of waiters) w.reject(this.failure);
    } finally {
      this.flushing = false;
      if (this.buffer.length > 0 || (this.waiters.length > 0 && this.closed)) this.schedule();
    }
  }

  /** Replace the log with the live state: a meta line and the unacknowledged messages. Atomic (write, fsync, rename). */
  private async rewrite(): Promise<void> {
    const file = path.join(this.dir!, LOG);
    const tmp = `${file}.tmp`;
    const lines: string[] = [JSON.stringify({ m: { producer: this.producer, next: this.nextSeq, dropped: this.droppedCount } }) + '\n'];
    // Messages added while the rewrite runs are not in it: only these become durable by it.
    const upto = this.items.length;
    for (let i = this.head; i < upto; i++) {
      const e = this.items[i];
      if (e.state === 'queued' || e.state === 'sent') lines.push(JSON.stringify({ a: e.seq, t: e.topic, p: e.payload }) + '\n');
    }
    await this.fd?.close();
    this.fd = null;
    const h = await fs.open(tmp, 'w');
    try {
      await writeAll(h, lines.join(''));
      if (this.fsync) await h.sync();
    } finally {
      await h.close();
    }
    await fs.rename(tmp, file);
    if (this.fsync) await syncDir(this.dir!);
    this.fd = await fs.open(file, 'a');
    this.garbage = 0;
    for (let i = this.head; i < upto; i++) this.items[i].durable = true;
  }
}

interface Loaded {
  producer: string;
  next: number;
  dropped: number;
  entries: Array<{ seq: number; topic: string; payload: string }>;
}

async function load(file: string): Promise<Loaded> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    // No log: a new producer, so sequence numbers from 1 cannot collide with ones the server saw.
    return { producer: randomProducer(), next: 1, dropped: 0, entries: [] };
  }
  let producer: string | undefined;
  let next = 1;
  let dropped = 0;
  const entries = new Map<number, { seq: number; topic: string; payload: string }>();
  const lines = text.split('\n');
  // A last line without its newline was torn by a crash: its message was never sent.
  if (!text.endsWith('\n')) lines.pop();
  for (const line of lines) {
    if (!line) continue;
    let r: Record;
    try {
      r = JSON.parse(line) as Record;
    } catch {
      continue;
    }
    if ('m' in r && producer === undefined && /^[A-Za-z0-9_]{1,32}$/.test(r.m.producer)) {
      producer = r.m.producer;
      next = Math.max(next, r.m.next);
      dropped = r.m.dropped;
    } else if ('a' in r && typeof r.t === 'string' && typeof r.p === 'string') {
      if (!entries.has(r.a)) entries.set(r.a, { seq: r.a, topic: r.t, payload: r.p });
      next = Math.max(next, r.a + 1);
    } else if ('k' in r) {
      entries.delete(r.k);
    } else if ('d' in r) {
      if (entries.delete(r.d)) dropped++;
    }
  }
  return {
    // Without a readable meta line the old producer's history is unknown: start a new producer.
    producer: producer ?? randomProducer(),
    next,
    dropped,
    entries: [...entries.values()].sort((a, b) => a.seq - b.seq),
  };
}

async function syncDir(dir: string): Promise<void> {
  const h = await fs.open(dir, 'r');
  try {
    await h.sync();
  } catch {
    // Some filesystems cannot fsync a directory; the rename is still atomic.
  } finally {
    await h.close();
  }
}

/** 16 hex digits: within the server's producer rule (1-32 of [A-Za-z0-9_]). */
function randomProducer(): string {
  return randomBytes(8).toString('hex');
}

/** A write can be short (a nearly full disk): write the rest, or fail; a torn line would cost a message. */
async function writeAll(fd: fs.FileHandle, text: string): Promise<void> {
  let buf = Buffer.from(text);
  while (buf.length > 0) {
    const { bytesWritten } = await fd.write(buf, 0, buf.length);
    if (bytesWritten <= 0) throw new Error('the queue log write made no progress');
    buf = buf.subarray(bytesWritten);
  }
}
