import { Counter, type Registry } from 'prom-client';

/** How a device message arrived. */
export type IngestTransport = 'mqtt' | 'http';

/**
 * What ingestion reports for metrics. Services see this interface, not the metrics library, so
 * counting stays one call on the hot path.
 */
export interface IngestMeter {
  /** A device message (or tag commit, or OTA report) was stored. */
  stored(transport: IngestTransport): void;
  /** A device message was refused or could not be stored; `code` is its catalog code. */
  refused(transport: IngestTransport, code: string): void;
}

/** Catalog codes are FF_ plus capitals; anything else is counted as FF_INTERNAL, so labels stay few. */
const CODE = /^FF_[A-Z0-9_]{1,60}$/;

export function ingestMeter(registry: Registry): IngestMeter {
  // Plain numbers on the hot path, copied into the counters when scraped: prom-client's inc() hashes
  // its labels on every call, a few hundred nanoseconds per message.
  const stored: Record<IngestTransport, number> = { mqtt: 0, http: 0 };
  const refused = new Map<string, { transport: IngestTransport; code: string; n: number }>();
  new Counter({
    name: 'fieldflow_messages_ingested_total',
    help: 'Device messages stored, by transport (mqtt, http).',
    labelNames: ['transport'],
    registers: [registry],
    collect() {
      this.reset();
      for (const transport of ['mqtt', 'http'] as const) this.inc({ transport }, stored[transport]);
    },
  });
  new Counter({
    name: 'fieldflow_messages_refused_total',
    help: 'Device messages refused or not stored, by transport and error code.',
    labelNames: ['transport', 'code'],
    registers: [registry],
    collect() {
      this.reset();
      for (const { transport, code, n } of refused.values()) this.inc({ transport, code }, n);
    },
  });
  return {
    stored(transport) {
      stored[transport]++;
    },
    refused(transport, code) {
      const label = CODE.test(code) ? code : 'FF_INTERNAL';
      const key = `${transport} ${label}`;
      const entry = refused.get(key);
      if (entry) entry.n++;
      else refused.set(key, { transport, code: label, n: 1 });
    },
  };
}
