import { createHash, randomUUID } from 'node:crypto';
import webpush from 'web-push';
import { Errors } from '../errors';
import type { Collection, Store } from '../store';
import type { EventBus, EventType, PlatformEvent } from '../events';
import type { Logger } from '../log';
import type { AlarmService } from '../alarms/service';
import { isSeverity, type Severity } from '../alarms/severity';
import { deviceRef, type DeviceRegistry } from '../devices/registry';
import type { ChannelService } from '../channels/service';
import { systemClock, type NotifyClock } from './clock';
import { DeliveryIds, recordAttempt, type Delivery, type DeliverySource, type DeliveryStatus } from './delivery';
import { Dispatcher } from './dispatcher';
import { checkAttachments, type StoredAttachment } from './attachments';
import type { EndpointInput } from './endpoint-model';
import { EndpointStore, type CreatedEndpoint, type StoredEndpoint } from './endpoints';
import { Escalations, type EscalationAction } from './escalations';
import { templateView, toNotifyEvent, type NotifyEvent } from './event';
import { Outbox, type DeliveryFilter, type DeliveryPage } from './outbox';
import { quietUntil, Throttle } from './policy';
import { SecretBox } from './secrets';
import { TargetGuard, type Resolver } from './targets';
import { SendGovernor } from './governor';
import { Inbox, type InboxEntry } from './inbox';
import { EmailSender, type SmtpOptions } from './senders/email';
import { PushSender, type VapidKeys } from './senders/push';
import { SmsSender } from './senders/sms';
import { WebhookSender } from './senders/webhook';
import type { Sender } from './senders/types';
import { SubscriptionStore } from './subscriptions';
import { checkSubscription, type NotifyEventType, type Subscription, type SubscriptionInput } from './subscription-model';
import { checkTemplates, DEFAULT_TEMPLATES, render, type Template } from './templates';
import { deliveryView } from './views';

export interface NotifyOptions {
  /** The SMTP server for email endpoints; null: email endpoints cannot be created. */
  smtp: SmtpOptions | null;
  /** Contact for push services in VAPID tokens: a mailto: or https: URL. */
  vapidSubject: string;
  /** Attempts per delivery before it is dead-lettered. */
  maxAttempts: number;
  backoffBaseMs: number;
  backoffMaxMs: number;
  /** Sends in flight per endpoint. */
  concurrency: number;
  /** Sends started per second, at most, while the event loop is busy (ingestion first); 0: no limit. */
  busySendRate: number;
  /** Finished deliveries kept for the deliveries list. */
  maxHistory: number;
  /** Seals endpoint credentials; unset: a key generated into the data directory. */
  credentialSecret?: string;
  /**
   * Addresses and subnets (`127.0.0.1`, `10.0.0.0/8`) that webhooks, SMS gateways and push services
   * may reach although they are loopback, private or link-local; every other such address is refused.
   */
  allowPrivate: string[];
  /** The DNS resolver targets are checked with (dns.lookup); tests give their own answers. */
  resolver?: Resolver;
  /** The pipeline's clock (tests drive it by hand). */
  clock?: NotifyClock;
}

/** What a flow or the REST API sends directly. */
export interface SendInput {
  endpoints?: unknown;
  subscription?: unknown;
  subject?: unknown;
  body?: unknown;
  html?: unknown;
  /** Available to the templates as `data`. */
  data?: unknown;
  device?: unknown;
  severity?: unknown;
  name?: unknown;
  /** Files for email endpoints: `[{filename, content, encoding?, contentType?}]` (see checkAttachments). */
  attachments?: unknown;
}

export interface CustomEventInput {
  name?: unknown;
  device?: unknown;
  severity?: unknown;
  message?: unknown;
  data?: unknown;
}

interface VapidDoc {
  _id: string;
  publicKey: string;
  sealedPrivateKey: string;
  createdAt: number;
}

/** The event bus types behind each event type a subscription can name. */
const BUS_TYPES: Record<NotifyEventType, EventType[]> = {
  AlarmRaised: ['AlarmRaised'],
  AlarmUpdated: ['AlarmUpdated'],
  AlarmAcked: ['AlarmAcked'],
  AlarmCleared: ['AlarmCleared'],
  TriggerFired: ['TriggerFired'],
  DeviceOffline: ['DeviceDisconnect'],
  DeviceOnline: ['DeviceConnect'],
  OtaFailed: ['OtaFailed'],
  Custom: ['Custom'],
};

