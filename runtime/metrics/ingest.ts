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
  const stored = new Counter({
    name: 'fieldflow_messages_ingested_total',
    help: 'Device messages stored, by transport (mqtt, http).',
    labelNames: ['transport'],
    registers: [registry],
  });
  const refused = new Counter({
    name: 'fieldflow_messages_refused_total',
    help: 'Device messages refused or not stored, by transport and error code.',
    labelNames: ['transport', 'code'],
    registers: [registry],
  });
  // Children are looked up once: inc() on a label set hashes the labels every time.
  const storedBy = { mqtt: stored.labels('mqtt'), http: stored.labels('http') };
  // Both series exist from the start, so rate() over them has a first point at zero.
  storedBy.mqtt.inc(0);
  storedBy.http.inc(0);
  const refusedBy = new Map<string, ReturnType<typeof refused.labels>>();
  return {
    stored(transport) {
      storedBy[transport].inc();
    },
    refused(transport, code) {
      const label = CODE.test(code) ? code : 'FF_INTERNAL';
      const key = `${transport} ${label}`;
      let child = refusedBy.get(key);
      if (!child) refusedBy.set(key, (child = refused.labels(transport, label)));
      child.inc();
    },
  };
}
