import assert from 'node:assert/strict';
import type { Platform } from '../../../runtime';
import { startPlatform, tempDir } from '../../support/platform';

describe('authentication', () => {
  let platform: Platform;
  beforeEach(async () => (platform = await startPlatform({ auth: { maxFailedLogins: 3, loginWindowSeconds: 60 } })));
  afterEach(() => platform.stop());

  it('lets no more guesses through than the limit, even when they arrive at once', async () => {
    const results = await Promise.allSettled(Array.from({ length: 20 }, (_, i) => platform.auth.login('admin', `guess-${i}`, '10.0.0.1')));
    const codes = results.map((r) => (r.status === 'rejected' ? (r.reason as { code: string }).code : 'ok'));
    assert.equal(codes.filter((c) => c === 'FF_AUTH_INVALID').length, 3);
    assert.equal(codes.filter((c) => c === 'FF_TOO_MANY_ATTEMPTS').length, 17);
    // Another address is not affected.
    assert.ok((await platform.auth.login('admin', 'test-admin-password', '10.0.0.2')).token);
  });

  it('keeps guessing from one address from locking the same username out at another address', async () => {
    for (let i = 0; i < 5; i++) await platform.auth.login('admin', `guess-${i}`, '203.0.113.7').catch(() => undefined);
    await assert.rejects(platform.auth.login('admin', 'test-admin-password', '203.0.113.7'), { code: 'FF_TOO_MANY_ATTEMPTS' });
    assert.ok((await platform.auth.login('admin', 'test-admin-password', '198.51.100.2')).token);
  });

  it('bounds one address that makes up a new username for every guess, and counts made-up usernames as one', async () => {
    // Unknown usernames share one key: three made-up names lock them all, and admin from the same address still may try.
    for (let i = 0; i < 3; i++) await assert.rejects(platform.auth.login(`nobody-${i}`, 'x', '203.0.113.9'), { code: 'FF_AUTH_INVALID' });
    await assert.rejects(platform.auth.login('nobody-new', 'x', '203.0.113.9'), { code: 'FF_TOO_MANY_ATTEMPTS' });
    assert.ok((await platform.auth.login('admin', 'test-admin-password', '203.0.113.9')).token);
    // Over every username, one address gets ten times the per-user limit (30 here), whatever it does in between.
    const codes: string[] = [];
    for (let i = 0; i < 40; i++) {
      const r = await platform.auth.login(i % 2 ? 'admin' : `made-up-${i}`, `guess-${i}`, '203.0.113.10').then(() => 'ok', (e) => e.code);
      codes.push(r);
    }
    assert.ok(codes.filter((c) => c === 'FF_AUTH_INVALID').length <= 30, codes.join(' '));
    assert.equal(codes[codes.length - 1], 'FF_TOO_MANY_ATTEMPTS');
    await assert.rejects(platform.auth.login('admin', 'test-admin-password', '203.0.113.10'), { code: 'FF_TOO_MANY_ATTEMPTS' });
    assert.ok((await platform.auth.login('admin', 'test-admin-password', '198.51.100.3')).token, 'another address is not affected');
  });

  it('does not count successful logins against the address', async () => {
    for (let i = 0; i < 40; i++) assert.ok((await platform.auth.login('admin', 'test-admin-password', '198.51.100.4')).token);
  });

  it('locks a client out for twice as long after each failure past the limit, and forgets it after a quiet window', async () => {
    let now = Date.now();
    const p = await startPlatform({ now: () => now, auth: { maxFailedLogins: 3, loginWindowSeconds: 60 } });
    try {
      const guess = () => p.auth.login('admin', 'wrong', '203.0.113.7');
      const retryAfter = async () => {
        const err = await p.auth.login('admin', 'wrong', '203.0.113.7').then(() => null, (e) => e);
        assert.equal(err.code, 'FF_TOO_MANY_ATTEMPTS');
        return Number(err.headers['Retry-After']);
      };
      for (let i = 0; i < 3; i++) await assert.rejects(guess(), { code: 'FF_AUTH_INVALID' });
      assert.equal(await retryAfter(), 60);
      const locks: number[] = [];
      for (let i = 0; i < 3; i++) {
        now += (await retryAfter()) * 1000;
        await assert.rejects(guess(), { code: 'FF_AUTH_INVALID' });
        locks.push(await retryAfter());
      }
      assert.deepEqual(locks, [120, 240, 480]);
      // Quiet for the lock and one window more: the failures are forgotten.
      now += (480 + 60) * 1000;
      await assert.rejects(guess(), { code: 'FF_AUTH_INVALID' });
      assert.ok((await p.auth.login('admin', 'test-admin-password', '203.0.113.7')).token);
    } finally {
      await p.stop();
    }
  });

  it('revokes every API and editor session of a user when the password changes at a restart, and keeps them across a plain restart', async () => {
    const dataDir = tempDir();
    let p = await startPlatform({ dataDir, auth: { adminPassword: 'first-password' } });
    const api = (await p.auth.login('admin', 'first-password', '127.0.0.1')).token;
    const editor = (await p.auth.login('admin', 'first-password', '127.0.0.1', 'node-red-editor')).token;
    await p.stop();
    p = await startPlatform({ dataDir, auth: { adminPassword: 'first-password' } });
    assert.deepEqual([p.auth.verifyToken(api)?.username, p.auth.verifyToken(editor)?.username], ['admin', 'admin']);
    await p.stop();
    p = await startPlatform({ dataDir, auth: { adminPassword: 'second-password' } });
    try {
      assert.deepEqual([p.auth.verifyToken(api), p.auth.verifyToken(editor)], [null, null]);
      assert.ok(p.auth.verifyToken((await p.auth.login('admin', 'second-password', '127.0.0.1')).token));
    } finally {
      await p.stop();
    }
    p = await startPlatform({ dataDir, auth: { adminPassword: 'second-password' } });
    try {
      assert.deepEqual([p.auth.verifyToken(api), p.auth.verifyToken(editor)], [null, null], 'revoked on disk too');
    } finally {
      await p.stop();
    }
  });

  it('stores the admin password only as a bcrypt hash', async () => {
    const users = await (await (platform as any).auth.users).all();
    assert.equal(users.length, 1);
    assert.match(users[0].passwordHash, /^\$2[aby]\$/);
    assert.ok(!JSON.stringify(users).includes('test-admin-password'));
  });

  it('expires user tokens', async () => {
    let now = Date.now();
    const p = await startPlatform({ now: () => now, auth: { userTokenTtlSeconds: 60 } });
    try {
      const { token } = await p.auth.login('admin', 'test-admin-password', 'x');
      assert.ok(p.auth.verifyToken(token));
      now += 61_000;
      assert.equal(p.auth.verifyToken(token), null);
    } finally {
      await p.stop();
    }
  });
});