/** How long an event whose routing failed waits before it is routed again. */
const ROUTE_RETRY_MS = 1000;

/** While ingestion is busy, outbox writes gather changes this long (fewer file appends, less CPU). */
const BUSY_WRITE_SPACING_MS = 25;

/** Events routed per turn of the event loop: a burst of alarms cannot hold up ingestion. */
const ROUTE_BATCH = 500;
const MAX_DATA = 16 * 1024;
const STOP_GRACE_MS = 3000;

/**
 * Notifications: endpoints, subscriptions, and the delivery pipeline (persisted outbox, one lane
 * per endpoint, retries with backoff, dead letters). Platform events are queued and routed off the
 * emitting call, so neither ingestion nor alarm handling waits on matching, rendering or sending.
 */
export class NotifyService {
  private box!: SecretBox;
  private endpointStore!: EndpointStore;
  private subscriptionStore!: SubscriptionStore;
  private outbox!: Outbox;
  private dispatcher!: Dispatcher;
  private escalations!: Escalations;
  private readonly throttle = new Throttle();
  private readonly governor: SendGovernor | null;
  /** How long outbox and inbox writes gather changes: 0 normally, longer while devices need the CPU. */
  private readonly writeSpacing = () => (this.governor?.pressed ? BUSY_WRITE_SPACING_MS : 0);
  private readonly ids = new DeliveryIds();
  private readonly clock: NotifyClock;
  private vapid!: VapidKeys;
  private senders: Partial<Record<string, Sender>> = {};
  /** Event bus listeners by type: emitters skip building events nobody listens to. */
  private readonly listeners = new Map<EventType, () => void>();
  /** Events received before start(): routed once the stores are open. */
  private readonly early: NotifyEvent[] = [];
  /** Matched events on disk in the inbox, waiting to be routed. */
  private readonly pending: InboxEntry[] = [];
  private readonly inbox: Inbox;
  private routing = false;
  private started = false;
  /** Notifications being written to the outbox: stop() waits for them. */
  private readonly queuing = new Set<Promise<unknown>>();

  constructor(
    private readonly deps: {
      options: NotifyOptions;
      dataDir: string | null;
      events: EventBus;
      devices: DeviceRegistry;
      channels: ChannelService;
      alarms: AlarmService;
      log: Logger;
      now: () => number;
    },
  ) {
    this.clock = deps.options.clock ?? systemClock(deps.now);
    this.governor = deps.options.busySendRate > 0 ? new SendGovernor(deps.options.busySendRate, () => deps.channels.appendedCount) : null;
    this.inbox = new Inbox(this.writeSpacing);
    // Listen from construction: events emitted while the platform starts (a trigger hold that ran
    // out while it was down fires at once) wait in the queue until the outbox is open. Once started,
    // only the event types some subscription wants are listened to (syncListeners).
    for (const type of new Set(Object.values(BUS_TYPES).flat())) this.listen(type);
  }

  async start(store: Store): Promise<void> {
    const { options, log } = this.deps;
    this.box = await SecretBox.open(this.deps.dataDir, options.credentialSecret);
    const guard = new TargetGuard(options.allowPrivate, options.resolver);
    this.endpointStore = new EndpointStore({ box: this.box, now: () => this.clock.now(), smtpConfigured: !!options.smtp, guard });
    await this.endpointStore.start(store);
    this.subscriptionStore = new SubscriptionStore({ now: () => this.clock.now(), endpointExists: (id) => this.endpointStore.has(id) });
    await this.subscriptionStore.start(store);
    this.vapid = await this.loadVapid(await store.collection<VapidDoc>('notify_keys'));
    this.senders = {
      webhook: new WebhookSender(() => this.clock.now(), options.concurrency, guard),
      sms: new SmsSender(options.concurrency, guard),
      push: new PushSender(this.vapid, guard),
      ...(options.smtp ? { email: new EmailSender(options.smtp) } : {}),
    };
    this.outbox = new Outbox(options.maxHistory, this.writeSpacing);
    this.dispatcher = new Dispatcher({
      outbox: this.outbox,
      endpoints: this.endpointStore,
      senders: this.senders,
      clock: this.clock,
      log,
      policy: options,
      concurrency: options.concurrency,
      governor: this.governor,
      changed: (d) => this.announce(d),
      stillWanted: (d) => this.stillWanted(d),
    });
    const loaded = await this.outbox.load(store);
    this.escalations = new Escalations({
      clock: this.clock,
      alarm: (id) => this.findAlarm(id),
      subscription: (id) => this.subscriptionStore.find(id),
      act: (sub, alarm, action) => this.escalate(sub, alarm.id, action),
    });
    await this.escalations.load(store);
    this.pending.push(...(await this.inbox.load(store)));
    this.started = true;
    this.governor?.start();
    this.recover(loaded);
    this.syncListeners();
    for (const ev of this.early.splice(0)) this.accept(ev);
    this.scheduleRouting();
  }

