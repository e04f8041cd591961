import type { Node, NodeAPI, NodeDef, NodeMessage } from 'node-red';
import type { Platform } from '../../runtime';
import type { Severity } from '../../runtime/alarms/severity';
import { deviceRef } from '../../runtime/devices/registry';
import type { DeliveryEvent } from '../../runtime/events';
import { templateView } from '../../runtime/notify/event';
import type { SendInput } from '../../runtime/notify/service';
import { checkTemplates, renderText } from '../../runtime/notify/templates';
import { deliveryView, type DeliveryView } from '../../runtime/notify/views';
import { platformOf, showError } from '../lib/common';
import { Errors } from '../../runtime/errors';

type Mode = 'endpoints' | 'subscription' | 'event';

interface NotifyDef extends NodeDef {
  mode: Mode;
  /** Endpoint ids (mode endpoints). */
  endpoints: string[];
  /** Subscription id (mode subscription). */
  subscription: string;
  /** Name of the Custom event (mode event); empty: msg.topic. */
  eventName: string;
  /** Mustache templates; empty: the platform's default (or the subscription's). */
  subject: string;
  body: string;
  html: string;
  /** Empty: msg.severity, or none. */
  severity: Severity | '';
}

type Msg = NodeMessage & Record<string, unknown>;

/**
 * Sends a notification for each msg: to endpoints, through a subscription (its endpoints,
 * templates, throttling and quiet hours), or as a Custom event that subscriptions match. The
 * node's status follows what became of the deliveries of the last msg.
 */
export = function register(RED: NodeAPI) {
  function NotifyNode(this: Node, config: NotifyDef) {
    RED.nodes.createNode(this, config);
    const node = this;
    const platform = platformOf(RED);
    const mode: Mode = config.mode || 'endpoints';
    const last = new LastSend(node, mode);
    let sends = 0;

    // A template that does not compile would fail every msg: refuse it at deploy, as the platform would.
    let invalid: Error | null = null;
    try {
      checkTemplates(mode === 'event' ? { body: config.body } : { subject: config.subject, body: config.body, html: config.html }, '');
    } catch (err) {
      invalid = err as Error;
      node.error(invalid.message);
      showError(node, invalid);
    }

    // Delivery events can arrive before send() resolves; LastSend starts from the returned state and takes later changes.
    const unsubscribe = platform.events.on('NotificationDelivery', (event: DeliveryEvent) => last.update(event.delivery));

    node.on('input', (msg, send, done) => {
      const seq = ++sends;
      handle(msg as Msg, seq).then(
        (out) => {
          send(out);
          done();
        },
        (err: Error) => {
          // A later delivery event of an older msg must not hide this error.
          if (seq === sends) last.clear();
          showError(node, err);
          done(err);
        },
      );
    });

    async function handle(msg: Msg, seq: number): Promise<Msg> {
      if (invalid) throw invalid;
      const device = deviceOf(msg);
      const severity = msg.severity ?? (config.severity || undefined);
      if (mode === 'event') {
        // An event is matched and routed later, through the inbox: files have no place there.
        if (msg.attachments != null) throw Errors.INVALID_NOTIFICATION('msg.attachments can only be sent to endpoints or through a subscription, not as an event', { errors: [{ path: '/attachments', message: 'is not allowed in event mode' }] });
        const name = config.eventName || (typeof msg.topic === 'string' ? msg.topic : undefined);
        const id = platform.notify.emitCustom({ name, device, severity, message: eventMessage(platform, config.body, name, device, severity, msg.payload), data: msg.payload });
        if (seq === sends) last.followEvent(id, name!);
        msg.eventId = id;
        return msg;
      }
      // msg.endpoints and/or msg.subscription replace the node's target.
      const fromMsg = msg.endpoints != null || msg.subscription != null;
      const input: SendInput = {
        endpoints: fromMsg ? msg.endpoints : mode === 'endpoints' ? config.endpoints : undefined,
        subscription: fromMsg ? msg.subscription : mode === 'subscription' ? config.subscription : undefined,
        subject: config.subject || undefined,
        body: config.body || undefined,
        html: config.html || undefined,
        data: msg.payload,
        device,
        severity,
        // The name is what a default subject shows: the topic is data, so it goes in as a value, never as a template.
        name: (typeof msg.topic === 'string' && msg.topic) || config.name || undefined,
        attachments: msg.attachments,
      };
      const deliveries = await platform.notify.send(input, 'flow');
      const views = deliveries.map((d) => deliveryView(d));
      if (seq === sends) last.follow(views, !!input.subscription);
      msg.deliveries = views;
      return msg;
    }

    node.on('close', (_removed: boolean, done: () => void) => {
      unsubscribe();
      done();
    });
  }
  RED.nodes.registerType('notify', NotifyNode);
};

