import { Errors, isFieldflowError } from '../errors';
import type { Collection, Store } from '../store';

/** `<producer>-<seq>`: see docs/mqtt.md, "De-duplication". */
const MESSAGE_ID = /^([A-Za-z0-9_]{1,32})-([1-9][0-9]{0,15})$/;
/** Sequence numbers remembered exactly per producer, above its floor (below which nothing is missing). */
const WINDOW = 1024;
/** Producers remembered per device; the least recently used goes first. */
const MAX_PRODUCERS = 64;

interface Producer {
  /** Every seq at or below this was stored (or is too old to tell, which a resend never is). */
  floor: number;
  /** Stored seqs above the floor, oldest first. */
  seen: Set<number>;
}

type DedupeDoc = { _id: string; producers: Record<string, number> };

export interface MessageKey {
  producer: string;
  seq: number;
}

/** Parse a client message id; a malformed one is refused like a bad payload. */
export function parseMessageId(id: string): MessageKey {
  const m = MESSAGE_ID.exec(id);
  const seq = m ? Number(m[2]) : NaN;
  if (!m || !Number.isSafeInteger(seq)) throw Errors.INVALID_MESSAGE_ID('A message id is <producer>-<seq>: 1-32 letters, digits or _, a dash, and a positive integer');
  return { producer: m[1], seq };
}

/**
 * Remembers which client message ids were stored, per device and producer, so a message resent
 * after a lost PUBACK (the device SDK's offline queue does that) is acknowledged without being
 * stored twice. A message being stored is remembered only once the store succeeded: a resend that
 * arrives meanwhile waits for the first attempt and follows its outcome.
 */
export class MessageDedupe {
  private readonly devices = new Map<string, Map<string, Producer>>();
  private readonly inFlight = new Map<string, Promise<void>>();
  private readonly dirty = new Set<string>();
  /** Devices with a stored document: the collection's replace does not insert. */
  private readonly stored = new Set<string>();
  private collection: Collection<DedupeDoc> | null = null;

  async start(store: Store): Promise<void> {
    this.collection = await store.collection<DedupeDoc>('ingest_dedupe');
    for (const doc of await this.collection.all()) {
      const producers = new Map<string, Producer>();
      for (const [name, floor] of Object.entries(doc.producers)) producers.set(name, { floor, seen: new Set() });
      this.devices.set(doc._id, producers);
      this.stored.add(doc._id);
    }
  }

  /**
   * Store a message once: `store` runs unless the id was stored before (or is being stored now,
   * in which case the result of that attempt is returned).
   */
  once(deviceId: string, key: MessageKey, store: () => Promise<void>): Promise<void> {
    if (this.seen(deviceId, key)) return Promise.resolve();
    const flightKey = `${deviceId}/${key.producer}/${key.seq}`;
    const pending = this.inFlight.get(flightKey);
    if (pending) return pending;
    const attempt = store()
      .then(
        () => this.remember(deviceId, key),
        (err: Error) => {
          // A refusal is final (the device is told nothing and must not resend): as good as stored.
          if (isFieldflowError(err) && err.status < 500) this.remember(deviceId, key);
          throw err;
        },
      )
      .finally(() => this.inFlight.delete(flightKey));
    this.inFlight.set(flightKey, attempt);
    return attempt;
  }

  /** Forget a deleted device. */
  drop(deviceId: string): void {
    if (this.devices.delete(deviceId)) this.dirty.add(deviceId);
  }

  /**
   * Write what changed since the last flush: per producer, the highest seq below which nothing is
   * missing. Not the highest stored: a message that failed to store (and will be resent) may sit
   * below later ones, and after a restart it must not count as seen. Above the mark a resend may be
   * stored twice after a restart; nothing is lost.
   */
  async flush(): Promise<void> {
    if (!this.collection || this.dirty.size === 0) return;
    const ids = [...this.dirty];
    this.dirty.clear();
    for (const id of ids) {
      const producers = this.devices.get(id);
      try {
        if (!producers) {
          if (this.stored.delete(id)) await this.collection.remove(id);
          continue;
        }
        const doc: DedupeDoc = { _id: id, producers: {} };
        for (const [name, p] of producers) doc.producers[name] = contiguous(p);
        if (this.stored.has(id)) await this.collection.replace(doc);
        else {
          await this.collection.insert(doc);
          this.stored.add(id);
        }
      } catch (err) {
        this.dirty.add(id);
        throw err;
      }
    }
  }

  private seen(deviceId: string, key: MessageKey): boolean {
    const p = this.devices.get(deviceId)?.get(key.producer);
    return !!p && (key.seq <= p.floor || p.seen.has(key.seq));
  }

  private remember(deviceId: string, key: MessageKey): void {
    let producers = this.devices.get(deviceId);
    if (!producers) this.devices.set(deviceId, (producers = new Map()));
    let p = producers.get(key.producer);
    if (p) producers.delete(key.producer); // re-inserted below: Map order is recency
    else p = { floor: 0, seen: new Set() };
    producers.set(key.producer, p);
    if (producers.size > MAX_PRODUCERS) producers.delete(producers.keys().next().value!);
    p.seen.add(key.seq);
    if (p.seen.size > WINDOW) {
      // Raise the floor only over a run with no gap: a seq missing below it may still be resent.
      const mark = contiguous(p);
      for (let s = p.floor + 1; s <= mark; s++) p.seen.delete(s);
      p.floor = mark;
      // A gap that never fills (the device dropped that message): forget the oldest; a resend of it
      // would be stored twice, which is better than a message lost.
      if (p.seen.size > WINDOW) p.seen.delete(p.seen.values().next().value!);
    }
    this.dirty.add(deviceId);
  }
}

function contiguous(p: Producer): number {
  let mark = p.floor;
  while (p.seen.has(mark + 1)) mark++;
  return mark;
}
