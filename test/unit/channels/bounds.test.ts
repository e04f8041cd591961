import assert from 'node:assert/strict';
import { resolveBound } from '../../../runtime/channels/bounds';
import { timeToMinId } from '../../../runtime/ids/snowflake';

describe('history bounds', () => {
  const t = Date.parse('2026-11-22T10:00:00Z');

  it('take digit strings as message ids', () => {
    assert.equal(resolveBound('382892297957670912', 'after'), '382892297957670912');
  });

  it('take ISO times: inclusive after, exclusive before', () => {
    assert.equal(resolveBound('2026-11-22T10:00:00Z', 'before'), timeToMinId(t));
    assert.equal(BigInt(resolveBound('2026-11-22T10:00:00Z', 'after')!), BigInt(timeToMinId(t)) - 1n);
  });

  it('take Dates and millisecond numbers as times', () => {
    assert.equal(resolveBound(new Date(t), 'before'), timeToMinId(t));
    assert.equal(resolveBound(t, 'before'), timeToMinId(t));
  });

  it('reject values that are neither ids nor times with FF_INVALID_QUERY and the path', () => {
    assert.throws(() => resolveBound('yesterday-ish', 'after'), (err: any) => err.code === 'FF_INVALID_QUERY' && err.errors[0].path === '/after');
    assert.throws(() => resolveBound('99999999999999999999', 'before'), { code: 'FF_INVALID_QUERY' });
  });
});
