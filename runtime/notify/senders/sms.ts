import type { SmsConfig } from '../endpoint-model';
import { renderText } from '../templates';
import { httpFailure, SendFailure, type SendRequest, type SendResult, type Sender } from './types';
import { HttpPoster, type HttpAnswer, type HttpRequest } from './http-post';
import { Errors } from '../../errors';
import type { TargetGuard } from '../targets';
import Mustache from 'mustache';

/** Twilio's limit for one message body. */
const MAX_SMS = 1600;
const TIMEOUT_MS = 15_000;

function smsText(request: SendRequest): string {
  const text = request.delivery.message.text || request.delivery.message.subject;
  return text.length > MAX_SMS ? `${text.slice(0, MAX_SMS - 1)}…` : text;
}

/** How values are escaped into a generic gateway's body, by its content type. */
function escaperFor(contentType: string): (value: string) => string {
  if (/json/i.test(contentType)) return (v) => JSON.stringify(v).slice(1, -1);
  if (/x-www-form-urlencoded/i.test(contentType)) return encodeURIComponent;
  return (v) => v;
}

/**
 * SMS through an HTTP gateway: Twilio's REST API, or any gateway described by a URL, a method, a
 * body template and headers. One request per recipient. Recipients that accepted are recorded on
 * the delivery, so a retry after a failure part-way texts only the rest; a generic gateway also
 * gets an idempotency key per recipient. (Twilio's Messages API has no idempotency key: a send cut
 * short by a crash can reach a number twice.)
 */
export class SmsSender implements Sender {
  private readonly poster: HttpPoster;

  constructor(maxSocketsPerOrigin: number, guard: TargetGuard) {
    this.poster = new HttpPoster(maxSocketsPerOrigin, guard);
  }

  async send(request: SendRequest): Promise<SendResult> {
    const config = request.config as SmsConfig;
    const text = smsText(request);
    const progress = (request.delivery.progress ??= []);
    let last: SendResult = { status: null, info: null };
    for (const to of config.to) {
      if (progress.includes(to)) continue;
      last = config.provider === 'twilio' ? await this.twilio(config, request, to, text) : await this.generic(config, request, to, text);
      progress.push(to);
    }
    return last;
  }

  private async twilio(config: Extract<SmsConfig, { provider: 'twilio' }>, request: SendRequest, to: string, text: string): Promise<SendResult> {
    const token = request.secrets.authToken;
    if (!token) throw new SendFailure(Errors.MISSING_CREDENTIALS, 'the Twilio auth token is missing', false);
    const url = `${config.baseUrl}/2010-04-01/Accounts/${encodeURIComponent(config.accountSid)}/Messages.json`;
    const res = await this.call(request, url, {
      method: 'POST',
      headers: {
        Authorization: `Basic ${Buffer.from(`${config.accountSid}:${token}`).toString('base64')}`,
        'Content-Type': 'application/x-www-form-urlencoded',
      },
      body: new URLSearchParams({ To: to, From: config.from, Body: text }).toString(),
      readSuccess: true,
    });
    let reply: { sid?: unknown; status?: unknown } = {};
    try {
      reply = JSON.parse(res.body) ?? {};
    } catch {
      // A success without the JSON Twilio documents still sent the message; there is just no id to record.
    }
    const sid = typeof reply.sid === 'string' ? reply.sid.slice(0, 64) : null;
    return { status: res.status, info: sid ? `${sid} ${typeof reply.status === 'string' ? reply.status.slice(0, 32) : ''}`.trim() : null };
  }

  private async generic(config: Extract<SmsConfig, { provider: 'http' }>, request: SendRequest, to: string, text: string): Promise<SendResult> {
    const view = { to, text, subject: request.delivery.message.subject, id: request.delivery.key };
    const escape = escaperFor(config.contentType);
    const body = Mustache.render(config.bodyTemplate, view, undefined, { escape });
    const headers: Record<string, string> = { ...request.secrets.headers, 'Idempotency-Key': `${request.delivery.idempotencyKey}:${to}` };
    let url = config.url;
    if (config.method === 'GET') url += (url.includes('?') ? '&' : '?') + renderText(config.bodyTemplate, Object.fromEntries(Object.entries(view).map(([k, v]) => [k, encodeURIComponent(v)])));
    else headers['Content-Type'] = config.contentType;
    const res = await this.call(request, url, { method: config.method, headers, body: config.method === 'GET' ? undefined : body });
    return { status: res.status, info: null };
  }

  private async call(request: SendRequest, url: string, init: Omit<HttpRequest, 'timeoutMs' | 'what'>): Promise<HttpAnswer> {
    const res = await this.poster.send(request.delivery.endpoint, new URL(url), { ...init, timeoutMs: TIMEOUT_MS, what: 'the SMS gateway' });
    if (res.status >= 200 && res.status < 300) return res;
    throw httpFailure(res.status, res.body, 'the SMS gateway', request.secrets);
  }

  async close(): Promise<void> {
    this.poster.close();
  }
}
