import type { Logger } from './log';
import type { NotifyOptions } from './notify/service';
import type { OtaOptions } from './ota/service';
import type { FsyncMode, StoreIo } from './store/data-file';

/**
 * What createPlatform() takes. settings.ts builds this from the environment and documents every
 * default; tests build it directly (often with `dataDir: null` for an in-memory store).
 */
export interface PlatformOptions {
  /** Root of the platform's data files. null: keep everything in memory. */
  dataDir: string | null;
  mqtt: {
    /** TCP port of the MQTT listener; 0 picks a free port; null: no TCP listener. */
    port: number | null;
    host: string;
  };
  ingest: {
    /** Largest accepted message payload, in bytes (MQTT and HTTP alike). */
    maxPayloadBytes: number;
    /** Deepest accepted nesting of objects and arrays in a payload. */
    maxDepth: number;
    /** Most channels one device may have. */
    maxChannelsPerDevice: number;
    /** Largest a channel's aggregate may grow, as JSON bytes. */
    maxAggregateBytes: number;
  };
  retention: {
    /** Default maximum age of a channel's messages, in seconds. */
    maxAgeSeconds: number;
    /** Default maximum number of messages a channel keeps. */
    maxCount: number;
    /** How often the background trimmer runs, in seconds. */
    intervalSeconds: number;
  };
  store: {
    /** How many files the message log is spread over (fixed once data exists). */
    messageShards: number;
    /** How often aggregates are checkpointed to disk, in ms (the log replays the rest on start). */
    checkpointIntervalMs: number;
    /** `batch`: fdatasync after every append (one per group commit), so acknowledged data survives a power cut. */
    fsync: FsyncMode;
    /** The file operations the store writes with; tests inject faults here (a full disk). Default: node:fs. */
    io?: StoreIo;
    /**
     * Memory for retained messages, in bytes; the oldest are trimmed to stay within it. null: half of what V8's
     * heap limit leaves after 128 MB for the rest of the server.
     */
    memoryBudgetBytes: number | null;
    /** At start, delete the oldest messages of a history that does not fit the budget instead of refusing to start. */
    trimToBudgetOnStart: boolean;
  };
  /** Snowflake worker id, 0..1023: distinct per process writing to the same data. */
  workerId: number;
  auth: {
    /** Admin password from the environment; when unset one is generated on first start. */
    adminPassword?: string;
    /** Lifetime of a REST API user token and of an editor session, in seconds. */
    userTokenTtlSeconds: number;
    /** bcrypt cost factor for user passwords. */
    bcryptRounds: number;
    /** Failed logins allowed per (username, client address) before that pair is locked (429). */
    maxFailedLogins: number;
    /** The first lock, in seconds (it doubles with each further failure), and how long a quiet pair is remembered. */
    loginWindowSeconds: number;
  };
  /** Notifications: SMTP, VAPID, retries, concurrency (see NotifyOptions). */
  notify: NotifyOptions;
  /** OTA updates: artifact limits. */
  ota: OtaOptions;
  logger?: Logger;
  /** The clock, injectable for tests. */
  now?: () => number;
}

export type PartialPlatformOptions = {
  [K in keyof PlatformOptions]?: PlatformOptions[K] extends object ? Partial<PlatformOptions[K]> : PlatformOptions[K];
};

export const DEFAULT_OPTIONS: PlatformOptions = {
  dataDir: './data',
  mqtt: { port: 1883, host: '0.0.0.0' },
  ingest: { maxPayloadBytes: 256 * 1024, maxDepth: 32, maxChannelsPerDevice: 1000, maxAggregateBytes: 1024 * 1024 },
  retention: { maxAgeSeconds: 30 * 24 * 3600, maxCount: 100_000, intervalSeconds: 60 },
  store: { messageShards: 1, checkpointIntervalMs: 1000, fsync: 'off', memoryBudgetBytes: null, trimToBudgetOnStart: false },
  workerId: 0,
  auth: { userTokenTtlSeconds: 24 * 3600, bcryptRounds: 10, maxFailedLogins: 10, loginWindowSeconds: 300 },
  notify: {
    smtp: null,
    vapidSubject: 'mailto:fieldflow@localhost',
    maxAttempts: 6,
    backoffBaseMs: 5000,
    backoffMaxMs: 10 * 60_000,
    concurrency: 4,
    busySendRate: 200,
    maxHistory: 20_000,
    allowPrivate: [],
  },
  ota: { maxArtifactBytes: 256 * 1024 * 1024 },
};

export function resolveOptions(partial: PartialPlatformOptions = {}): PlatformOptions {
  const d = DEFAULT_OPTIONS;
  return {
    ...d,
    ...partial,
    dataDir: partial.dataDir === undefined ? d.dataDir : partial.dataDir,
    mqtt: { ...d.mqtt, ...partial.mqtt },
    ingest: { ...d.ingest, ...partial.ingest },
    retention: { ...d.retention, ...partial.retention },
    store: { ...d.store, ...partial.store },
    auth: { ...d.auth, ...partial.auth },
    notify: { ...d.notify, ...partial.notify },
    ota: { ...d.ota, ...partial.ota },
  } as PlatformOptions;
}
