/**
 * The webhook receiver of bench/notify.ts, run as a child process so that it does not share an
 * event loop with the platform under test (on a small machine it still shares the cores: the
 * benchmark reports its CPU). It answers every POST with 200, counts deliveries per path (one path
 * per endpoint), records alarm raise -> receipt latency from the body's `event.time`, and checks
 * the HMAC signature of a sample of requests the way a real receiver would.
 */
import http from 'node:http';
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { AddressInfo } from 'node:net';

/** Orchestrator -> receiver. */
export type ReceiverCommand =
  | {
      type: 'expect';
      /** Signing secret per request path (`/hook/0` ...). */
      secrets: Record<string, string>;
      /** Distinct deliveries after which the receiver reports `complete`. */
      target: number;
      /** Verify the signature of every n-th request (and of the first 10 per path). */
      verifyEvery: number;
    }
  | { type: 'report' };

/** Receiver -> orchestrator. */
export type ReceiverMessage =
  | { type: 'listening'; port: number }
  | { type: 'complete'; at: number }
  | ({ type: 'report' } & ReceiverReport);

export interface ReceiverReport {
  requests: number;
  /** Distinct X-Fieldflow-Delivery ids. */
  unique: number;
  /** Requests per path. */
  perPath: Record<string, number>;
  /** Alarm raise (event.time) -> request body received, ms, one per distinct delivery. */
  lat: number[];
  firstAt: number | null;
  lastAt: number | null;
  verified: number;
  /** Failed checks: wrong MAC, malformed header, stale timestamp, unknown path, unparsable body. */
  failures: number;
  /** The first few failures, for the log. */
  failureSamples: string[];
}

/** A receiver rejects signatures older (or newer) than this, against replays. */
const TOLERANCE_S = 300;

const send = (m: ReceiverMessage) => process.send!(m);

let secrets: Record<string, string> = {};
let target = Infinity;
let verifyEvery = 20;
let state = fresh();

function fresh() {
  return { requests: 0, seen: new Set<string>(), perPath: {} as Record<string, number>, lat: [] as number[], firstAt: null as number | null, lastAt: null as number | null, verified: 0, failures: 0, samples: [] as string[], completed: false };
}

function fail(s: ReturnType<typeof fresh>, problem: string): void {
  s.failures++;
  if (s.samples.length < 10) s.samples.push(problem);
}

/** Check `t=<unix s>,v1=<hex>` against HMAC-SHA256(secret, t + "." + body); null when it holds. */
function checkSignature(header: string | undefined, secret: string | undefined, body: Buffer, nowS: number): string | null {
  if (!secret) return 'no secret for this path';
  const m = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(header ?? '');
  if (!m) return `malformed signature header: ${header}`;
  const t = Number(m[1]);
  if (Math.abs(nowS - t) > TOLERANCE_S) return `timestamp ${t} is ${nowS - t} s off`;
  const expected = createHmac('sha256', secret).update(`${m[1]}.`).update(body).digest();
  return timingSafeEqual(expected, Buffer.from(m[2], 'hex')) ? null : 'signature mismatch';
}

const server = http.createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const now = Date.now();
    const s = state;
    const body = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks);
    const path = req.url ?? '';
    s.requests++;
    const onPath = (s.perPath[path] = (s.perPath[path] ?? 0) + 1);
    s.firstAt ??= now;
    s.lastAt = now;
    const id = String(req.headers['x-fieldflow-delivery'] ?? '');
    if (!s.seen.has(id)) {
      s.seen.add(id);
      try {
        const time = (JSON.parse(body.toString('utf8')) as { event?: { time?: string } }).event?.time;
        if (time) s.lat.push(now - Date.parse(time));
      } catch {
        fail(s, `unparsable body on ${path}`);
      }
    }
    if (onPath <= 10 || s.requests % verifyEvery === 0) {
      const problem = checkSignature(req.headers['x-fieldflow-signature'] as string | undefined, secrets[path], body, Math.floor(now / 1000));
      if (problem) fail(s, `${path}: ${problem}`);
      else s.verified++;
    }
    res.writeHead(200, { 'Content-Length': '0' });
    res.end();
    if (!s.completed && s.seen.size >= target) {
      s.completed = true;
      send({ type: 'complete', at: now });
    }
  });
});
// Longer than the sender's idle sockets live, so the receiver never closes one under a request.
server.keepAliveTimeout = 30_000;

process.on('message', (cmd: ReceiverCommand) => {
  if (cmd.type === 'expect') {
    secrets = cmd.secrets;
    target = cmd.target;
    verifyEvery = cmd.verifyEvery;
    state = fresh();
  } else if (cmd.type === 'report') {
    const s = state;
    send({ type: 'report', requests: s.requests, unique: s.seen.size, perPath: s.perPath, lat: s.lat, firstAt: s.firstAt, lastAt: s.lastAt, verified: s.verified, failures: s.failures, failureSamples: s.samples });
  }
});

server.listen(0, '127.0.0.1', () => send({ type: 'listening', port: (server.address() as AddressInfo).port }));
