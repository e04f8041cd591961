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
  private readonly open = new Map<string, { events: NotifyEvent[]; remaining: number; durable: Promise<void> }>();
  private current: { key: string; events: NotifyEvent[]; durable: Promise<void> } | null = null;
  private seq = 0;

  constructor(spacingMs: () => number = () => 0) {
    this.store = new VersionedStore<InboxBatch>('notify_inbox', (b) => ({ ...b }), spacingMs);
  }

  async load(store: Store): Promise<InboxEntry[]> {
    const batches = (await this.store.load(store)).sort((a, b) => (a.key < b.key ? -1 : 1));
    const entries: InboxEntry[] = [];
    for (const b of batches) {
      const events = JSON.parse(b.events) as NotifyEvent[];
      this.open.set(b.key, { events, remaining: events.length, durable: Promise.resolve() });
      for (const ev of events) entries.push({ ev, batch: b.key });
    }
    return entries;
  }

  /** Keep an event; resolves once it is on disk (with the others of this turn). */
  add(ev: NotifyEvent, now: number): { entry: InboxEntry; durable: Promise<void> } {
    if (!this.current) {
      const key = `${String(now).padStart(13, '0')}${(this.seq++).toString(36).padStart(6, '0')}`;
      const events: NotifyEvent[] = [];
      const durable = this.store.save(key, () => (this.open.has(key) ? { key, events: JSON.stringify(this.open.get(key)!.events) } : null));
      this.current = { key, events, durable };
      this.open.set(key, { events, remaining: 0, durable });
      // The batch closes when this turn ends; the write (a microtask later) takes all of it.
      queueMicrotask(() => (this.current = null));
    }
    this.current.events.push(ev);
    this.open.get(this.current.key)!.remaining++;
    return { entry: { ev, batch: this.current.key }, durable: this.current.durable };
  }

  /** An event's deliveries are in the outbox (or it needed none): its batch goes once all its events are done. */
  done(entry: InboxEntry): void {
    const batch = this.open.get(entry.batch);
    if (!batch || --batch.remaining > 0) return;
    this.open.delete(entry.batch);
    // After its write: removing first and writing after would leave the batch on disk for ever.
    void batch.durable
      .catch(() => undefined)
      .then(() => this.store.remove([entry.batch]))
      .catch(() => undefined);
  }

  /** Batches not yet routed: for health and tests. */
  size(): number {
    return this.open.size;
  }

  drain(): Promise<void> {
    return this.store.drain();
  }
}