  async stop(): Promise<void> {
    if (!this.started) return;
    this.started = false;
    for (const off of this.listeners.values()) off();
    this.listeners.clear();
    // Events not yet routed stay in the inbox (it is on disk) and are routed after the restart;
    // routing them now would start sends that the stop would cut short.
    await this.inbox.drain().catch(() => undefined);
    await Promise.allSettled([...this.queuing]);
    await this.inbox.drain().catch(() => undefined);
    this.governor?.stop();
    await this.dispatcher.stop(STOP_GRACE_MS);
    await this.escalations.stop();
    await this.outbox.drain();
    for (const sender of Object.values(this.senders)) await sender?.close?.();
  }

  // ---- endpoints

  listEndpoints(filter: { type?: string; owner?: string } = {}): StoredEndpoint[] {
    return this.endpointStore.list(filter);
  }

  getEndpoint(id: string): StoredEndpoint {
    return this.endpointStore.get(id);
  }

  createEndpoint(input: EndpointInput, options: { id?: string } = {}): Promise<CreatedEndpoint> {
    return this.endpointStore.create(input, null, options.id);
  }

  /** Check an endpoint's create body and write nothing. */
  checkEndpoint(input: EndpointInput): void {
    this.endpointStore.check(input);
  }

  /**
   * The opened credentials as an update takes them back (a pack puts an endpoint back after a
   * failed deploy); null if they cannot be opened. Never for a view or a log.
   */
  endpointCredentials(id: string): Record<string, unknown> | null {
    return this.endpointStore.credentials(id);
  }

  updateEndpoint(id: string, input: EndpointInput): Promise<StoredEndpoint> {
    return this.endpointStore.update(id, input);
  }

  /** Deleting an endpoint that subscriptions send to is refused; its waiting deliveries are cancelled. */
  async removeEndpoint(id: string): Promise<void> {
    this.endpointStore.get(id);
    const users = this.subscriptionStore.usingEndpoint(id);
    if (users.length) throw Errors.CONFLICT(`Subscriptions send to this endpoint: ${users.map((s) => s.name).join(', ')}; remove it from them first`);
    await this.endpointStore.remove(id);
    for (const d of this.outbox.list({ endpoint: id, status: ['queued', 'held'] }, null, Number.MAX_SAFE_INTEGER).items) {
      this.dispatcher.unschedule(d.key);
      d.status = 'cancelled';
      d.updatedAt = this.clock.now();
      this.outbox.finishedOne();
      void this.outbox.save(d).catch(() => undefined);
      this.announce(d);
    }
  }

  /** Seal a secret with the platform's credential key (flow packs keep their secret parameters this way). */
  sealSecret(value: unknown): string {
    return this.box.seal(value);
  }

  openSecret<T>(sealed: string): T {
    return this.box.open<T>(sealed);
  }

  vapidPublicKey(): string {
    return this.vapid.publicKey;
  }

  subscribePush(owner: string, subscription: unknown, name: unknown, userAgent: string | null): Promise<StoredEndpoint> {
    return this.endpointStore.subscribePush(owner, subscription, name, userAgent);
  }

  /** Send a test notification to one endpoint. */
  async test(id: string, by: string): Promise<Delivery> {
    const endpoint = this.endpointStore.get(id);
    const ev: NotifyEvent = { id: `test:${randomUUID()}`, type: 'Custom', ts: this.clock.now(), device: null, severity: 'info', key: 'test', name: 'test' };
    const message = render({ subject: 'Fieldflow test notification', body: 'This is a test of the endpoint "{{endpoint}}", sent by {{by}} at {{time}}.' }, templateView(ev, { endpoint: endpoint.name, by }));
    const [d] = this.build(ev, [endpoint.id], message, { source: 'test', subscription: null, notBefore: null, data: { test: true } });
    await this.enqueue([d]);
    return d;
  }

