/**
 * A real, local Web Push service for tests: it issues subscriptions the way a browser's push service
 * does, and takes push messages the way RFC 8030 describes. It decrypts each message (RFC 8291 over
 * RFC 8188 aes128gcm) with the subscription's private key and verifies its VAPID authorization
 * (RFC 8292), so a test sees exactly what a browser would show, and an application server that gets
 * the crypto wrong is refused as Mozilla's or Google's service would refuse it.
 *
 * It listens on HTTPS with a self-signed certificate made at start: web-push (like every push
 * service) speaks HTTPS only. Trust it with `agent` in this process, or with
 * `NODE_EXTRA_CA_CERTS=<caFile>` in a child process such as the real server.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import https from 'node:https';
import type http from 'node:http';
import type net from 'node:net';
import os from 'node:os';
import path from 'node:path';

/** The browser's `PushSubscription.toJSON()` shape, keys in base64url. */
export interface TestSubscription {
  endpoint: string;
  expirationTime: null;
  keys: { p256dh: string; auth: string };
}

/** A push message the service accepted, decrypted. */
export interface ReceivedPush {
  /** The message id, also the last segment of the Location the service answered with. */
  id: string;
  endpoint: string;
  path: string;
  headers: http.IncomingHttpHeaders;
  plaintext: string;
  ttl: number;
  urgency?: string;
  topic?: string;
  vapid: { aud: string; sub: string; exp: number; publicKey: string };
}

/** Every request the service answered, accepted or not: what to look at when a push went missing. */
export interface PushAttempt {
  path: string;
  status: number;
  reason: string;
}

export interface PushService {
  /** `https://127.0.0.1:<port>`, the origin VAPID tokens must name as their audience. */
  url: string;
  /** PEM of the service's self-signed certificate. */
  ca: string;
  /** The certificate in a file, for `NODE_EXTRA_CA_CERTS` of a child process. */
  caFile: string;
  /** An agent that trusts the service, for web-push's `agent` option. */
  agent: https.Agent;
  /**
   * A new subscription with its own P-256 key pair and auth secret, as `pushManager.subscribe()` makes.
   * With `applicationServerKey`, only pushes signed by that VAPID key are accepted (RFC 8292 §4).
   */
  subscribe(options?: { applicationServerKey?: string }): TestSubscription;
  received: ReceivedPush[];
  attempts: PushAttempt[];
  /** Resolves with `received` once it holds at least `n` messages. */
  waitFor(n: number, timeoutMs?: number): Promise<ReceivedPush[]>;
  /**
   * Answer pushes to one endpoint (or all, with '*') with this status instead of delivering them,
   * e.g. 410 for an expired subscription or 429 with Retry-After. 201 restores normal delivery.
   */
  respondWith(endpointOrAll: string, status: number, headers?: Record<string, string>): void;
  close(): Promise<void>;
}

interface Held {
  ecdh: crypto.ECDH;
  publicKey: Buffer;
  auth: Buffer;
  applicationServerKey?: string;
}

/** A refusal with the status a push service gives it; the message goes back as the response body. */
class Refusal extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** RFC 8291 §4 lets a push service cap the body at 4096 octets; the big ones do. */
const MAX_BODY = 4096;
const MAX_JWT_LIFETIME_S = 24 * 60 * 60;
const URGENCIES = new Set(['very-low', 'low', 'normal', 'high']);
const TOPIC = /^[A-Za-z0-9_-]{1,32}$/;

