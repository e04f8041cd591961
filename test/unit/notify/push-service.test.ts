import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import https from 'node:https';
import path from 'node:path';
import webpush, { WebPushError, type RequestDetails } from 'web-push';
import { startPushService, type PushService } from '../../support/push-service';

const ROOT = path.resolve(__dirname, '../../../..');

/**
 * The test push service is only worth having if it takes what a real application server library sends
 * and refuses what a real push service refuses; web-push plays the application server here.
 */
describe('the test push service', () => {
  let service: PushService;
  const vapid = webpush.generateVAPIDKeys();
  const subject = 'mailto:ops@example.com';
  const vapidDetails = { subject, publicKey: vapid.publicKey, privateKey: vapid.privateKey };

  beforeEach(async () => {
    service = await startPushService();
  });
  afterEach(async () => {
    await service.close();
  });

  /** Send prepared request details ourselves, so a test can change them first. */
  function send(details: RequestDetails): Promise<{ status: number; body: string }> {
    return new Promise((resolve, reject) => {
      const req = https.request(details.endpoint, { method: 'POST', headers: details.headers, agent: service.agent }, (res) => {
        let body = '';
        res.on('data', (d) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode!, body }));
      });
      req.on('error', reject);
      req.end(details.body ?? undefined);
    });
  }

  /** A VAPID header with any claims, signed as RFC 8292 says (ES256 over base64url JSON). */
  function vapidHeader(claims: Record<string, unknown>, keys = vapid): string {
    const pub = Buffer.from(keys.publicKey, 'base64url');
    const key = crypto.createPrivateKey({
      key: {
        kty: 'EC',
        crv: 'P-256',
        x: pub.subarray(1, 33).toString('base64url'),
        y: pub.subarray(33).toString('base64url'),
        d: keys.privateKey,
      },
      format: 'jwk',
    });
    const signingInput = [{ typ: 'JWT', alg: 'ES256' }, claims].map((p) => Buffer.from(JSON.stringify(p)).toString('base64url')).join('.');
    const signature = crypto.sign('sha256', Buffer.from(signingInput), { key, dsaEncoding: 'ieee-p1363' }).toString('base64url');
    return `vapid t=${signingInput}.${signature}, k=${keys.publicKey}`;
  }

  function expectRefusal(status: number, reason: RegExp) {
    return (err: unknown) => {
      assert.ok(err instanceof WebPushError, String(err));
      assert.equal(err.statusCode, status, err.body);
      assert.match(err.body, reason);
      return true;
    };
  }

  it('decrypts what web-push encrypts and records TTL, Urgency, Topic and the VAPID claims', async () => {
    const subscription = service.subscribe();
    const payload = JSON.stringify({ title: 'Pump 1 is hot', body: '92 °C — over the 80 °C limit', url: '/alarms/1' });
    const before = Math.floor(Date.now() / 1000);
    const result = await webpush.sendNotification(subscription, payload, {
      vapidDetails,
      TTL: 600,
      urgency: 'high',
      topic: 'pump-1-temp',
      agent: service.agent,
    });
    assert.equal(result.statusCode, 201);
    const [push] = service.received;
    assert.equal(result.headers.location, `${service.url}/message/${push.id}`);
    assert.equal(push.endpoint, subscription.endpoint);
    assert.equal(push.plaintext, payload);
    assert.equal(push.ttl, 600);
    assert.equal(push.urgency, 'high');
    assert.equal(push.topic, 'pump-1-temp');
    assert.equal(push.vapid.aud, service.url);
    assert.equal(push.vapid.sub, subject);
    assert.equal(push.vapid.publicKey, vapid.publicKey);
    assert.ok(push.vapid.exp > before && push.vapid.exp <= before + 24 * 3600 + 1, String(push.vapid.exp));
  });

  it('takes a payload at the 4096-byte body limit and refuses a bigger one with 413', async () => {
    const subscription = service.subscribe();
    // aes128gcm adds an 86-byte header, a delimiter and a 16-byte tag: 3993 bytes of plaintext fill 4096.
    const largest = 'x'.repeat(3993);
    await webpush.sendNotification(subscription, largest, { vapidDetails, agent: service.agent });
    assert.equal((await service.waitFor(1))[0].plaintext, largest);
    await assert.rejects(
      webpush.sendNotification(subscription, largest + 'x', { vapidDetails, agent: service.agent }),
      expectRefusal(413, /over 4096 bytes/),
    );
    assert.equal(service.received.length, 1);
  });

  it('takes a push without a payload, which needs no encryption', async () => {
    const subscription = service.subscribe();
    await webpush.sendNotification(subscription, null, { vapidDetails, agent: service.agent });
    assert.equal((await service.waitFor(1))[0].plaintext, '');
  });

  it('refuses a body changed on the way with 400', async () => {
    const subscription = service.subscribe();
    const details = webpush.generateRequestDetails(subscription, 'hello', { vapidDetails });
    const body = Buffer.from(details.body as Buffer);
    body[body.length - 20] ^= 1;
    const reply = await send({ ...details, body });
    assert.equal(reply.status, 400);
    assert.match(reply.body, /does not decrypt/);
    assert.deepEqual(service.received, []);
  });

  it("refuses a message encrypted for another subscription's keys with 400", async () => {
    const target = service.subscribe();
    const other = service.subscribe();
    const details = webpush.generateRequestDetails({ ...target, keys: other.keys }, 'hello', { vapidDetails });
    const reply = await send(details);
    assert.equal(reply.status, 400);
    assert.deepEqual(service.received, []);
  });

  it('refuses the legacy aesgcm content encoding with 400', async () => {
    const subscription = service.subscribe();
    await assert.rejects(
      webpush.sendNotification(subscription, 'hello', { vapidDetails, contentEncoding: 'aesgcm', agent: service.agent }),
      expectRefusal(400, /Content-Encoding must be aes128gcm/),
    );
  });

  it('refuses a push without a TTL header with 400', async () => {
    const subscription = service.subscribe();
    const details = webpush.generateRequestDetails(subscription, 'hello', { vapidDetails });
    const { TTL: _ttl, ...headers } = details.headers as Record<string, string>;
    const reply = await send({ ...details, headers });
    assert.equal(reply.status, 400);
    assert.match(reply.body, /TTL/);
  });

  it('refuses a push without VAPID authorization with 401', async () => {
    const subscription = service.subscribe();
    await assert.rejects(
      webpush.sendNotification(subscription, 'hello', { agent: service.agent }),
      expectRefusal(401, /vapid scheme/),
    );
  });

  it('refuses a JWT whose audience is not the push service origin with 401', async () => {
    const subscription = service.subscribe();
    const headers = webpush.getVapidHeaders('https://push.example.com', subject, vapid.publicKey, vapid.privateKey, 'aes128gcm');
    await assert.rejects(
      webpush.sendNotification(subscription, 'hello', { headers, agent: service.agent }),
      expectRefusal(401, /aud must be the push service origin/),
    );
  });

  it('refuses a JWT whose signature does not verify with the key in k with 401', async () => {
    const subscription = service.subscribe();
    const impostor = webpush.generateVAPIDKeys();
    const authorization = vapidHeader({ aud: service.url, exp: Math.floor(Date.now() / 1000) + 3600, sub: subject }).replace(
      vapid.publicKey,
      impostor.publicKey,
    );
    const details = webpush.generateRequestDetails(subscription, 'hello', { vapidDetails });
    const reply = await send({ ...details, headers: { ...details.headers, Authorization: authorization } });
    assert.equal(reply.status, 401);
    assert.match(reply.body, /signature does not verify/);
  });

  it('refuses a JWT that has expired, lives over 24 hours, or has no sub, with 401', async () => {
    const subscription = service.subscribe();
    const now = Math.floor(Date.now() / 1000);
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ aud: service.url, exp: now - 60, sub: subject }, /exp is missing or past/],
      [{ aud: service.url, exp: now + 25 * 3600, sub: subject }, /more than 24 hours/],
      [{ aud: service.url, exp: now + 3600 }, /sub .* is missing/],
    ];
    for (const [claims, reason] of cases) {
      const details = webpush.generateRequestDetails(subscription, 'hello', { vapidDetails });
      const reply = await send({ ...details, headers: { ...details.headers, Authorization: vapidHeader(claims) } });
      assert.equal(reply.status, 401, JSON.stringify(claims));
      assert.match(reply.body, reason);
    }
    assert.deepEqual(service.received, []);
  });

  it('refuses with 403 a push signed by another key than the subscription was made for', async () => {
    const subscription = service.subscribe({ applicationServerKey: vapid.publicKey });
    const other = webpush.generateVAPIDKeys();
    await assert.rejects(
      webpush.sendNotification(subscription, 'hello', { vapidDetails: { subject, ...other }, agent: service.agent }),
      expectRefusal(403, /not the applicationServerKey/),
    );
    await webpush.sendNotification(subscription, 'hello', { vapidDetails, agent: service.agent });
    assert.equal(service.received.length, 1);
  });

  it('answers a configured 410 Gone, which web-push reports as a WebPushError with statusCode 410', async () => {
    const gone = service.subscribe();
    const live = service.subscribe();
    service.respondWith(gone.endpoint, 410);
    await assert.rejects(webpush.sendNotification(gone, 'hello', { vapidDetails, agent: service.agent }), expectRefusal(410, /410/));
    await webpush.sendNotification(live, 'hello', { vapidDetails, agent: service.agent });
    assert.deepEqual(service.received.map((p) => p.endpoint), [live.endpoint]);
    assert.deepEqual(service.attempts.map((a) => a.status), [410, 201]);
  });

  it('answers every endpoint with a configured status and headers for *, until 201 restores delivery', async () => {
    const subscription = service.subscribe();
    service.respondWith('*', 429, { 'retry-after': '30' });
    await assert.rejects(webpush.sendNotification(subscription, 'hello', { vapidDetails, agent: service.agent }), (err: unknown) => {
      assert.ok(err instanceof WebPushError);
      assert.equal(err.statusCode, 429);
      assert.equal(err.headers['retry-after'], '30');
      return true;
    });
    service.respondWith('*', 201);
    await webpush.sendNotification(subscription, 'hello', { vapidDetails, agent: service.agent });
    assert.equal(service.received.length, 1);
  });

  it('answers 404 for an endpoint it never issued', async () => {
    const subscription = { ...service.subscribe(), endpoint: `${service.url}/push/never-issued` };
    await assert.rejects(
      webpush.sendNotification(subscription, 'hello', { vapidDetails, agent: service.agent }),
      expectRefusal(404, /No such subscription/),
    );
  });

  it('waits for pushes that arrive later, and says what it got when they do not', async () => {
    const subscription = service.subscribe();
    const waiting = service.waitFor(2, 5000);
    await webpush.sendNotification(subscription, 'one', { vapidDetails, agent: service.agent });
    await webpush.sendNotification(subscription, 'two', { vapidDetails, agent: service.agent });
    assert.deepEqual((await waiting).map((p) => p.plaintext), ['one', 'two']);
    await assert.rejects(service.waitFor(3, 100), /expected 3 push messages within 100 ms, got 2/);
  });

  it('serves a certificate that a child process trusts through NODE_EXTRA_CA_CERTS', async () => {
    const subscription = service.subscribe();
    const script = `require('web-push').sendNotification(${JSON.stringify(subscription)}, 'from a child', { vapidDetails: ${JSON.stringify(vapidDetails)} }).then((r) => process.exit(r.statusCode === 201 ? 0 : 1), (e) => { console.error(e.message); process.exit(2); })`;
    // Asynchronously: the service answers from this process's event loop.
    const child = spawn(process.execPath, ['-e', script], { cwd: ROOT, env: { ...process.env, NODE_EXTRA_CA_CERTS: service.caFile } });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    const [code] = await once(child, 'exit');
    assert.equal(code, 0, stderr);
    assert.equal(service.received[0].plaintext, 'from a child');
  });
});