  // ---- subscriptions

  listSubscriptions(): Subscription[] {
    return this.subscriptionStore.list();
  }

  getSubscription(id: string): Subscription {
    return this.subscriptionStore.get(id);
  }

  /**
   * Check a subscription's create body and write nothing. `alsoEndpoints` are endpoint ids that
   * do not exist yet but will before the subscription is created (a flow pack's own endpoints).
   */
  checkSubscription(input: SubscriptionInput, alsoEndpoints: ReadonlySet<string> = new Set()): void {
    checkSubscription(input, (id) => alsoEndpoints.has(id) || this.endpointStore.has(id));
  }

  async createSubscription(input: SubscriptionInput, options: { id?: string } = {}): Promise<Subscription> {
    const sub = await this.subscriptionStore.create(input, options.id);
    this.syncListeners();
    return sub;
  }

  async updateSubscription(id: string, input: SubscriptionInput): Promise<Subscription> {
    const sub = await this.subscriptionStore.update(id, input);
    this.throttle.forget(`${id}|`);
    this.syncListeners();
    return sub;
  }

  async removeSubscription(id: string): Promise<void> {
    await this.subscriptionStore.remove(id);
    this.throttle.forget(`${id}|`);
    this.escalations.stopSubscription(id);
    this.syncListeners();
  }

  // ---- deliveries

  listDeliveries(filter: DeliveryFilter, before: string | null, limit: number): DeliveryPage {
    return this.outbox.list(filter, before, limit);
  }

  getDelivery(id: string): Delivery {
    const d = typeof id === 'string' ? this.outbox.get(id) : undefined;
    if (!d) throw Errors.DELIVERY_NOT_FOUND(`No delivery has id ${JSON.stringify(String(id).slice(0, 64))}`);
    return d;
  }

  /** Give a dead-lettered delivery a new round of attempts (same idempotency key). */
  async resend(id: string): Promise<Delivery> {
    const d = this.getDelivery(id);
    if (d.status !== 'dead') throw Errors.CONFLICT(`Only dead-lettered deliveries can be resent; this one is ${d.status}`);
    if (!this.endpointStore.has(d.endpoint)) throw Errors.ENDPOINT_NOT_FOUND(`The endpoint of this delivery (${d.endpoint}) was deleted`);
    const before = { ...d };
    d.status = 'queued';
    d.tries = 0;
    d.notBefore = null;
    d.updatedAt = this.clock.now();
    this.outbox.reopened();
    try {
      await this.outbox.save(d);
    } catch (err) {
      Object.assign(d, before);
      this.outbox.finishedOne();
      void this.outbox.save(d).catch(() => undefined);
      throw err;
    }
    this.announce(d);
    const queued = { ...d, attempts: [...d.attempts] };
    this.dispatcher.schedule(d);
    return queued;
  }

  /** Sends in flight and deliveries waiting: for health checks and tests. */
  pipelineStats(): { waiting: number; inFlight: number; following: number } {
    const s = this.dispatcher.stats();
    return { waiting: s.waiting, inFlight: s.inFlight, following: this.escalations.size() };
  }

  /**
   * For metrics: events matched and waiting to be routed, deliveries not finished (the outbox
   * depth), and deliveries held by status.
   */
  queueStats(): { inbox: number; outboxDepth: number; deliveries: Record<DeliveryStatus, number> } {
    // Scrapes can come before start() has made the outbox.
    const deliveries = this.outbox ? this.outbox.countByStatus() : Outbox.emptyCounts();
    return { inbox: this.pending.length, outboxDepth: deliveries.queued + deliveries.held + deliveries.sending, deliveries };
  }

  // ---- sending from flows and the API

