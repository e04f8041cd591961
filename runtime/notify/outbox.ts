import type { Store } from '../store';
import { VersionedStore } from '../store/versioned';
import { DELIVERY_STATUSES, isFinished, type Delivery, type DeliveryStatus } from './delivery';

export interface DeliveryFilter {
  status?: DeliveryStatus[];
  endpoint?: string;
  subscription?: string;
  /** An event id or an event type. */
  event?: string;
  device?: string;
  /** Created at or after / before, in ms since the epoch. */
  since?: number;
  until?: number;
}

export interface DeliveryPage {
  items: Delivery[];
  /** Pass as `before` for the next (older) page; null on the last page. */
  next: string | null;
}

type DeliveryState = Omit<Delivery, 'message'>;
/** What is written when a delivery is created: its message and its first state, in one document. */
interface StoredMessage {
  key: string;
  message: Delivery['message'];
  initial: DeliveryState;
}

/** A snapshot of a state: the only parts that change after creation are the scalars, the attempts and the progress. */
function copyState(s: DeliveryState): DeliveryState {
  return { ...s, attempts: s.attempts.map((a) => ({ ...a })), ...(s.progress ? { progress: [...s.progress] } : {}) };
}

function stateOf(d: Delivery): DeliveryState {
  const { message: _m, ...state } = d;
  return state;
}

/**
 * The persisted outbox: every delivery, in memory and in two group-committed VersionedStores.
 * A new delivery is written once with its rendered message and first state (`notify_messages`);
 * each later state change is written, small, to `notify_deliveries` before anything acts on it, so
 * a restart resumes exactly where the process stopped. Finished deliveries are kept up to a limit.
 * (Every NeDB document written costs a copy, a serialisation and an index update, and replacing a
 * version costs a removal too: this layout writes a delivery that succeeds at once three times.)
 */
export class Outbox {
  private readonly store: VersionedStore<DeliveryState>;
  private readonly messages: VersionedStore<StoredMessage>;
  private readonly deliveries = new Map<string, Delivery>();
  private finished = 0;
  private pruning = false;

  /** @param spacingMs see VersionedStore: the service spaces writes while ingestion needs the CPU. */
  constructor(
    private readonly maxHistory: number,
    spacingMs: () => number = () => 0,
  ) {
    this.store = new VersionedStore<DeliveryState>('notify_deliveries', copyState, spacingMs, 'notify:outbox');
    this.messages = new VersionedStore<StoredMessage>('notify_messages', (m) => ({ ...m, initial: copyState(m.initial) }), spacingMs, 'notify:outbox-messages');
  }

  /** Load every stored delivery, oldest first. */
  async load(store: Store): Promise<Delivery[]> {
    const states = new Map((await this.store.load(store)).map((s) => [s.key, s]));
    const loaded: Delivery[] = [];
    for (const m of await this.messages.load(store)) {
      loaded.push({ ...(states.get(m.key) ?? m.initial), message: m.message });
      states.delete(m.key);
    }
    // States without a message: a prune removed the message and stopped before the state.
    await this.store.remove([...states.keys()]);
    loaded.sort((a, b) => (a.key < b.key ? -1 : 1));
    for (const d of loaded) {
      this.deliveries.set(d.key, d);
      if (isFinished(d)) this.finished++;
    }
    return loaded;
  }

  get(id: string): Delivery | undefined {
    return this.deliveries.get(id);
  }

  /**
   * Add new deliveries; resolves once they are durable. Returns those that were new: a delivery
   * whose key is already here (an event routed again after a restart) is not added twice.
   */
  async add(all: Delivery[]): Promise<Delivery[]> {
    const seen = new Set<string>();
    const deliveries = all.filter((d) => !this.deliveries.has(d.key) && !seen.has(d.key) && !!seen.add(d.key));
    for (const d of deliveries) this.deliveries.set(d.key, d);
    try {
      await Promise.all(deliveries.map((d) => this.messages.save(d.key, () => (this.deliveries.has(d.key) ? { key: d.key, message: d.message, initial: stateOf(d) } : null))));
    } catch (err) {
      // Not durable, so not queued: take them back (the caller sees the error) rather than leave
      // records that a later retry of the write would store and nobody would send.
      for (const d of deliveries) this.deliveries.delete(d.key);
      throw err;
    }
    return deliveries;
  }

