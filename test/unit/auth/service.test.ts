import assert from 'node:assert/strict';
import type { Platform } from '../../../runtime';
import { startPlatform } from '../../support/platform';

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