export async function startPushService(): Promise<PushService> {
  const tls = selfSignedCertificate();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fieldflow-push-'));
  const caFile = path.join(dir, 'ca.pem');
  fs.writeFileSync(caFile, tls.cert);

  const subscriptions = new Map<string, Held>();
  const overrides = new Map<string, { status: number; headers: Record<string, string> }>();
  const received: ReceivedPush[] = [];
  const attempts: PushAttempt[] = [];
  const waiters = new Set<() => void>();
  let url = '';

  const server = https.createServer({ key: tls.key, cert: tls.cert }, (req, res) => {
    const pathname = (req.url ?? '/').split('?')[0];
    const answer = (status: number, reason: string, headers: Record<string, string> = {}) => {
      attempts.push({ path: pathname, status, reason });
      res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', ...headers }).end(reason);
    };
    readBody(req)
      .then((body) => {
        const id = /^\/push\/([A-Za-z0-9_-]+)$/.exec(pathname)?.[1];
        const held = id === undefined ? undefined : subscriptions.get(id);
        if (!held) return answer(404, 'No such subscription');
        if (req.method !== 'POST') return answer(405, 'Push messages are POSTed', { allow: 'POST' });
        const endpoint = url + pathname;
        const override = overrides.get(endpoint) ?? overrides.get('*');
        if (override) return answer(override.status, `Configured answer ${override.status}`, override.headers);
        if (body === null) return answer(413, `Body is over ${MAX_BODY} bytes`);
        const push = accept(req, body, held, url);
        const messageId = crypto.randomUUID();
        received.push({ id: messageId, endpoint, path: pathname, headers: req.headers, ...push });
        for (const wake of waiters) wake();
        answer(201, 'Created', { location: `${url}/message/${messageId}` });
      })
      .catch((err: unknown) => {
        if (err instanceof Refusal) answer(err.status, err.message);
        else answer(500, (err as Error).message);
      });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  url = `https://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
  const agent = new https.Agent({ ca: tls.cert });

  return {
    url,
    ca: tls.cert,
    caFile,
    agent,
    received,
    attempts,
    subscribe(options = {}) {
      const ecdh = crypto.createECDH('prime256v1');
      const publicKey = ecdh.generateKeys();
      const auth = crypto.randomBytes(16);
      const id = crypto.randomBytes(18).toString('base64url');
      subscriptions.set(id, { ecdh, publicKey, auth, applicationServerKey: options.applicationServerKey });
      return {
        endpoint: `${url}/push/${id}`,
        expirationTime: null,
        keys: { p256dh: publicKey.toString('base64url'), auth: auth.toString('base64url') },
      };
    },
    waitFor(n, timeoutMs = 10_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          if (received.length < n) return;
          done();
          resolve(received);
        };
        const timer = setTimeout(() => {
          done();
          reject(new Error(`expected ${n} push messages within ${timeoutMs} ms, got ${received.length}; requests: ${JSON.stringify(attempts)}`));
        }, timeoutMs);
        const done = () => {
          clearTimeout(timer);
          waiters.delete(check);
        };
        waiters.add(check);
        check();
      });
    },
    respondWith(endpointOrAll, status, headers = {}) {
      if (status === 201) overrides.delete(endpointOrAll);
      else overrides.set(endpointOrAll, { status, headers });
    },
    async close() {
      agent.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The body, or null when it is over the limit (read to the end, so the client still gets the answer). */
function readBody(req: http.IncomingMessage): Promise<Buffer | null> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_BODY) chunks.push(chunk);
    });
    req.on('end', () => resolve(size > MAX_BODY ? null : Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** Check one push request as RFC 8030 and RFC 8292 ask, and decrypt it; throws a Refusal. */
function accept(req: http.IncomingMessage, body: Buffer, held: Held, origin: string) {
  const encoding = header(req, 'content-encoding');
  // [RFC 8030 §5] A push message may carry no payload; one that does must be encrypted.
  if (body.length > 0 && encoding !== 'aes128gcm') {
    throw new Refusal(400, `Content-Encoding must be aes128gcm (RFC 8291), not ${encoding ?? 'absent'}`);
  }
  const vapid = verifyVapid(req.headers.authorization, origin);
  if (held.applicationServerKey !== undefined && vapid.publicKey !== held.applicationServerKey) {
    throw new Refusal(403, 'VAPID key k is not the applicationServerKey this subscription was made with');
  }
  const ttlHeader = header(req, 'ttl');
  // [RFC 8030 §5.2] An application server MUST include the TTL header field.
  if (ttlHeader === undefined || !/^\d+$/.test(ttlHeader)) throw new Refusal(400, 'TTL header is missing or not a number of seconds');
  const urgency = header(req, 'urgency');
  if (urgency !== undefined && !URGENCIES.has(urgency)) throw new Refusal(400, `Urgency must be one of ${[...URGENCIES].join(', ')}`);
  const topic = header(req, 'topic');
  if (topic !== undefined && !TOPIC.test(topic)) throw new Refusal(400, 'Topic must be 1 to 32 base64url characters');
  const plaintext = body.length > 0 ? decrypt(body, held) : '';
  return { plaintext, ttl: Number(ttlHeader), urgency, topic, vapid };
}

function header(req: http.IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** [RFC 8292 §2, §3] `Authorization: vapid t=<ES256 JWT>, k=<uncompressed P-256 key>`. */
function verifyVapid(authorization: string | undefined, origin: string) {
  const m = /^vapid\s+(.+)$/i.exec(authorization ?? '');
  if (!m) throw new Refusal(401, 'Authorization must use the vapid scheme (RFC 8292)');
  const params = new Map<string, string>();
  for (const p of m[1].matchAll(/([A-Za-z]+)\s*=\s*("?)([A-Za-z0-9_.=-]+)\2/g)) params.set(p[1].toLowerCase(), p[3]);
  const token = params.get('t');
  const k = params.get('k');
  if (!token || !k) throw new Refusal(401, 'vapid authorization needs both t and k');
  const raw = Buffer.from(k, 'base64url');
  if (raw.length !== 65 || raw[0] !== 4) throw new Refusal(401, 'k must be an uncompressed P-256 public key');
  let key: crypto.KeyObject;
  try {
    key = crypto.createPublicKey({
      key: { kty: 'EC', crv: 'P-256', x: raw.subarray(1, 33).toString('base64url'), y: raw.subarray(33).toString('base64url') },
      format: 'jwk',
    });
  } catch {
    throw new Refusal(401, 'k is not a point on P-256');
  }
  const parts = token.split('.');
  if (parts.length !== 3) throw new Refusal(401, 't is not a JWT');
  const [head, claims] = parts.slice(0, 2).map((p) => parseJson(p));
  if (head?.alg !== 'ES256') throw new Refusal(401, 'JWT alg must be ES256');
  const signed = crypto.verify(
    'sha256',
    Buffer.from(`${parts[0]}.${parts[1]}`),
    { key, dsaEncoding: 'ieee-p1363' },
    Buffer.from(parts[2], 'base64url'),
  );
  if (!signed) throw new Refusal(401, 'JWT signature does not verify with key k');
  if (claims?.aud !== origin) throw new Refusal(401, `JWT aud must be the push service origin ${origin}, not ${claims?.aud}`);
  const now = Math.floor(Date.now() / 1000);
  if (typeof claims.exp !== 'number' || claims.exp <= now) throw new Refusal(401, 'JWT exp is missing or past');
  if (claims.exp > now + MAX_JWT_LIFETIME_S) throw new Refusal(401, 'JWT exp is more than 24 hours ahead');
  if (typeof claims.sub !== 'string' || claims.sub === '') throw new Refusal(401, 'JWT sub (a mailto: or https: contact) is missing');
  return { aud: claims.aud as string, sub: claims.sub as string, exp: claims.exp as number, publicKey: k };
}

function parseJson(segment: string): any {
  try {
    return JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'));
  } catch {
    throw new Refusal(401, 't is not a JWT');
  }
}

/**
 * [RFC 8291 §3.4, RFC 8188 §2] Header salt(16) | rs(4) | idlen(1) | keyid, where keyid is the
 * application server's ephemeral public key; then a single record: ciphertext | 16-byte tag.
 */
function decrypt(body: Buffer, held: Held): string {
  if (body.length < 21) throw new Refusal(400, 'Body is shorter than the aes128gcm header');
  const salt = body.subarray(0, 16);
  const rs = body.readUInt32BE(16);
  const idlen = body[20];
  if (idlen !== 65) throw new Refusal(400, 'keyid must be the 65-byte application server public key (RFC 8291 §4)');
  const asPublic = body.subarray(21, 86);
  const record = body.subarray(86);
  if (rs < 18) throw new Refusal(400, 'Record size must be at least 18 (RFC 8188 §2)');
  // [RFC 8291 §4] A push message is a single record.
  if (record.length > rs) throw new Refusal(400, 'A push message must be a single record (RFC 8291 §4)');
  if (record.length < 17) throw new Refusal(400, 'The record is shorter than its tag and delimiter');

  let ecdhSecret: Buffer;
  try {
    ecdhSecret = held.ecdh.computeSecret(asPublic);
  } catch {
    throw new Refusal(400, 'keyid is not a P-256 public key');
  }
  const keyInfo = Buffer.concat([Buffer.from('WebPush: info\0'), held.publicKey, asPublic]);
  const ikm = Buffer.from(crypto.hkdfSync('sha256', ecdhSecret, held.auth, keyInfo, 32));
  const cek = Buffer.from(crypto.hkdfSync('sha256', ikm, salt, Buffer.from('Content-Encoding: aes128gcm\0'), 16));
  // The nonce of record 0 is NONCE xor 0, NONCE itself.
  const nonce = Buffer.from(crypto.hkdfSync('sha256', ikm, salt, Buffer.from('Content-Encoding: nonce\0'), 12));

  let padded: Buffer;
  try {
    const decipher = crypto.createDecipheriv('aes-128-gcm', cek, nonce);
    decipher.setAuthTag(record.subarray(record.length - 16));
    padded = Buffer.concat([decipher.update(record.subarray(0, record.length - 16)), decipher.final()]);
  } catch {
    throw new Refusal(400, 'The message does not decrypt with this subscription (wrong keys or a changed body)');
  }
  // [RFC 8188 §2] data | delimiter | zero padding; the last (here the only) record's delimiter is 2.
  let end = padded.length - 1;
  while (end >= 0 && padded[end] === 0) end--;
  if (end < 0 || padded[end] !== 2) throw new Refusal(400, 'The record does not end with the last-record delimiter 0x02');
  return padded.subarray(0, end).toString('utf8');
}

/**
 * A self-signed P-256 certificate for 127.0.0.1 and localhost, built as DER (RFC 5280) because
 * node:crypto can sign but has no API to issue a certificate, and a test should not need openssl.
 */
function selfSignedCertificate(): { key: string; cert: string } {
  const { privateKey, publicKey } = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const ecdsaWithSha256 = seq(oid('1.2.840.10045.4.3.2'));
  const name = seq(der(0x31, seq(oid('2.5.4.3'), der(0x0c, Buffer.from('Fieldflow test push service')))));
  const now = Date.now();
  const altNames = seq(der(0x82, Buffer.from('localhost')), der(0x87, Buffer.from([127, 0, 0, 1])));
  const tbs = seq(
    der(0xa0, integer(Buffer.from([2]))),
    serialNumber(),
    ecdsaWithSha256,
    name,
    seq(utcTime(now - 60_000), utcTime(now + 24 * 3600_000)),
    name,
    publicKey.export({ type: 'spki', format: 'der' }),
    der(0xa3, seq(seq(oid('2.5.29.17'), der(0x04, altNames)))),
  );
  const signature = crypto.sign('sha256', tbs, privateKey);
  const cert = seq(tbs, ecdsaWithSha256, der(0x03, Buffer.concat([Buffer.from([0]), signature])));
  const lines = cert.toString('base64').match(/.{1,64}/g)!.join('\n');
  return {
    key: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
    cert: `-----BEGIN CERTIFICATE-----\n${lines}\n-----END CERTIFICATE-----\n`,
  };
}

function der(tag: number, ...content: Buffer[]): Buffer {
  const body = Buffer.concat(content);
  let length: Buffer;
  if (body.length < 0x80) {
    length = Buffer.from([body.length]);
  } else {
    const bytes: number[] = [];
    for (let n = body.length; n > 0; n >>= 8) bytes.unshift(n & 0xff);
    length = Buffer.from([0x80 | bytes.length, ...bytes]);
  }
  return Buffer.concat([Buffer.from([tag]), length, body]);
}

function seq(...content: Buffer[]): Buffer {
  return der(0x30, ...content);
}

/** A DER INTEGER is signed: a leading 1 bit would make it negative, so it gets a 0 byte first. */
/** A positive 16-byte serial whose first byte is never 0: DER forbids a leading zero byte before one below 0x80. */
function serialNumber(): Buffer {
  const bytes = crypto.randomBytes(16);
  bytes[0] = (bytes[0] & 0x7f) | 0x01;
  return integer(bytes);
}

function integer(bytes: Buffer): Buffer {
  return der(0x02, bytes[0] & 0x80 ? Buffer.concat([Buffer.from([0]), bytes]) : bytes);
}

function oid(dotted: string): Buffer {
  const [a, b, ...rest] = dotted.split('.').map(Number);
  const out = [40 * a + b];
  for (const n of rest) {
    const groups = [n & 0x7f];
    for (let v = n >> 7; v > 0; v >>= 7) groups.unshift((v & 0x7f) | 0x80);
    out.push(...groups);
  }
  return der(0x06, Buffer.from(out));
}

function utcTime(ms: number): Buffer {
  const iso = new Date(ms).toISOString();
  const text = iso.slice(2, 4) + iso.slice(5, 7) + iso.slice(8, 10) + iso.slice(11, 13) + iso.slice(14, 16) + iso.slice(17, 19) + 'Z';
  return der(0x17, Buffer.from(text));
}
