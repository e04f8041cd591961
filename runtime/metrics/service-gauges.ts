import { Gauge, type Registry } from 'prom-client';
import type { Readiness } from '../health';
import type { WriteFailure } from '../store/write-health';
import type { MemoryUsage } from '../store/memory-model';

/** What the service gauges read at scrape time; createPlatform() wires these to the services. */
export interface MetricSources {
  version: string;
  /** Devices with a live MQTT connection (0 before the broker is up). */
  connectedDevices(): number;
  registeredDevices(): number;
  notify(): { inbox: number; outboxDepth: number; deliveries: Record<string, number> };
  rollouts(): Record<string, number>;
  readiness(): Readiness;
  writeFailures(): WriteFailure[];
  /** The message history's memory against its budget. */
  memory(): MemoryUsage;
}

/** Gauges that read the services when scraped, so nothing on the hot paths keeps them up to date. */
export function serviceGauges(registry: Registry, s: MetricSources): void {
  const registers = [registry];
  new Gauge({ name: 'fieldflow_info', help: 'Always 1; the version is a label.', labelNames: ['version'], registers }).set({ version: s.version }, 1);
  new Gauge({
    name: 'fieldflow_devices_connected',
    help: 'Devices with at least one live MQTT connection (TCP or WebSocket).',
    registers,
    collect() {
      this.set(s.connectedDevices());
    },
  });
  new Gauge({
    name: 'fieldflow_devices_registered',
    help: 'Devices registered.',
    registers,
    collect() {
      this.set(s.registeredDevices());
    },
  });
  // The three notification gauges read one snapshot; each collect() takes its own, which costs
  // one pass over the outbox per gauge (a few thousand entries at most, bounded by the history).
  new Gauge({
    name: 'fieldflow_notify_inbox_depth',
    help: 'Events matched by a subscription and waiting to be routed to the outbox.',
    registers,
    collect() {
      this.set(s.notify().inbox);
    },
  });
  new Gauge({
    name: 'fieldflow_notify_outbox_depth',
    help: 'Deliveries not finished: queued, held by quiet hours, or being sent.',
    registers,
    collect() {
      this.set(s.notify().outboxDepth);
    },
  });
  new Gauge({
    name: 'fieldflow_notify_deliveries',
    help: 'Deliveries held, by status; finished ones (sent, dead, cancelled) up to FIELDFLOW_NOTIFY_HISTORY.',
    labelNames: ['status'],
    registers,
    collect() {
      for (const [status, n] of Object.entries(s.notify().deliveries)) this.set({ status }, n);
    },
  });
  new Gauge({
    name: 'fieldflow_ota_rollouts',
    help: 'OTA rollouts by status.',
    labelNames: ['status'],
    registers,
    collect() {
      for (const [status, n] of Object.entries(s.rollouts())) this.set({ status }, n);
    },
  });
  new Gauge({
    name: 'fieldflow_storage_write_failing',
    help: '1 for each storage target whose latest write failed.',
    labelNames: ['source'],
    registers,
    collect() {
      // A target that recovered must disappear, not linger at its last value.
      this.reset();
      for (const f of s.writeFailures()) this.set({ source: f.source }, 1);
    },
  });
  new Gauge({
    name: 'fieldflow_ready',
    help: '1 when GET /api/v1/health/ready answers 200.',
    registers,
    collect() {
      this.set(s.readiness().ready ? 1 : 0);
    },
  });
  new Gauge({
    name: 'fieldflow_history_memory_bytes',
    help: "Estimated heap bytes of the retained message history (kind=estimated) and its budget (kind=budget), FIELDFLOW_MEMORY_BUDGET_MB.",
    labelNames: ['kind'],
    registers,
    collect() {
      const m = s.memory();
      this.set({ kind: 'estimated' }, m.estimatedBytes);
      this.set({ kind: 'budget' }, m.budgetBytes);
    },
  });
  new Gauge({
    name: 'fieldflow_history_memory_ratio',
    help: 'Estimated history memory over its budget: from 0.8 the log warns, at 1 the oldest messages are trimmed.',
    registers,
    collect() {
      this.set(s.memory().ratio);
    },
  });
  new Gauge({
    name: 'fieldflow_health_check_ok',
    help: '1 when the named readiness check passes, 0 when it fails.',
    labelNames: ['check'],
    registers,
    collect() {
      this.reset();
      for (const c of s.readiness().checks) this.set({ check: c.name }, c.ok ? 1 : 0);
    },
  });
}
