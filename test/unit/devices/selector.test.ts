import assert from 'node:assert/strict';
import { matchesSelector, parseSelector } from '../../../runtime/devices/selector';

describe('label selectors', () => {
  const labels = { site: 'north', tier: 'canary', env: 'prod' };
  const matches = (s: string) => matchesSelector(labels, parseSelector(s));

  it('match equality, inequality, presence and absence, all required', () => {
    assert.ok(matches('site=north'));
    assert.ok(matches('site==north, tier=canary'));
    assert.ok(matches('site!=south'));
    assert.ok(matches('env'));
    assert.ok(matches('!legacy'));
    assert.ok(!matches('site=south'));
    assert.ok(!matches('site=north,tier!=canary'));
    assert.ok(!matches('legacy'));
    assert.ok(!matches('!env'));
  });

  it('treat an empty selector as matching everything', () => {
    assert.ok(matches(''));
    assert.ok(matches('   '));
  });

  it('reject malformed selectors with FF_INVALID_SELECTOR', () => {
    for (const s of ['=north', 'a.b=c', 'site=north,', 'site=no,rth=x=y', 'si te=x', 'site!']) {
      assert.throws(() => parseSelector(s), { code: 'FF_INVALID_SELECTOR' }, s);
    }
  });

  it('allow an empty value, which matches an empty label', () => {
    assert.ok(matchesSelector({ note: '' }, parseSelector('note=')));
  });
});
