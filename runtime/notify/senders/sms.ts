import type { SmsConfig } from '../endpoint-model';
import { renderText } from '../templates';
import { httpFailure, networkFailure, SendFailure, type SendRequest, type SendResult, type Sender } from './types';
import { Errors } from '../../errors';
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
    const res = await this.post(url, {
      method: 'POST',
      headers: {
        Authorization: `Basic ${Buffer.from(`${config.accountSid}:${token}`).toString('base64')}`,
        'Content-Type': 'application/x-www-form-urlencoded',
      },
      body: new URLSearchParams({ To: to, From: config.from, Body: text }).toString(),
    });
    const reply = (await res.json().catch(() => ({}))) as { sid?: string; status?: string };
    return { status: res.status, info: reply.sid ? `${reply.sid} ${reply.status ?? ''}`.trim() : null };
  }

  private async generic(config: Extract<SmsConfig, { provider: 'http' }>, request: SendRequest, to: string, text: string): Promise<SendResult> {
    const view = { to, text, subject: request.delivery.message.subject, id: request.delivery.key };
    const escape = escaperFor(config.contentType);
    const body = Mustache.render(config.bodyTemplate, view, undefined, { escape });
    const headers: Record<string, string> = { ...request.secrets.headers, 'Idempotency-Key': `${request.delivery.idempotencyKey}:${to}` };
    let url = config.url;
    if (config.method === 'GET') url += (url.includes('?') ? '&' : '?') + renderText(config.bodyTemplate, Object.fromEntries(Object.entries(view).map(([k, v]) => [k, encodeURIComponent(v)])));
    else headers['Content-Type'] = config.contentType;
    const res = await this.post(url, { method: config.method, headers, body: config.method === 'GET' ? undefined : body });
    await res.body?.cancel().catch(() => undefined);
    return { status: res.status, info: null };
  }

  private async post(url: string, init: RequestInit): Promise<Response> {
    let res: Response;
    try {
      res = await fetch(url, { ...init, redirect: 'manual', signal: AbortSignal.timeout(TIMEOUT_MS) });
    } catch (err) {
      throw networkFailure(err, 'the SMS gateway');
    }
    if (res.status >= 200 && res.status < 300) return res;
    throw await httpFailure(res, 'the SMS gateway');
  }
}
