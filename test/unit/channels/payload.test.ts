import assert from 'node:assert/strict';
import { parsePayload, serializeData } from '../../../runtime/channels/payload';

const limits = { maxPayloadBytes: 1024, maxDepth: 4 };

describe('message payloads', () => {
  it('parse any JSON value and keep its text', () => {
    for (const text of ['{"a":1}', '[1,2]', '42', '"x"', 'true', 'null']) {
      const p = parsePayload(Buffer.from(text), limits);
      assert.deepEqual(p.data, JSON.parse(text));
      assert.equal(p.json, text);
    }
  });

  it('accept a UTF-8 byte order mark and surrounding whitespace', () => {
    assert.deepEqual(parsePayload(Buffer.from('\ufeff {"a":1}\n'), limits).data, { a: 1 });
  });

  it('refuse malformed JSON with FF_MALFORMED_JSON and no payload text in the message', () => {
    assert.throws(() => parsePayload(Buffer.from('{"secret": 12'), limits), (err: any) => {
      assert.equal(err.code, 'FF_MALFORMED_JSON');
      assert.ok(!err.message.includes('secret'));
      return true;
    });
    assert.throws(() => parsePayload(Buffer.alloc(0), limits), { code: 'FF_MALFORMED_JSON' });
  });

  it('refuse a payload over the byte limit before parsing it', () => {
    assert.throws(() => parsePayload(Buffer.alloc(1025, 0x20), limits), { code: 'FF_PAYLOAD_TOO_LARGE' });
    assert.doesNotThrow(() => parsePayload(Buffer.from(JSON.stringify('x'.repeat(1022))), limits));
  });

  it('refuse nesting deeper than the limit, even when the parser accepts it', () => {
    assert.doesNotThrow(() => parsePayload('[[[[1]]]]', limits));
    assert.throws(() => parsePayload('[[[[[1]]]]]', limits), { code: 'FF_PAYLOAD_TOO_DEEP' });
    const deep = '['.repeat(100_000) + ']'.repeat(100_000);
    assert.throws(() => parsePayload(deep, { maxPayloadBytes: 1e6, maxDepth: 32 }), (err: any) => ['FF_PAYLOAD_TOO_DEEP', 'FF_MALFORMED_JSON'].includes(err.code));
  });

  it('refuse numbers beyond a 64-bit float with FF_NUMBER_OUT_OF_RANGE at their path, and accept ones that only lose precision', () => {
    const cases: Array<[string, string]> = [
      ['1e999', '/'],
      ['{"v":1e999}', '/v'],
      ['{"a":[0,-1e400]}', '/a/1'],
      ['{"a/b":{"~":' + '9'.repeat(400) + '}}', '/a~1b/~0'],
    ];
    for (const [text, path] of cases) {
      assert.throws(() => parsePayload(text, limits), (err: any) => {
        assert.equal(err.code, 'FF_NUMBER_OUT_OF_RANGE');
        assert.deepEqual(err.errors.map((e: any) => e.path), [path]);
        return true;
      });
    }
    assert.deepEqual(parsePayload('{"v":1e-999,"w":1.7976931348623157e308}', limits).data, { v: 0, w: Number.MAX_VALUE });
    assert.throws(() => serializeData({ v: Infinity }, limits), { code: 'FF_NUMBER_OUT_OF_RANGE' });
    assert.throws(() => serializeData([1, NaN], limits), { code: 'FF_NUMBER_OUT_OF_RANGE' });
  });

  it('serialise flow data with the same limits, refusing what JSON cannot hold', () => {
    assert.deepEqual(serializeData({ at: new Date(0) }, limits).data, { at: '1970-01-01T00:00:00.000Z' });
    assert.throws(() => serializeData(undefined, limits), { code: 'FF_MALFORMED_JSON' });
    assert.throws(() => serializeData(() => 1, limits), { code: 'FF_MALFORMED_JSON' });
    assert.throws(() => serializeData({ big: 'x'.repeat(2000) }, limits), { code: 'FF_PAYLOAD_TOO_LARGE' });
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    assert.throws(() => serializeData(cyclic, limits), { code: 'FF_PAYLOAD_TOO_DEEP' });
  });
});
