import assert from 'node:assert/strict';
import { Evaluator, type Outcome } from '../../../runtime/triggers/evaluator';
import { validateTrigger, type TriggerSpec } from '../../../runtime/triggers/model';
import { MISSING } from '../../../runtime/triggers/path';

type Spec = Omit<TriggerSpec, 'name'>;

/** Feed values one second apart (or at given times) and list what fired and reset. */
function run(spec: Spec, values: Array<unknown | [number, unknown]>, until?: number) {
  const evaluator = new Evaluator(validateTrigger({ name: 't', channel: 'c', path: 'v', ...spec }));
  const state = evaluator.initial();
  const events: string[] = [];
  const record = (outcomes: Outcome[]) => {
    for (const o of outcomes) events.push(o.type === 'fire' ? `fire@${o.fire.ts}:${o.fire.edge}:${String(o.fire.value)}` : `reset@${o.ts}`);
  };
  values.forEach((v, i) => {
    const [ts, value] = Array.isArray(v) ? v : [(i + 1) * 1000, v];
    record(evaluator.observe(state, value, ts as number, String(i)).outcomes);
  });
  if (until !== undefined) record(evaluator.advance(state, until).outcomes);
  return { events, state, evaluator };
}

describe('the trigger state machine', () => {
  describe('cross', () => {
    const noise = [79, 81, 79.5, 80.2, 79.9, 80.1, 79, 82];

    it('fires on every upward crossing of noise around the threshold when there is no deadband', () => {
      const { events } = run({ kind: 'cross', threshold: 80 }, noise);
      assert.deepEqual(events, ['fire@2000:rising:81', 'reset@3000', 'fire@4000:rising:80.2', 'reset@5000', 'fire@6000:rising:80.1', 'reset@7000', 'fire@8000:rising:82']);
    });

    it('fires once for the same noise with a deadband, and re-arms only below threshold minus deadband', () => {
      const { events } = run({ kind: 'cross', threshold: 80, deadband: 2 }, [...noise, 77.9, 80]);
      assert.deepEqual(events, ['fire@2000:rising:81', 'reset@9000', 'fire@10000:rising:80']);
    });

    it('takes the first value as the starting point: a device already above the threshold does not fire', () => {
      assert.deepEqual(run({ kind: 'cross', threshold: 80 }, [90, 95, 85]).events, []);
    });

    it('fires falling crossings with the deadband above the threshold', () => {
      const { events } = run({ kind: 'cross', threshold: 20, direction: 'falling', deadband: 1 }, [25, 19, 20.5, 19, 21.5, 20]);
      assert.deepEqual(events, ['fire@2000:falling:19', 'reset@5000', 'fire@6000:falling:20']);
    });

    it('fires on both edges: up at 80, and back down only below 75', () => {
      const { events } = run({ kind: 'cross', threshold: 80, direction: 'both', deadband: 5 }, [70, 81, 77, 79, 74, 80]);
      assert.deepEqual(events, ['fire@2000:rising:81', 'fire@5000:falling:74', 'reset@5000', 'fire@6000:rising:80']);
    });

    it('ignores values that are not finite numbers', () => {
      assert.deepEqual(run({ kind: 'cross', threshold: 80 }, [70, '90', null, true, MISSING, { v: 1 }, 85]).events, ['fire@7000:rising:85']);
    });
  });

  describe('holding for a duration', () => {
    it('fires at the end of the hold, stamped with the deadline, when the condition held throughout', () => {
      const { events } = run({ kind: 'cross', threshold: 80, forSeconds: 120 }, [[0, 70], [1000, 85], [60_000, 90], [121_000, 88]]);
      assert.deepEqual(events, ['fire@121000:rising:85']);
    });

    it('cancels the hold when the condition stops holding first, and starts a new one on the next crossing', () => {
      const { events, state } = run({ kind: 'cross', threshold: 80, forSeconds: 120 }, [[0, 70], [1000, 85], [60_000, 75], [70_000, 85]], 150_000);
      assert.deepEqual(events, []);
      assert.equal(state.pending?.deadline, 190_000);
    });

    it('fires a due hold when time advances with no new message', () => {
      const { events } = run({ kind: 'cross', threshold: 80, forSeconds: 10 }, [[0, 70], [1000, 85]], 11_000);
      assert.deepEqual(events, ['fire@11000:rising:85']);
    });

    it('resumes from persisted state: a copied state fires at the same deadline', () => {
      const first = run({ kind: 'cross', threshold: 80, forSeconds: 10 }, [[0, 70], [1000, 85]]);
      const restored = JSON.parse(JSON.stringify(first.state));
      const out = first.evaluator.advance(restored, 30_000).outcomes;
      assert.deepEqual(out.map((o) => o.type === 'fire' && o.fire.ts), [11_000]);
      assert.deepEqual(first.evaluator.advance(restored, 40_000).outcomes, []);
    });
  });

  describe('change', () => {
    it('fires on a transition from one value to another, and resets when the value moves on', () => {
      const { events } = run({ kind: 'change', from: 'idle', to: 'fault' }, ['idle', 'running', 'fault', 'idle', 'fault', 'fault', 'idle']);
      assert.deepEqual(events, ['fire@5000:change:fault', 'reset@7000']);
    });

    it('fires on any change when from and to are left out', () => {
      assert.deepEqual(run({ kind: 'change' }, [1, 1, 2, 2, true]).events, ['fire@3000:change:2', 'reset@5000', 'fire@5000:change:true']);
    });
  });

  describe('range', () => {
    it('fires on entering the band, and with a deadband ignores noise at its edges', () => {
      const { events } = run({ kind: 'range', low: 10, high: 20, deadband: 1 }, [5, 10, 9.5, 10.2, 8.9, 15, 21, 20.5, 22]);
      assert.deepEqual(events, ['fire@2000:enter:10', 'reset@5000', 'fire@6000:enter:15', 'reset@9000']);
    });

    it('fires on leaving the band', () => {
      assert.deepEqual(run({ kind: 'range', low: 10, high: 20, on: 'leave' }, [15, 21, 15, 9]).events, ['fire@2000:leave:21', 'reset@3000', 'fire@4000:leave:9']);
    });
  });

  describe('no data', () => {
    it('fires once when the silence reaches the duration, and re-arms when data returns', () => {
      const spec: Spec = { kind: 'nodata', durationSeconds: 60, path: undefined };
      const evaluator = new Evaluator(validateTrigger({ name: 't', channel: 'c', ...spec }));
      const state = evaluator.initial();
      evaluator.observe(state, undefined, 1000, 'a');
      assert.equal(evaluator.nextDeadline(state), 61_000);
      assert.deepEqual(evaluator.advance(state, 60_999).outcomes, []);
      const fired = evaluator.advance(state, 70_000).outcomes;
      assert.deepEqual(fired.map((o) => o.type === 'fire' && [o.fire.ts, o.fire.edge, o.fire.since]), [[61_000, 'silent', 1000]]);
      assert.deepEqual(evaluator.advance(state, 500_000).outcomes, [], 'fires once');
      assert.equal(evaluator.nextDeadline(state), null);
      assert.deepEqual(evaluator.observe(state, undefined, 600_000, 'b').outcomes, [{ type: 'reset', ts: 600_000 }]);
      assert.equal(evaluator.nextDeadline(state), 660_000);
    });
  });
});