  /** Persist a delivery's current state; resolves once it (or a newer state) is durable. */
  save(d: Delivery): Promise<void> {
    return this.store.save(d.key, () => {
      const current = this.deliveries.get(d.key);
      return current ? stateOf(current) : null;
    });
  }

  /**
   * A sent or cancelled delivery is never sent again: its attachments keep their names and sizes
   * but lose their content, in memory and on disk, so files (a daily report) do not pile up in
   * the history. Dead deliveries keep theirs: they can be resent.
   */
  dropAttachmentContent(d: Delivery): void {
    const files = d.message.attachments;
    if (!files?.some((a) => a.content !== null)) return;
    d.message = { ...d.message, attachments: files.map((a) => ({ ...a, content: null })) };
    // A failed write is retried by the store; until then the content stays on disk, which is harmless.
    void this.messages.save(d.key, () => (this.deliveries.has(d.key) ? { key: d.key, message: d.message, initial: stateOf(d) } : null)).catch(() => undefined);
  }

  /** Call when a delivery reaches a finished state: keeps history within the limit. */
  finishedOne(): void {
    this.finished++;
    if (this.finished > this.maxHistory + Math.max(100, this.maxHistory / 10) && !this.pruning) this.prune().catch(() => undefined);
  }

  /** Call when a finished delivery is resent. */
  reopened(): void {
    this.finished--;
  }

  /** Zero for every status. */
  static emptyCounts(): Record<DeliveryStatus, number> {
    return Object.fromEntries(DELIVERY_STATUSES.map((s) => [s, 0])) as Record<DeliveryStatus, number>;
  }

  /** Deliveries held, by status (finished ones up to the history limit): for metrics. */
  countByStatus(): Record<DeliveryStatus, number> {
    const counts = Outbox.emptyCounts();
    for (const d of this.deliveries.values()) counts[d.status]++;
    return counts;
  }

  list(filter: DeliveryFilter, before: string | null, limit: number): DeliveryPage {
    const items: Delivery[] = [];
    const ids = [...this.deliveries.keys()];
    // Map order is insertion order, which is id order except for loaded-then-added races; sort to be sure.
    ids.sort();
    for (let i = ids.length - 1; i >= 0 && items.length <= limit; i--) {
      if (before !== null && ids[i] >= before) continue;
      const d = this.deliveries.get(ids[i])!;
      if (matches(d, filter)) items.push(d);
    }
    const more = items.length > limit;
    if (more) items.length = limit;
    return { items, next: more ? items[items.length - 1].key : null };
  }

  /** Wait until every save so far is durable. */
  async drain(): Promise<void> {
    await this.messages.drain();
    await this.store.drain();
  }

  /** Forget the oldest finished deliveries beyond the history limit. */
  private async prune(): Promise<void> {
    this.pruning = true;
    try {
      const excess = this.finished - this.maxHistory;
      const drop: string[] = [];
      for (const d of this.deliveries.values()) {
        if (drop.length >= excess) break;
        if (isFinished(d)) drop.push(d.key);
      }
      for (const key of drop) this.deliveries.delete(key);
      this.finished -= drop.length;
      // Messages first: a delivery whose message is gone is gone, while a message left without its
      // state would load as a new, queued delivery and be sent again.
      await this.messages.remove(drop);
      await this.store.remove(drop);
    } finally {
      this.pruning = false;
    }
  }
}

function matches(d: Delivery, f: DeliveryFilter): boolean {
  if (f.status && !f.status.includes(d.status)) return false;
  if (f.endpoint && d.endpoint !== f.endpoint) return false;
  if (f.subscription && d.subscription !== f.subscription) return false;
  if (f.event && d.event.id !== f.event && d.event.type !== f.event) return false;
  if (f.device && d.event.device !== f.device) return false;
  if (f.since !== undefined && d.createdAt < f.since) return false;
  if (f.until !== undefined && d.createdAt >= f.until) return false;
  return true;
}