  /**
   * Send a message now to endpoints, or through a subscription (its endpoints, template, throttling
   * and quiet hours). Resolves with the deliveries once they are in the outbox.
   */
  async send(input: SendInput, source: DeliverySource = 'flow'): Promise<Delivery[]> {
    const { sub, endpoints, template, device, severity, name, data, attachments } = this.checkSend(input);
    const ev: NotifyEvent = { id: `${source}:${randomUUID()}`, type: 'Custom', ts: this.clock.now(), device, severity, key: name, name, data };
    if (sub) return this.notify(sub, ev, { template, endpoints, attachments });
    const message = render(template, templateView(ev));
    const deliveries = this.build(ev, endpoints, message, { source, subscription: null, notBefore: null, data: this.eventData(ev), attachments });
    await this.enqueue(deliveries);
    return deliveries;
  }

  /** Announce a custom event (from a flow or the API) for subscriptions to match. */
  emitCustom(input: CustomEventInput): string {
    if (typeof input !== 'object' || input === null) throw Errors.INVALID_NOTIFICATION('An event is a JSON object');
    if (typeof input.name !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$/.test(input.name)) {
      throw Errors.INVALID_NOTIFICATION('/name must be 1-128 letters, digits, _ . : -', { errors: [{ path: '/name', message: 'is required: 1-128 letters, digits, _ . : -' }] });
    }
    const device = this.deviceOf(input.device);
    const severity = this.severityOf(input.severity);
    if (input.message !== undefined && typeof input.message !== 'string') throw Errors.INVALID_NOTIFICATION('/message must be a string', { errors: [{ path: '/message', message: 'must be a string' }] });
    const id = `custom:${randomUUID()}`;
    this.deps.events.emit({ type: 'Custom', id, name: input.name, device, severity, message: (input.message as string | undefined)?.slice(0, 4096) ?? '', data: jsonData(input.data), ts: this.clock.now() });
    return id;
  }

  // ---- routing

  private listen(type: EventType): void {
    if (!this.listeners.has(type)) this.listeners.set(type, this.deps.events.on(type, (event) => this.onEvent(event)));
  }

  /** Listen to exactly the event types enabled subscriptions match (acks and clears too while reminders may run). */
  private syncListeners(): void {
    if (!this.started) return;
    const wanted = new Set<EventType>();
    for (const sub of this.subscriptionStore.list()) {
      if (!sub.enabled) continue;
      for (const type of sub.events) for (const t of BUS_TYPES[type]) wanted.add(t);
      if (sub.reminders || sub.escalation.length) wanted.add('AlarmAcked').add('AlarmCleared');
    }
    if (this.escalations.size()) wanted.add('AlarmAcked').add('AlarmCleared');
    for (const [type, off] of this.listeners) {
      if (!wanted.has(type)) {
        off();
        this.listeners.delete(type);
      }
    }
    for (const type of wanted) this.listen(type);
  }

  private onEvent(event: PlatformEvent): void {
    const ev = toNotifyEvent(event);
    if (!ev) return;
    if (!this.started) this.early.push(ev);
    else this.accept(ev);
  }

  /** A matched event goes to the inbox first; it is routed once it is on disk, in arrival order. */
  private accept(ev: NotifyEvent): void {
    if (ev.type === 'AlarmAcked' || ev.type === 'AlarmCleared') this.escalations.stopAlarm(ev.alarm!.id);
    if (!this.subscriptionStore.matching(ev).length) return;
    const { entry, durable } = this.inbox.add(ev, this.clock.now());
    durable.then(
      () => this.enqueueRoute(entry),
      (err: Error) => {
        this.deps.log.error('notification inbox write failed; routing the event anyway', { event: ev.type, error: err.message });
        this.enqueueRoute(entry);
      },
    );
  }

  private enqueueRoute(entry: InboxEntry): void {
    this.pending.push(entry);
    this.scheduleRouting();
  }

  private scheduleRouting(): void {
    if (this.routing || !this.started || !this.pending.length) return;
    this.routing = true;
    setImmediate(() => this.routePending());
  }

  private routePending(): void {
    if (!this.started) {
      this.routing = false;
      return;
    }
    const budget = this.governor?.available() ?? Infinity;
    if (budget < 1) {
      // Devices are using the CPU: the events wait, on disk, for the next tick of the governor.
      this.governor!.wait(() => this.routePending());
      return;
    }
    this.routeBatch(budget);
    if (this.pending.length) setImmediate(() => this.routePending());
    else this.routing = false;
  }

