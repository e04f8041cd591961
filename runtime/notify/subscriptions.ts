import { randomUUID } from 'node:crypto';
import { Errors } from '../errors';
import type { Collection, Store } from '../store';
import { matchesSelector, parseSelector, type Selector } from '../devices/selector';
import { checkSubscription, type Subscription, type SubscriptionInput } from './subscription-model';
import type { NotifyEvent } from './event';

type SubscriptionDoc = Omit<Subscription, 'id'> & { _id: string };

/** Stored subscriptions, with their label selectors parsed once. */
export class SubscriptionStore {
  private readonly subscriptions = new Map<string, { sub: Subscription; selector: Selector }>();
  private collection!: Collection<SubscriptionDoc>;

  constructor(private readonly deps: { now: () => number; endpointExists: (id: string) => boolean }) {}

  async start(store: Store): Promise<void> {
    this.collection = await store.collection<SubscriptionDoc>('notify_subscriptions');
    for (const { _id, ...doc } of await this.collection.all()) this.keep({ id: _id, ...doc });
  }

  list(): Subscription[] {
    return [...this.subscriptions.values()].map((s) => s.sub);
  }

  get(id: string): Subscription {
    const entry = typeof id === 'string' ? this.subscriptions.get(id) : undefined;
    if (!entry) throw Errors.SUBSCRIPTION_NOT_FOUND(`No notification subscription has id ${JSON.stringify(String(id).slice(0, 64))}`);
    return entry.sub;
  }

  find(id: string): Subscription | undefined {
    return this.subscriptions.get(id)?.sub;
  }

  /** The enabled subscriptions an event matches. */
  matching(ev: NotifyEvent): Subscription[] {
    const out: Subscription[] = [];
    for (const { sub, selector } of this.subscriptions.values()) {
      if (sub.enabled && matches(sub, selector, ev)) out.push(sub);
    }
    return out;
  }

  /** Subscriptions that send to an endpoint (directly or in an escalation step). */
  usingEndpoint(id: string): Subscription[] {
    return this.list().filter((s) => s.endpoints.includes(id) || s.escalation.some((step) => step.endpoints.includes(id)));
  }

  /** `id` is given by flow packs, whose resources keep the same id in every version; otherwise a new UUID. */
  async create(input: SubscriptionInput, id: string = randomUUID()): Promise<Subscription> {
    if (this.subscriptions.has(id)) throw Errors.CONFLICT(`A subscription with id ${id} exists`);
    const now = this.deps.now();
    const sub: Subscription = { id, ...checkSubscription(input, this.deps.endpointExists), createdAt: now, updatedAt: now };
    await this.collection.insert(toDoc(sub));
    this.keep(sub);
    return sub;
  }

  async update(id: string, input: SubscriptionInput): Promise<Subscription> {
    const existing = this.get(id);
    if (typeof input !== 'object' || input === null || Array.isArray(input)) throw Errors.INVALID_SUBSCRIPTION('A subscription is a JSON object');
    const { id: _i, createdAt: _c, updatedAt: _u, ...rest } = existing;
    const sub: Subscription = { id, ...checkSubscription({ ...rest, ...input }, this.deps.endpointExists), createdAt: existing.createdAt, updatedAt: this.deps.now() };
    await this.collection.replace(toDoc(sub));
    if (!this.subscriptions.has(id)) throw Errors.SUBSCRIPTION_NOT_FOUND(`Subscription ${id} was deleted while it was being changed`);
    this.keep(sub);
    return sub;
  }

  async remove(id: string): Promise<void> {
    this.get(id);
    await this.collection.remove(id);
    this.subscriptions.delete(id);
  }

  private keep(sub: Subscription): void {
    let selector: Selector = [];
    try {
      selector = parseSelector(sub.selector);
    } catch {
      // Checked when saved; a stored one that no longer parses matches no device rather than every one.
      selector = [{ op: 'exists', key: '\u0000' }];
    }
    this.subscriptions.set(sub.id, { sub, selector });
  }
}

function matches(sub: Subscription, selector: Selector, ev: NotifyEvent): boolean {
  if (!sub.events.includes(ev.type)) return false;
  if (sub.devices.length && (!ev.device || !sub.devices.includes(ev.device.id))) return false;
  if (selector.length && (!ev.device || !matchesSelector(ev.device.labels, selector))) return false;
  if (sub.severities.length && (!ev.severity || !sub.severities.includes(ev.severity))) return false;
  if (sub.alarmTypes.length && (!ev.alarm || !sub.alarmTypes.includes(ev.alarm.type))) return false;
  if (sub.customNames.length && ev.type === 'Custom' && !sub.customNames.includes(ev.name ?? '')) return false;
  return true;
}

function toDoc(s: Subscription): SubscriptionDoc {
  const { id, ...rest } = s;
  return { _id: id, ...rest };
}
