import { Histogram, Registry } from 'prom-client';
import { ingestMeter, type IngestMeter } from './ingest';
import { processMetrics } from './process';
import { serviceGauges, type MetricSources } from './service-gauges';

export type { IngestMeter, IngestTransport } from './ingest';
export type { MetricSources } from './service-gauges';

/**
 * The metrics of one platform, in its own registry: tests run several platforms in one process,
 * so nothing goes into prom-client's global registry.
 */
export interface PlatformMetrics {
  readonly registry: Registry;
  /** Ingestion counts stored and refused device messages here. */
  readonly ingest: IngestMeter;
  /** The message log reports each durable group-commit write here. */
  readonly commit: (messages: number, seconds: number) => void;
  /** Add the gauges that read the services (once they exist). */
  watch(sources: MetricSources): void;
  /** Start and stop the event-loop sampler with the platform. */
  start(): void;
  stop(): void;
  /** Everything, in the Prometheus text exposition format. */
  render(): Promise<string>;
  readonly contentType: string;
}

/** Batch sizes are powers of two up to the group commit's limit of 4096 messages. */
const BATCH_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096];
const WRITE_SECONDS_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

/** The metrics of a new platform: counters and histograms now, service gauges once watch() is called. */
export function createMetrics(): PlatformMetrics {
  const registry = new Registry();
  const batch = new Histogram({
    name: 'fieldflow_group_commit_batch_messages',
    help: 'Messages per message-log write (group commit).',
    buckets: BATCH_BUCKETS,
    registers: [registry],
  });
  const write = new Histogram({
    name: 'fieldflow_group_commit_write_seconds',
    help: 'Time from the start of a message-log write until it is durable.',
    buckets: WRITE_SECONDS_BUCKETS,
    registers: [registry],
  });
  const proc = processMetrics(registry);
  let watching = false;
  return {
    registry,
    ingest: ingestMeter(registry),
    commit(messages, seconds) {
      batch.observe(messages);
      write.observe(seconds);
    },
    watch(sources) {
      if (watching) throw new Error('the metrics already watch the services');
      watching = true;
      serviceGauges(registry, sources);
    },
    start: () => proc.start(),
    stop: () => proc.stop(),
    render: () => registry.metrics(),
    contentType: registry.contentType,
  };
}
