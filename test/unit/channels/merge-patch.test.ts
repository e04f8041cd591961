import assert from 'node:assert/strict';
import { mergePatch } from '../../../runtime/channels/merge-patch';

describe('JSON Merge Patch (RFC 7386)', () => {
  // The test vectors of RFC 7386, appendix A.
  const vectors: Array<[unknown, unknown, unknown]> = [
    [{ a: 'b' }, { a: 'c' }, { a: 'c' }],
    [{ a: 'b' }, { b: 'c' }, { a: 'b', b: 'c' }],
    [{ a: 'b' }, { a: null }, {}],
    [{ a: 'b', b: 'c' }, { a: null }, { b: 'c' }],
    [{ a: ['b'] }, { a: 'c' }, { a: 'c' }],
    [{ a: 'c' }, { a: ['b'] }, { a: ['b'] }],
    [{ a: { b: 'c' } }, { a: { b: 'd', c: null } }, { a: { b: 'd' } }],
    [{ a: [{ b: 'c' }] }, { a: [1] }, { a: [1] }],
    [['a', 'b'], ['c', 'd'], ['c', 'd']],
    [{ a: 'b' }, ['c'], ['c']],
    [{ a: 'foo' }, null, null],
    [{ a: 'foo' }, 'bar', 'bar'],
    [{ e: null }, { a: 1 }, { e: null, a: 1 }],
    [[1, 2], { a: 'b', c: null }, { a: 'b' }],
    [{}, { a: { bb: { ccc: null } } }, { a: { bb: {} } }],
  ];
  vectors.forEach(([target, patch, expected], i) => {
    it(`matches RFC 7386 example ${i + 1}`, () => {
      assert.deepEqual(mergePatch(target, patch), expected);
    });
  });

  it('merges nested objects and leaves the target unchanged', () => {
    const target = { s: { t: 1, u: { v: 2 } }, keep: [1, 2] };
    const snapshot = structuredClone(target);
    const result = mergePatch(target, { s: { u: { w: 3 } } });
    assert.deepEqual(result, { s: { t: 1, u: { v: 2, w: 3 } }, keep: [1, 2] });
    assert.deepEqual(target, snapshot);
  });

  it('treats a "__proto__" key as data, not as the prototype', () => {
    const patch = JSON.parse('{"__proto__": {"polluted": true}, "a": 1}');
    const result = mergePatch({}, patch) as Record<string, unknown>;
    assert.equal(Object.getPrototypeOf(result), Object.prototype);
    assert.deepEqual(Object.getOwnPropertyDescriptor(result, '__proto__')?.value, { polluted: true });
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });
});
