import https from 'node:https';
import webpush, { WebPushError } from 'web-push';
import { SendFailure, httpFailure, networkFailure, type SendRequest, type SendResult, type Sender } from './types';
import { forbidden } from './http-post';
import { Errors } from '../../errors';
import { ForbiddenTargetError, type TargetGuard } from '../targets';

export interface VapidKeys {
  publicKey: string;
  privateKey: string;
  /** A mailto: or https: contact for push services (RFC 8292). */
  subject: string;
}

/** Push services accept at least 4096 bytes of encrypted payload; leave room for the encryption. */
const MAX_PAYLOAD = 3000;
const TIMEOUT_MS = 15_000;

/** The JSON the service worker receives (editor/notify/sw.js shows it). */
export function pushPayload(request: SendRequest): string {
  const { message, event, key } = request.delivery;
  const body = message.text.length > 1000 ? `${message.text.slice(0, 999)}…` : message.text;
  const payload = { title: message.subject || 'Fieldflow', body, tag: event.id, url: '/', delivery: key };
  const text = JSON.stringify(payload);
  return text.length > MAX_PAYLOAD ? JSON.stringify({ ...payload, body: body.slice(0, 200) }) : text;
}

/** Web push (RFC 8030 delivery, RFC 8291 encryption, RFC 8292 VAPID) with the web-push library. */
export class PushSender implements Sender {
  /** Connections to push services go through the target guard, as webhooks do. */
  private readonly agent: https.Agent;

  constructor(
    private readonly vapid: VapidKeys,
    private readonly guard: TargetGuard,
  ) {
    this.agent = new https.Agent({ keepAlive: true, lookup: guard.lookup });
  }

  async send(request: SendRequest): Promise<SendResult> {
    const subscription = request.secrets.subscription;
    if (!subscription) throw new SendFailure(Errors.MISSING_CREDENTIALS, 'the push endpoint has no subscription', false);
    const literal = this.guard.literalRefusal(new URL(subscription.endpoint));
    if (literal) throw forbidden('the push service', literal);
    try {
      const res = await webpush.sendNotification(subscription, pushPayload(request), {
        agent: this.agent,
        vapidDetails: this.vapid,
        TTL: 24 * 3600,
        urgency: request.delivery.event.severity === 'critical' || request.delivery.event.severity === 'major' ? 'high' : 'normal',
        timeout: TIMEOUT_MS,
      });
      return { status: res.statusCode, info: null };
    } catch (err) {
      if (err instanceof WebPushError) {
        const status = err.statusCode;
        if (status === 404 || status === 410) {
          throw new SendFailure(Errors.PUSH_SUBSCRIPTION_EXPIRED, `the push service answered ${status}: the browser dropped this subscription`, false, status, true);
        }
        throw httpFailure(status, String(err.body ?? ''), 'the push service', request.secrets);
      }
      if (err instanceof ForbiddenTargetError) throw forbidden('the push service', err.message);
      throw networkFailure(err, 'the push service');
    }
  }

  async close(): Promise<void> {
    this.agent.destroy();
  }
}
