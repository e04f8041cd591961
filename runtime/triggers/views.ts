import type { Trigger } from './model';
import type { BacktestResult } from './backtest';
import { iso } from '../views';

export function triggerView(t: Trigger, running: boolean) {
  const { createdAt, updatedAt, ...rest } = t;
  return { ...rest, running, createdAt: iso(createdAt), updatedAt: iso(updatedAt) };
}

export function backtestView(r: BacktestResult) {
  return {
    from: iso(r.from),
    to: iso(r.to),
    devices: r.devices,
    scanned: r.scanned,
    count: r.count,
    truncated: r.truncated,
    elapsedMs: r.elapsedMs,
    fires: r.fires.map((f) => ({ device: f.device, ts: iso(f.ts), edge: f.edge, value: f.value, previous: f.previous, since: iso(f.since), messageId: f.messageId })),
  };
}
