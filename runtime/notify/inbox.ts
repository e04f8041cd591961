import { randomBytes } from 'node:crypto';
import type { Store } from '../store';
import { VersionedStore } from '../store/versioned';
import type { NotifyEvent } from './event';

/** Events received in one turn of the event loop, written as one document. */
interface InboxBatch {
  key: string;
  /** JSON text of the events (NeDB refuses keys with '.' or '$', which event data may have). */
  events: string;
}

export interface InboxEntry {
  ev: NotifyEvent;
  batch: string;
}

/**
 * Events that subscriptions matched, kept on disk until their deliveries are in the outbox. The
 * events of one turn of the event loop go into one document (one append for a burst of alarms),
 * and a document is removed once all its events are routed. Routing may wait (sends are paced
 * while devices need the CPU), so without this a crash would lose what waits; with it, a restart
 * routes them again, and delivery keys derived from (event, subscription, endpoint) keep that
 * from sending anything twice.
 */
export class Inbox {
  private readonly store: VersionedStore<InboxBatch>;
  private readonly open = new Map<string, { events: NotifyEvent[]; remaining: number; routed: Set<NotifyEvent>; durable: Promise<void> }>();
  private current: { key: string; events: NotifyEvent[]; durable: Promise<void> } | null = null;
  private seq = 0;
  /** Per process, so a batch key made after a restart (or a clock step) cannot equal one on disk. */
  private readonly suffix = randomBytes(3).toString('hex');

  constructor(spacingMs: () => number = () => 0) {
    this.store = new VersionedStore<InboxBatch>('notify_inbox', (b) => ({ ...b }), spacingMs, 'notify:inbox');
  }

  async load(store: Store): Promise<InboxEntry[]> {
    const batches = (await this.store.load(store)).sort((a, b) => (a.key < b.key ? -1 : 1));
    const entries: InboxEntry[] = [];
    for (const b of batches) {
      const events = JSON.parse(b.events) as NotifyEvent[];
      this.open.set(b.key, { events, remaining: events.length, routed: new Set(), durable: Promise.resolve() });
      for (const ev of events) entries.push({ ev, batch: b.key });
    }
    return entries;
  }

  /** Keep an event; resolves once it is on disk (with the others of this turn). */
  add(ev: NotifyEvent, now: number): { entry: InboxEntry; durable: Promise<void> } {
    if (!this.current) {
      const key = `${String(now).padStart(13, '0')}${(this.seq++).toString(36).padStart(6, '0')}${this.suffix}`;
      const events: NotifyEvent[] = [];
      const durable = this.save(key);
      this.current = { key, events, durable };
      this.open.set(key, { events, remaining: 0, routed: new Set(), durable });
      // The batch closes when this turn ends; the write (a microtask later) takes all of it.
      queueMicrotask(() => (this.current = null));
    }
    this.current.events.push(ev);
    this.open.get(this.current.key)!.remaining++;
    return { entry: { ev, batch: this.current.key }, durable: this.current.durable };
  }

  /**
   * An event's deliveries are in the outbox (or it needed none). The batch is rewritten without it
   * (so a restart routes only what is left, never relying on the outbox to remember old deliveries),
   * and goes once all its events are done.
   */
  done(entry: InboxEntry): void {
    const batch = this.open.get(entry.batch);
    if (!batch) return;
    batch.routed.add(entry.ev);
    if (--batch.remaining > 0) {
      this.save(entry.batch).catch(() => undefined);
      return;
    }
    this.open.delete(entry.batch);
    // After its write: removing first and writing after would leave the batch on disk for ever.
    void batch.durable
      .catch(() => undefined)
      .then(() => this.store.remove([entry.batch]))
      .catch(() => undefined);
  }

  private save(key: string): Promise<void> {
    return this.store.save(key, () => {
      const batch = this.open.get(key);
      return batch ? { key, events: JSON.stringify(batch.events.filter((ev) => !batch.routed.has(ev))) } : null;
    });
  }

  /** Batches not yet routed: for health and tests. */
  size(): number {
    return this.open.size;
  }

  drain(): Promise<void> {
    return this.store.drain();
  }
}
