import { createHmac } from 'node:crypto';
import type { WebhookConfig } from '../endpoint-model';
import { httpFailure, SendFailure, type SendRequest, type SendResult, type Sender } from './types';
import { HttpPoster } from './http-post';
import { Errors } from '../../errors';
import type { TargetGuard } from '../targets';

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
  private readonly poster: HttpPoster;

  constructor(
    private readonly now: () => number,
    maxSocketsPerOrigin: number,
    guard: TargetGuard,
  ) {
    this.poster = new HttpPoster(maxSocketsPerOrigin, guard);
  }

  async send(request: SendRequest): Promise<SendResult> {
    const config = request.config as WebhookConfig;
    const secret = request.secrets.secret;
    if (!secret) throw new SendFailure(Errors.MISSING_CREDENTIALS, 'the webhook has no signing secret', false);
    const body = webhookBody(request);
    const timestamp = Math.floor(this.now() / 1000);
    // Redirects are not followed: they would send the signed body somewhere the endpoint does not name.
    const res = await this.poster.send(request.delivery.endpoint, new URL(config.url), {
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
      timeoutMs: config.timeoutMs,
      what: 'the webhook receiver',
    });
    if (res.status >= 200 && res.status < 300) return { status: res.status, info: null };
    throw httpFailure(res.status, res.body, 'the webhook receiver', request.secrets);
  }

  async close(): Promise<void> {
    this.poster.close();
  }
}