  /** Route events until about `budget` deliveries were made (at most ROUTE_BATCH events). */
  private routeBatch(budget: number): void {
    let made = 0;
    for (let n = 0; n < ROUTE_BATCH && made < budget && this.pending.length; n++) {
      const entry = this.pending.shift()!;
      const subs = this.subscriptionStore.matching(entry.ev);
      for (const sub of subs) made += sub.endpoints.length;
      const routed = Promise.all(subs.map((sub) => this.notify(sub, entry.ev)));
      // Out of the inbox only once its deliveries are in the outbox. If that failed (a write error),
      // the event is routed again shortly; deliveries it already made are found by their keys.
      this.track(
        routed.then(
          () => this.inbox.done(entry),
          (err) => {
            if (this.started) setTimeout(() => this.enqueueRoute(entry), ROUTE_RETRY_MS).unref();
            throw err;
          },
        ),
        subs[0]?.id ?? '-',
        entry.ev.type,
      );
    }
    this.governor?.spend(made);
  }

  private track(queued: Promise<unknown>, subscription: string, event: string): void {
    const p = queued.catch((err) => this.deps.log.error('notification could not be queued', { subscription, event, error: (err as Error).message }));
    this.queuing.add(p);
    void p.finally(() => this.queuing.delete(p));
  }

