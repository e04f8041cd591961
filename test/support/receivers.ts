import { createHmac, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import type net from 'node:net';
import { SMTPServer } from 'smtp-server';
import { simpleParser, type ParsedMail } from 'mailparser';

/** Real receivers for notification tests: a webhook server, an SMTP server, a Twilio-style SMS API. */

async function listen(server: http.Server | net.Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return (server.address() as net.AddressInfo).port;
}

async function waitUntil<T>(read: () => T[], n: number, timeoutMs: number, what: string): Promise<T[]> {
  const deadline = Date.now() + timeoutMs;
  while (read().length < n) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${n} ${what}; got ${read().length}`);
    await new Promise((r) => setTimeout(r, 10));
  }
  return read();
}

export interface WebhookCall {
  headers: http.IncomingHttpHeaders;
  raw: string;
  body: any;
  /** Whether X-Fieldflow-Signature verified with the secret, as docs/notifications.md tells receivers to check it. */
  verified: boolean;
  /** When the request arrived, and when it was answered (later, with delayMs). */
  arrivedAt: number;
  at: number;
}

/** Verify `t=<unix seconds>,v1=<hex>`: HMAC-SHA256 over "<t>.<raw body>", within a tolerance. */
export function verifySignature(secret: string, header: string | undefined, raw: string, toleranceSeconds = 300, now = Date.now()): boolean {
  if (!header) return false;
  const parts = Object.fromEntries(header.split(',').map((p) => p.split('=', 2) as [string, string]));
  const t = Number(parts.t);
  if (!Number.isInteger(t) || Math.abs(now / 1000 - t) > toleranceSeconds || !parts.v1) return false;
  const expected = createHmac('sha256', secret).update(`${t}.${raw}`).digest();
  const given = Buffer.from(parts.v1, 'hex');
  return given.length === expected.length && timingSafeEqual(given, expected);
}

export interface WebhookReceiver {
  url: string;
  calls: WebhookCall[];
  /** The secret to verify with (set once the endpoint is created and its secret is known). */
  secret: string;
  /** Answer with this status (default 200), or stall for `delayMs` first. */
  status: number;
  /** Answer with the request's headers as the body (a provider that echoes what it got). */
  echo: boolean;
  /** Answer with this text/html body instead (an error page). */
  page: string | null;
  delayMs: number;
  /** Requests that arrived and are not answered yet (stalled by delayMs). */
  pending: number;
  waitFor(n: number, timeoutMs?: number): Promise<WebhookCall[]>;
  close(): Promise<void>;
}

export async function startWebhookReceiver(options: { now?: () => number } = {}): Promise<WebhookReceiver> {
  const calls: WebhookCall[] = [];
  const receiver: WebhookReceiver = {
    url: '',
    calls,
    secret: '',
    status: 200,
    echo: false,
    page: null,
    delayMs: 0,
    pending: 0,
    waitFor: (n, timeoutMs = 10_000) => waitUntil(() => calls, n, timeoutMs, 'webhook calls'),
    close: async () => {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
  const server = http.createServer((req, res) => {
    const arrivedAt = Date.now();
    receiver.pending++;
    const chunks: Buffer[] = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      const respond = () => {
        let body: unknown = null;
        try {
          body = JSON.parse(raw);
        } catch {
          // recorded as null: the test asserts on it
        }
        const verified = verifySignature(receiver.secret, req.headers['x-fieldflow-signature'] as string | undefined, raw, 300, options.now?.() ?? Date.now());
        receiver.pending--;
        calls.push({ headers: req.headers, raw, body, verified, arrivedAt, at: Date.now() });
        if (receiver.page !== null) res.writeHead(receiver.status, { 'content-type': 'text/html' }).end(receiver.page);
        else res.writeHead(receiver.status, { 'content-type': 'application/json' }).end(JSON.stringify(receiver.echo ? req.headers : { ok: receiver.status < 300 }));
      };
      if (receiver.delayMs) setTimeout(respond, receiver.delayMs);
      else respond();
    });
  });
  receiver.url = `http://127.0.0.1:${await listen(server)}/hook`;
  return receiver;
}

export interface SmtpReceiver {
  host: string;
  port: number;
  messages: Array<{ envelope: { from: string; to: string[] }; mail: ParsedMail }>;
  waitFor(n: number, timeoutMs?: number): Promise<SmtpReceiver['messages']>;
  close(): Promise<void>;
}

/** A real SMTP server (smtp-server) that parses what it receives (mailparser). */
export async function startSmtpReceiver(port = 0): Promise<SmtpReceiver> {
  const messages: SmtpReceiver['messages'] = [];
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onData(stream, session, callback) {
      simpleParser(stream)
        .then((mail) => {
          messages.push({ envelope: { from: (session.envelope.mailFrom as { address: string }).address, to: session.envelope.rcptTo.map((r) => r.address) }, mail });
          callback();
        })
        .catch(callback);
    },
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', () => resolve()));
  return {
    host: '127.0.0.1',
    port: (server.server.address() as net.AddressInfo).port,
    messages,
    waitFor: (n, timeoutMs = 10_000) => waitUntil(() => messages, n, timeoutMs, 'emails'),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

export interface SmsReceiver {
  /** The base URL to configure as the Twilio `baseUrl`. */
  url: string;
  accountSid: string;
  authToken: string;
  messages: Array<{ to: string; from: string; body: string }>;
  /** Answer the next requests for these numbers with 503 (a gateway hiccup), once each. */
  failOnce: Set<string>;
  /** Requests refused for bad credentials. */
  unauthorized: number;
  waitFor(n: number, timeoutMs?: number): Promise<SmsReceiver['messages']>;
  close(): Promise<void>;
}

/**
 * The Twilio Messages API as far as Fieldflow uses it: POST
 * /2010-04-01/Accounts/{sid}/Messages.json, form-encoded To/From/Body, HTTP Basic auth with the
 * account sid and auth token, 201 with a message resource.
 */
export async function startTwilioReceiver(): Promise<SmsReceiver> {
  const receiver: SmsReceiver = {
    url: '',
    accountSid: 'AC0123456789abcdef0123456789abcdef',
    authToken: 'twilio-test-auth-token-4711',
    messages: [],
    unauthorized: 0,
    failOnce: new Set(),
    waitFor: (n, timeoutMs = 10_000) => waitUntil(() => receiver.messages, n, timeoutMs, 'text messages'),
    close: async () => {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const reply = (status: number, body: object) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
      if (req.method !== 'POST' || req.url !== `/2010-04-01/Accounts/${receiver.accountSid}/Messages.json`) return reply(404, { code: 20404, message: 'The requested resource was not found' });
      const expected = `Basic ${Buffer.from(`${receiver.accountSid}:${receiver.authToken}`).toString('base64')}`;
      if (req.headers.authorization !== expected) {
        receiver.unauthorized++;
        return reply(401, { code: 20003, message: 'Authentication Error - invalid username' });
      }
      const form = new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
      if (!/^\+[1-9]\d{7,14}$/.test(form.get('To') ?? '')) return reply(400, { code: 21211, message: "The 'To' number is not a valid phone number." });
      if (receiver.failOnce.delete(form.get('To')!)) return reply(503, { code: 20500, message: 'Service unavailable' });
      const sid = `SM${String(receiver.messages.length).padStart(32, '0')}`;
      receiver.messages.push({ to: form.get('To')!, from: form.get('From')!, body: form.get('Body')! });
      reply(201, { sid, status: 'queued', to: form.get('To'), from: form.get('From'), body: form.get('Body') });
    });
  });
  receiver.url = `http://127.0.0.1:${await listen(server)}`;
  return receiver;
}
