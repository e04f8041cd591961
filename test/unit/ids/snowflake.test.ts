import assert from 'node:assert/strict';
import { EPOCH_MS, SnowflakeGenerator, idToTime, isSnowflake, padId, timeToMinId, unpadId } from '../../../runtime/ids/snowflake';

describe('snowflake ids', () => {
  it('encode the millisecond they were made at', () => {
    const t = Date.UTC(2026, 10, 22, 12, 0, 0, 123);
    const id = new SnowflakeGenerator(7, () => t).next();
    assert.equal(idToTime(id), t);
  });

  it('are 63-bit decimal strings with the worker id in bits 12..21', () => {
    const id = new SnowflakeGenerator(1023, () => EPOCH_MS + 1).next();
    const value = BigInt(id);
    assert.ok(value < 1n << 63n);
    assert.equal(Number((value >> 12n) & 1023n), 1023);
    assert.ok(isSnowflake(id));
  });

  it('increase strictly within one millisecond, across 4096 ids and beyond', () => {
    const gen = new SnowflakeGenerator(0, () => EPOCH_MS + 5000);
    let prev = 0n;
    for (let i = 0; i < 10_000; i++) {
      const v = BigInt(gen.next());
      assert.ok(v > prev, `id ${i} did not increase`);
      prev = v;
    }
  });

  it('stay monotonic when the clock steps back', () => {
    let now = EPOCH_MS + 1_000_000;
    const gen = new SnowflakeGenerator(0, () => now);
    const before = BigInt(gen.next());
    now -= 60_000; // NTP step back by a minute
    const after = [gen.next(), gen.next(), gen.next()].map(BigInt);
    assert.ok(after[0] > before && after[1] > after[0] && after[2] > after[1]);
  });

  it('continue past an observed id when the clock is behind it (restart after a clock step)', () => {
    const stored = new SnowflakeGenerator(0, () => EPOCH_MS + 2_000_000).next();
    const gen = new SnowflakeGenerator(0, () => EPOCH_MS + 1_000_000);
    gen.observe(stored);
    assert.ok(BigInt(gen.next()) > BigInt(stored));
  });

  it('give time bounds: ids made at or after a time are >= timeToMinId(time)', () => {
    const t = EPOCH_MS + 123_456;
    const gen = new SnowflakeGenerator(5, () => t);
    const id = gen.next();
    assert.ok(BigInt(id) >= BigInt(timeToMinId(t)));
    assert.ok(BigInt(id) < BigInt(timeToMinId(t + 1)));
  });

  it('pad to a fixed width so string order is numeric order', () => {
    const small = '4194304';
    const large = '382892297957670912';
    assert.ok(small.localeCompare(large) > 0, 'unpadded strings sort wrongly');
    assert.ok(padId(small) < padId(large));
    assert.equal(unpadId(padId(small)), small);
    assert.equal(unpadId(padId('0')), '0');
  });

  it('reject strings that are not ids', () => {
    for (const s of ['', 'abc', '-1', '1.5', '99999999999999999999', '9223372036854775808']) assert.equal(isSnowflake(s), false, s);
    assert.equal(isSnowflake('9223372036854775807'), true);
  });

  it('refuse a worker id outside 0..1023', () => {
    assert.throws(() => new SnowflakeGenerator(1024), RangeError);
    assert.throws(() => new SnowflakeGenerator(-1), RangeError);
  });
});
