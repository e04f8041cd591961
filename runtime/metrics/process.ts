import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import { Gauge, type Registry } from 'prom-client';

/** Event-loop delay sampling interval, in ms: fine enough to see a 20 ms stall, cheap enough to leave on. */
const LAG_RESOLUTION_MS = 10;

/** The quantiles of event-loop lag reported per scrape (1 is the maximum). */
const LAG_QUANTILES = [0.5, 0.99, 1] as const;

export interface ProcessMetrics {
  /** Start sampling event-loop delay (the platform's start). */
  start(): void;
  /** Stop sampling: a stopped platform leaves no sampler behind in a process that outlives it. */
  stop(): void;
}

/**
 * Event-loop lag, heap and resident memory, as `fieldflow_*` gauges read at scrape time. Not
 * prom-client's default metrics: those start samplers that cannot be stopped, and tests run several
 * platforms in one process.
 */
export function processMetrics(registry: Registry): ProcessMetrics {
  let lag: IntervalHistogram | null = null;
  new Gauge({
    name: 'fieldflow_event_loop_lag_seconds',
    help: 'Event-loop delay since the previous scrape: median, 99th percentile and maximum (quantile 1).',
    labelNames: ['quantile'],
    registers: [registry],
    collect() {
      if (!lag || lag.count === 0) {
        for (const q of LAG_QUANTILES) this.set({ quantile: String(q) }, 0);
        return;
      }
      for (const q of LAG_QUANTILES) this.set({ quantile: String(q) }, (q === 1 ? lag.max : lag.percentile(q * 100)) / 1e9);
      // Each scrape sees the window since the one before, so a stall shows up once, when it happened.
      lag.reset();
    },
  });
  const memory = (name: string, help: string, read: (m: NodeJS.MemoryUsage) => number) =>
    new Gauge({
      name,
      help,
      registers: [registry],
      collect() {
        this.set(read(process.memoryUsage()));
      },
    });
  memory('fieldflow_process_resident_memory_bytes', 'Resident set size of the process.', (m) => m.rss);
  memory('fieldflow_heap_used_bytes', 'V8 heap in use.', (m) => m.heapUsed);
  memory('fieldflow_heap_total_bytes', 'V8 heap allocated.', (m) => m.heapTotal);
  // The message log's index lives in typed arrays, outside the V8 heap.
  memory('fieldflow_external_memory_bytes', 'Memory of objects outside the V8 heap (buffers, typed arrays).', (m) => m.external);
  return {
    start() {
      if (lag) return;
      lag = monitorEventLoopDelay({ resolution: LAG_RESOLUTION_MS });
      lag.enable();
    },
    stop() {
      lag?.disable();
      lag = null;
    },
  };
}
