import assert from 'node:assert/strict';
import type { Platform } from '../../../runtime';
import { createLogger } from '../../../runtime/log';
import { startPlatform } from '../../support/platform';
import { until } from '../../support/until';

describe('channels within a memory budget', () => {
  const BUDGET = 100 * 1024;
  let platform: Platform;
  let lines: string[];
  let devices: string[];

  beforeEach(async () => {
    lines = [];
    platform = await startPlatform({ logger: createLogger('info', (l) => lines.push(l)), store: { memoryBudgetBytes: BUDGET } });
    devices = [];
    for (let i = 0; i < 3; i++) devices.push((await platform.devices.create({ name: `meter-${i}` })).device.id);
  });
  afterEach(() => platform.stop());

  /** Publish `n` readings one at a time (one write each, as a fleet at normal rates does), round robin. */
  async function publish(n: number, onEach: () => void = () => undefined): Promise<Map<string, string[]>> {
    const sent = new Map<string, string[]>(devices.map((d) => [d, []]));
    for (let i = 0; i < n; i++) {
      const device = devices[i % devices.length];
      sent.get(device)!.push((await platform.channels.publish(device, 'power', { i, watts: 100 + i })).id);
      onEach();
    }
    return sent;
  }

  it('reports ok, then warn from 80% of the budget, then full from 100%, and warns in the log once', async () => {
    const states: string[] = [];
    await publish(200, () => {
      const { state } = platform.channels.memoryUsage();
      if (states[states.length - 1] !== state) states.push(state);
    });
    assert.deepEqual(states.slice(0, 3), ['ok', 'warn', 'full']);
    const usage = await until(async () => platform.channels.memoryUsage(), (u) => u.state !== 'full');
    assert.equal(usage.state, 'warn');
    assert.equal(usage.budgetBytes, BUDGET);
    assert.ok(usage.ratio > 0.8 && usage.ratio < 1 && usage.estimatedBytes === Math.round(usage.ratio * BUDGET), JSON.stringify(usage));
    const warnings = lines.filter((l) => l.includes('% of its memory budget'));
    assert.equal(warnings.length, 1, lines.join('\n'));
    assert.match(warnings[0], /\[warn\].*FIELDFLOW_MEMORY_BUDGET_MB/);
  });

  it('shows the warn state in readiness (still ready) and the ratio and bytes in the metrics', async () => {
    await publish(200);
    await until(async () => platform.channels.memoryUsage(), (u) => u.state === 'warn');
    const readiness = platform.health.readiness();
    const memory = readiness.checks.find((c) => c.name === 'memory')!;
    assert.equal(readiness.ready, true, 'trimming enforces the budget, so the server stays ready');
    assert.equal((memory.detail as { state: string }).state, 'warn');
    const text = await platform.metrics.registry.metrics();
    const ratio = Number(/^fieldflow_history_memory_ratio (\S+)$/m.exec(text)?.[1]);
    assert.ok(ratio >= 0.8 && ratio < 1, `ratio ${ratio}`);
    assert.match(text, new RegExp(`^fieldflow_history_memory_bytes\\{kind="budget"\\} ${BUDGET}$`, 'm'));
  });

  it('trims the oldest messages of every channel at the budget, keeps the newest and the aggregates, and logs what went and why', async () => {
    const sent = await publish(300);
    await until(async () => platform.channels.memoryUsage(), (u) => u.state !== 'full');
    let kept = 0;
    for (const [device, ids] of sent) {
      const items = (await platform.channels.history(device, 'power', { order: 'asc', limit: 1000 })).items.map((m) => m.id);
      assert.ok(items.length > 0 && items.length < ids.length, `${device} kept ${items.length} of ${ids.length}`);
      assert.deepEqual(items, ids.slice(ids.length - items.length), 'the newest messages are the ones kept');
      kept += items.length;
      assert.deepEqual(platform.channels.aggregate(device, 'power').data, { i: 297 + devices.indexOf(device), watts: 397 + devices.indexOf(device) });
    }
    const trims = lines.filter((l) => l.includes('reached its memory budget'));
    assert.ok(trims.length > 0, lines.join('\n'));
    const removed = trims.map((l) => JSON.parse(l.slice(l.indexOf('{')))).reduce((n, f) => n + f.removed, 0);
    assert.equal(removed, 300 - kept);
    assert.match(trims[0], /\[warn\].*"channels":3.*"before":"\d{4}-/);
  });
});