/** The device a msg is about: msg.deviceId, msg.device (an id) or msg.device.id (as event nodes set it). */
function deviceOf(msg: Msg): unknown {
  if (typeof msg.deviceId === 'string' && msg.deviceId) return msg.deviceId;
  const d = msg.device;
  if (typeof d === 'object' && d !== null && 'id' in d) return (d as { id: unknown }).id;
  return d ?? undefined;
}

/** The event's message: the body template rendered as a direct send would see it, else a text payload. */
function eventMessage(platform: Platform, body: string, name: string | undefined, device: unknown, severity: unknown, payload: unknown): string | undefined {
  if (!body) return typeof payload === 'string' ? payload : undefined;
  const known = typeof device === 'string' ? platform.devices.get(device) : undefined;
  const now = (platform.options.now ?? Date.now)();
  // Data that is not JSON (a cycle, a BigInt) renders as nothing here: emitCustom() then refuses it with its catalog error.
  let data = payload ?? null;
  try {
    JSON.stringify(data);
  } catch {
    data = null;
  }
  const view = templateView({ id: '', type: 'Custom', ts: now, device: known ? deviceRef(known) : null, severity: (severity as Severity) ?? null, key: name ?? '', name, data });
  return renderText(body, view);
}

const PENDING = new Set(['queued', 'held', 'sending']);

interface Followed {
  status: DeliveryView['status'];
  /** The last attempt failed (a retry is due, or it is dead). */
  failedCode: string | null;
}

/**
 * The status of the deliveries of the last msg: yellow while any waits (queued, retrying, held),
 * then green when all were sent, red when any is dead. Shown only when its text changes, so a
 * delivery's queued-sending-sent steps cost at most one status update each.
 */
class LastSend {
  private readonly followed = new Map<string, Followed>();
  private eventId: string | null = null;
  private eventName = '';
  private viaSubscription = false;
  private shown = '';

  constructor(
    private readonly node: Node,
    private readonly mode: Mode,
  ) {}

  follow(views: DeliveryView[], viaSubscription: boolean): void {
    this.reset();
    this.viaSubscription = viaSubscription;
    for (const v of views) this.followed.set(v.id, summary(v));
    this.show();
  }

  followEvent(id: string, name: string): void {
    this.reset();
    this.eventId = id;
    this.eventName = name;
    this.show();
  }

  clear(): void {
    this.reset();
  }

  update(view: DeliveryView): void {
    if (this.followed.has(view.id) || (this.eventId !== null && view.event.id === this.eventId)) {
      this.followed.set(view.id, summary(view));
      this.show();
    }
  }

  private reset(): void {
    this.followed.clear();
    this.eventId = null;
    this.shown = '';
  }

  private show(): void {
    const status = this.status();
    const key = JSON.stringify(status);
    if (key === this.shown) return;
    this.shown = key;
    this.node.status(status);
  }

  private status(): { fill: 'red' | 'green' | 'yellow' | 'grey'; shape: 'dot' | 'ring'; text: string } {
    const all = [...this.followed.values()];
    if (!all.length) {
      if (this.mode === 'event') return { fill: 'grey', shape: 'dot', text: `event ${this.eventName}`.slice(0, 60) };
      return { fill: 'grey', shape: 'ring', text: this.viaSubscription ? 'not sent: throttled' : 'nothing to send' };
    }
    const of = (n: number) => (all.length > 1 ? ` (${n}/${all.length})` : '');
    const pending = all.filter((f) => PENDING.has(f.status));
    if (pending.length) {
      const retrying = pending.find((f) => f.failedCode);
      const text = retrying ? `retrying: ${retrying.failedCode}` : pending.every((f) => f.status === 'held') ? 'held (quiet hours)' : 'queued';
      return { fill: 'yellow', shape: 'ring', text: text + of(pending.length) };
    }
    const dead = all.filter((f) => f.status === 'dead');
    if (dead.length) return { fill: 'red', shape: 'dot', text: `dead: ${dead.at(-1)!.failedCode ?? 'failed'}${of(dead.length)}` };
    const sent = all.filter((f) => f.status === 'sent');
    if (!sent.length) return { fill: 'grey', shape: 'ring', text: 'cancelled' };
    return { fill: 'green', shape: 'dot', text: 'sent' + of(sent.length) };
  }
}

function summary(v: DeliveryView): Followed {
  const lastAttempt = v.attempts.at(-1);
  // After a resend the last attempt is from the previous round: it is not a failure of this one.
  const failed = lastAttempt && !lastAttempt.ok && (v.status !== 'queued' || v.tries > 0);
  return { status: v.status, failedCode: failed ? lastAttempt.code ?? 'failed' : null };
}