  /** One event through one subscription: throttling, templates, quiet hours, then the outbox. */
  private async notify(sub: Subscription, ev: NotifyEvent, override: { template?: Template; endpoints?: string[]; attachments?: StoredAttachment[] } = {}): Promise<Delivery[]> {
    const now = this.clock.now();
    // Followed even when throttled: a second alarm inside the window still escalates if nobody acks it.
    if (ev.type === 'AlarmRaised' && ev.alarm) this.escalations.track(sub, ev.alarm, ev.ts);
    let suppressed = 0;
    let suppressedSince: number | null = null;
    if (sub.throttle) {
      // The event type is part of the key: a burst of raises must not swallow the clear that ends it.
      const decision = this.throttle.check(`${sub.id}|${ev.device?.id ?? '-'}|${ev.type}|${ev.key}`, sub.throttle, now);
      if (!decision.send) return [];
      ({ suppressed, suppressedSince } = decision);
    }
    const template = { ...DEFAULT_TEMPLATES[ev.type], ...sub.template, ...override.template } as Template;
    const view = templateView(ev, { suppressed, suppressedSince: suppressedSince && new Date(suppressedSince).toISOString(), subscription: { id: sub.id, name: sub.name } });
    const message = render(template, view);
    if (suppressed > 0 && !/\{\{\s*[#^]?\s*suppressed/.test(template.body)) {
      const note = `${suppressed} similar notification${suppressed === 1 ? ' was' : 's were'} suppressed since ${view.suppressedSince}.`;
      message.text += `\n\n${note}`;
      message.html = message.html.replace('</body>', `<p><em>${note}</em></p></body>`);
    }
    const notBefore = sub.quietHours ? quietUntil(sub.quietHours, ev.severity, now) : null;
    const deliveries = this.build(ev, override.endpoints ?? sub.endpoints, message, { source: 'subscription', subscription: sub.id, notBefore, data: this.eventData(ev), attachments: override.attachments });
    await this.enqueue(deliveries);
    return deliveries;
  }

  private escalate(sub: Subscription, alarmId: string, action: EscalationAction): void {
    const alarm = this.findAlarm(alarmId)!;
    const device = this.deps.devices.get(alarm.device);
    const ev: NotifyEvent = {
      id: `${alarm.id}:${action.kind}:${action.kind === 'reminder' ? action.n : action.step}`,
      type: 'AlarmRaised',
      alarmId: alarm.id,
      ts: this.clock.now(),
      device: device ? deviceRef(device) : { id: alarm.device, name: alarm.device, labels: {} },
      severity: alarm.severity,
      key: alarm.type,
      message: alarm.message,
    };
    const minutesOpen = Math.round((this.clock.now() - alarm.createdAt) / 60_000);
    const alarmView = { ...alarm, createdAt: new Date(alarm.createdAt).toISOString() };
    const template = { ...DEFAULT_TEMPLATES.AlarmReminder, ...sub.template } as Template;
    const message = render(template, templateView({ ...ev, alarm: alarmView as never }, { minutesOpen, reminder: action.kind === 'reminder' ? action.n : null, escalation: action.kind === 'escalation' ? action.step : null, subscription: { id: sub.id, name: sub.name } }));
    const endpoints = action.kind === 'reminder' ? sub.endpoints : action.endpoints;
    const notBefore = sub.quietHours ? quietUntil(sub.quietHours, ev.severity, ev.ts) : null;
    const deliveries = this.build(ev, endpoints, message, { source: action.kind, subscription: sub.id, notBefore, data: { alarm: alarmView, ...action } });
    this.track(this.enqueue(deliveries), sub.id, action.kind);
  }

  private build(
    ev: NotifyEvent,
    endpointIds: string[],
    message: { subject: string; text: string; html: string },
    o: { source: DeliverySource; subscription: string | null; notBefore: number | null; data: unknown; attachments?: StoredAttachment[] },
  ): Delivery[] {
    const now = this.clock.now();
    const data = JSON.stringify(o.data ?? null);
    const out: Delivery[] = [];
    for (const endpointId of new Set(endpointIds)) {
      const endpoint = this.endpointStore.find(endpointId);
      if (!endpoint) continue;
      // Routed from an event: the key follows from (event, subscription, endpoint), so routing the
      // same event again after a crash finds the deliveries it already made instead of adding copies.
      const key = o.subscription ? derivedKey(ev, o.subscription, endpoint.id) : this.ids.next(now);
      out.push({
        key,
        status: o.notBefore !== null ? 'held' : 'queued',
        endpoint: endpoint.id,
        endpointType: endpoint.type,
        subscription: o.subscription,
        source: o.source,
        event: { id: ev.id, type: ev.type, device: ev.device?.id ?? null, severity: ev.severity, ts: ev.ts, ...(ev.alarmId ? { alarm: ev.alarmId } : {}) },
        // Only email carries files; the other types get the text alone.
        message: { ...message, data, ...(endpoint.type === 'email' && o.attachments?.length ? { attachments: o.attachments.map((a) => ({ ...a })) } : {}) },
        idempotencyKey: key,
        attempts: [],
        tries: 0,
        maxAttempts: this.deps.options.maxAttempts,
        notBefore: o.notBefore,
        createdAt: now,
        updatedAt: now,
        sentAt: null,
      });
    }
    return out;
  }

  private async enqueue(deliveries: Delivery[]): Promise<void> {
    if (!deliveries.length) return;
    for (const d of await this.outbox.add(deliveries)) {
      this.announce(d);
      this.dispatcher.schedule(d);
    }
  }

  /** After a restart: attempts that were in flight are retried (same idempotency key); the rest wait as before. */
  private recover(loaded: Delivery[]): void {
    for (const d of loaded) {
      if (d.status === 'sending') {
        recordAttempt(d, { at: d.updatedAt, durationMs: null, ok: false, code: Errors.UNAVAILABLE.code, error: 'interrupted: the platform stopped during this attempt; retried with the same idempotency key', status: null });
        d.status = 'queued';
        d.notBefore = null;
        void this.outbox.save(d).catch(() => undefined);
      }
      this.dispatcher.schedule(d);
    }
  }

  /** A reminder or escalation is only sent while its alarm is active and unacknowledged (it may have waited out quiet hours or retries). */
  private stillWanted(d: Delivery): boolean {
    if ((d.source !== 'reminder' && d.source !== 'escalation') || !d.event.alarm) return true;
    const alarm = this.findAlarm(d.event.alarm);
    return !!alarm && alarm.status === 'active' && !alarm.acknowledged;
  }

  private announce(d: Delivery): void {
    if (this.deps.events.has('NotificationDelivery')) this.deps.events.emit({ type: 'NotificationDelivery', delivery: deliveryView(d), ts: this.clock.now() });
  }

  private eventData(ev: NotifyEvent): unknown {
    return { alarm: ev.alarm, fire: ev.fire, name: ev.name, message: ev.message, data: ev.data, device: ev.device };
  }

  private findAlarm(id: string) {
    try {
      return this.deps.alarms.get(id);
    } catch {
      return undefined;
    }
  }

  private deviceOf(value: unknown) {
    if (value === undefined || value === null || value === '') return null;
    const device = typeof value === 'string' ? this.deps.devices.get(value) : undefined;
    if (!device) throw Errors.DEVICE_NOT_FOUND(`No device has id ${JSON.stringify(String(value).slice(0, 64))}`);
    return deviceRef(device);
  }

  private severityOf(value: unknown): Severity | null {
    if (value === undefined || value === null) return null;
    if (!isSeverity(value)) throw Errors.INVALID_NOTIFICATION('/severity must be critical, major, minor, warning or info', { errors: [{ path: '/severity', message: 'is not a severity' }] });
    return value;
  }

  private checkSend(input: SendInput) {
    if (typeof input !== 'object' || input === null) throw Errors.INVALID_NOTIFICATION('A notification is a JSON object');
    const sub = input.subscription === undefined || input.subscription === null || input.subscription === '' ? null : this.subscriptionStore.get(input.subscription as string);
    if (sub && !sub.enabled) throw Errors.CONFLICT(`Subscription ${JSON.stringify(sub.name)} is disabled`);
    let endpoints: string[] = [];
    if (input.endpoints !== undefined && input.endpoints !== null) {
      const ids = typeof input.endpoints === 'string' ? [input.endpoints] : input.endpoints;
      if (!Array.isArray(ids) || ids.some((id) => typeof id !== 'string')) throw Errors.INVALID_NOTIFICATION('/endpoints must be a list of endpoint ids', { errors: [{ path: '/endpoints', message: 'must be a list of endpoint ids' }] });
      for (const id of ids as string[]) this.endpointStore.get(id);
      endpoints = ids as string[];
    }
    if (!sub && !endpoints.length) throw Errors.INVALID_NOTIFICATION('Name the endpoints or a subscription to send to', { errors: [{ path: '/endpoints', message: 'or /subscription is required' }] });
    checkTemplates({ subject: input.subject, body: input.body, html: input.html }, '');
    const given: Partial<Template> = {};
    if (input.subject) given.subject = input.subject as string;
    if (input.body) given.body = input.body as string;
    if (input.html) given.html = input.html as string;
    const name = input.name === undefined ? 'notify' : String(input.name).slice(0, 128);
    const base = sub ? { ...DEFAULT_TEMPLATES.Custom, ...sub.template } : { subject: '{{name}}', body: '{{dataText}}' };
    return {
      sub,
      endpoints: endpoints.length ? endpoints : sub?.endpoints ?? [],
      template: { ...base, ...given } as Template,
      device: this.deviceOf(input.device),
      severity: this.severityOf(input.severity),
      name,
      data: jsonData(input.data),
      attachments: checkAttachments(input.attachments),
    };
  }

  private async loadVapid(collection: Collection<VapidDoc>): Promise<VapidKeys> {
    const existing = (await collection.all()).find((d) => d._id === 'vapid');
    if (existing) {
      let privateKey: string;
      try {
        privateKey = this.box.open<string>(existing.sealedPrivateKey);
      } catch {
        throw new Error(
          `Stored notification credentials cannot be opened with ${this.box.source}: they were sealed with another key. ` +
            'Restore the FIELDFLOW_CREDENTIAL_SECRET (or platform/notify.key) they were created with.',
        );
      }
      return { publicKey: existing.publicKey, privateKey, subject: this.deps.options.vapidSubject };
    }
    // First start: these keys identify this platform to push services; browsers subscribe with the public one.
    const keys = webpush.generateVAPIDKeys();
    await collection.insert({ _id: 'vapid', publicKey: keys.publicKey, sealedPrivateKey: this.box.seal(keys.privateKey), createdAt: this.clock.now() });
    return { ...keys, subject: this.deps.options.vapidSubject };
  }
}

function derivedKey(ev: NotifyEvent, subscription: string, endpoint: string): string {
  return `${String(ev.ts).padStart(13, '0')}${createHash('sha256').update(`${ev.id}|${subscription}|${endpoint}`).digest('hex').slice(0, 15)}`;
}

/** Flow and API data as plain JSON within a size limit (templates and webhooks see it). */
function jsonData(value: unknown): unknown {
  if (value === undefined) return null;
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch {
    throw Errors.INVALID_NOTIFICATION('/data must be JSON (no cycles or BigInt)', { errors: [{ path: '/data', message: 'is not JSON' }] });
  }
  if (text === undefined) return null;
  if (text.length > MAX_DATA) throw Errors.INVALID_NOTIFICATION(`/data must be at most ${MAX_DATA} bytes of JSON`, { errors: [{ path: '/data', message: `is over ${MAX_DATA} bytes` }] });
  return JSON.parse(text);
}
