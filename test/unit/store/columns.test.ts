import assert from 'node:assert/strict';
import { StreamColumns } from '../../../runtime/store/columns';

describe('stream index columns', () => {
  it('keep rows in order through growth, trims from the front and reuse of freed space', () => {
    const cols = new StreamColumns();
    const removed: number[] = [];
    let next = 0;
    for (let round = 0; round < 50; round++) {
      for (let i = 0; i < 37; i++, next++) cols.push(1000 + next, next % 7, next, 0);
      cols.shift(29, (seg) => removed.push(seg));
    }
    assert.equal(cols.length, 50 * (37 - 29));
    assert.deepEqual(removed.slice(0, 3), [0, 1, 2]);
    for (let i = 0; i < cols.length; i++) assert.equal(cols.msAt(i), 1000 + removed.length + i);
  });

  it('find rows by (ms, low) with lower and upper bounds', () => {
    const cols = new StreamColumns();
    cols.push(10, 1, 0, 0);
    cols.push(10, 5, 0, 1);
    cols.push(11, 0, 0, 2);
    assert.equal(cols.lowerBound(10, 5), 1);
    assert.equal(cols.upperBound(10, 5), 2);
    assert.equal(cols.lowerBound(10, 3), 1);
    assert.equal(cols.lowerBound(9, 0), 0);
    assert.equal(cols.upperBound(11, 0), 3);
  });
});
