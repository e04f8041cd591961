import assert from 'node:assert/strict';
import { SendGovernor } from '../../../runtime/notify/governor';

const spin = (ms: number) => {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    // keep the event loop busy, as a flood of device messages does
  }
};
const turn = () => new Promise((r) => setImmediate(r));

describe('notification send governor', () => {
  it('paces work only while the event loop is busy and devices are sending', async () => {
    let ingested = 0;
    const g = new SendGovernor(100, () => ingested, 0.8, 50);
    g.start();
    try {
      // Busy without ingestion (a burst of alerts alone): no pacing.
      for (let i = 0; i < 6; i++) {
        spin(45);
        await turn();
      }
      assert.equal(g.pressed, false);
      assert.equal(g.available(), Infinity);
      // Busy with ingestion: paced to 100 per second, 5 per 50 ms tick.
      for (let i = 0; i < 6; i++) {
        ingested += 1000;
        spin(45);
        await turn();
      }
      assert.equal(g.pressed, true);
      assert.ok(g.available() <= 100, `at most the rate is available, got ${g.available()}`);
      g.spend(g.available());
      let woken = false;
      assert.equal(g.take(() => (woken = true)), false, 'nothing left: the send waits');
      // Ingestion stops: the next tick lifts the pacing and wakes the waiting work.
      await new Promise((r) => setTimeout(r, 120));
      assert.equal(g.pressed, false);
      assert.equal(woken, true);
      assert.equal(g.take(() => undefined), true);
    } finally {
      g.stop();
    }
  });
});
