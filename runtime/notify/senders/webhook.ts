import { createHmac } from 'node:crypto';
import type { WebhookConfig } from '../endpoint-model';
import { httpFailure, networkFailure, SendFailure, type SendRequest, type SendResult, type Sender } from './types';
import { Errors } from '../../errors';

export const SIGNATURE_HEADER = 'X-Fieldflow-Signature';

/**
 * The signature a receiver recomputes: HMAC-SHA256 with the endpoint's secret over
 * `<timestamp>.<raw body>`, sent as `t=<unix seconds>,v1=<hex>`. The timestamp is inside the MAC,
 * so a receiver that rejects old timestamps also rejects replays.
 */
export function signWebhook(secret: string, timestamp: number, body: string): string {
  return `t=${timestamp},v1=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

/** The JSON body of a webhook: the same bytes on every attempt of a delivery. */
export function webhookBody(request: SendRequest): string {
  const { delivery: d } = request;
  return JSON.stringify({
    id: d.key,
    event: { id: d.event.id, type: d.event.type, device: d.event.device, time: new Date(d.event.ts).toISOString() },
    subscription: d.subscription,
    subject: d.message.subject,
    text: d.message.text,
    data: JSON.parse(d.message.data),
  });
}

export class WebhookSender implements Sender {
  constructor(private readonly now: () => number) {}

  async send(request: SendRequest): Promise<SendResult> {
    const config = request.config as WebhookConfig;
    const secret = request.secrets.secret;
    if (!secret) throw new SendFailure(Errors.MISSING_CREDENTIALS, 'the webhook has no signing secret', false);
    const body = webhookBody(request);
    const timestamp = Math.floor(this.now() / 1000);
    let res: Response;
    try {
      res = await fetch(config.url, {
        method: 'POST',
        headers: {
          'Content-Type': 'application/json',
          'User-Agent': 'Fieldflow-Webhook/1',
          [SIGNATURE_HEADER]: signWebhook(secret, timestamp, body),
          'Idempotency-Key': request.delivery.idempotencyKey,
          'X-Fieldflow-Delivery': request.delivery.key,
          'X-Fieldflow-Event': request.delivery.event.type,
        },
        body,
        // A redirect would send the signed body somewhere the endpoint does not name.
        redirect: 'manual',
        signal: AbortSignal.timeout(config.timeoutMs),
      });
    } catch (err) {
      throw networkFailure(err, 'the webhook receiver');
    }
    if (res.status >= 200 && res.status < 300) {
      await res.body?.cancel().catch(() => undefined);
      return { status: res.status, info: null };
    }
    throw await httpFailure(res, 'the webhook receiver');
  }
}
