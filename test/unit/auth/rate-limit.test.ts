import assert from 'node:assert/strict';
import { FailureLimiter } from '../../../runtime/auth/rate-limit';

describe('the failed-login limiter', () => {
  it('keeps a locked key when ten thousand new keys push the table past its bound', () => {
    const now = Date.now();
    const limiter = new FailureLimiter(2, 60_000, () => now);
    limiter.fail('attacker');
    assert.equal(limiter.fail('attacker'), true);
    for (let i = 0; i <= 10_001; i++) limiter.fail(`made-up-${i}`);
    assert.equal(limiter.retryAfter('attacker'), 60, 'the lock is still there');
  });
});
