/**
 * Fieldflow settings: the platform's options and Node-RED's settings, read from the environment.
 * Every option is listed here with its default. An invalid value stops the start with a message
 * naming the variable, rather than running with a surprise.
 */
import path from 'node:path';
import type { Platform, PartialPlatformOptions } from './runtime';
import type { LogLevel } from './runtime/log';

export interface ServerSettings {
  /** HTTP port of the editor, the REST API and MQTT over WebSocket. PORT, default 1880. */
  port: number;
  /** Interface to bind HTTP and MQTT to. HOST, default 0.0.0.0 (all). */
  host: string;
  /** Path of MQTT over WebSocket on the HTTP port. Fixed: /mqtt. */
  wsPath: string;
  /** Data directory. FIELDFLOW_DATA, default ./data. */
  dataDir: string;
  /** Log level of the platform and Node-RED. FIELDFLOW_LOG_LEVEL, default info (debug|info|warn|error). */
  logLevel: LogLevel;
  /** Key that encrypts Node-RED flow credentials. FIELDFLOW_CREDENTIAL_SECRET; default: a key generated once into <data>/platform/flows.key. */
  credentialSecret?: string;
  platform: PartialPlatformOptions;
}

type Env = Record<string, string | undefined>;

export function loadSettings(env: Env = process.env): ServerSettings {
  const read = new EnvReader(env);
  const dataDir = path.resolve(read.string('FIELDFLOW_DATA', './data'));
  const host = read.string('HOST', '0.0.0.0');
  const settings: ServerSettings = {
    port: read.port('PORT', 1880),
    host,
    wsPath: '/mqtt',
    dataDir,
    logLevel: read.oneOf('FIELDFLOW_LOG_LEVEL', ['debug', 'info', 'warn', 'error'], 'info') as LogLevel,
    credentialSecret: env.FIELDFLOW_CREDENTIAL_SECRET || undefined,
    platform: {
      dataDir,
      mqtt: {
        // MQTT_PORT, default 1883; "off" disables the TCP listener (WebSocket stays on).
        port: env.MQTT_PORT === 'off' ? null : read.port('MQTT_PORT', 1883),
        host,
      },
      ingest: {
        // FIELDFLOW_MAX_PAYLOAD_BYTES, default 262144 (256 KiB): largest message, MQTT and HTTP.
        maxPayloadBytes: read.int('FIELDFLOW_MAX_PAYLOAD_BYTES', 256 * 1024, 1, 64 * 1024 * 1024),
        // FIELDFLOW_MAX_DEPTH, default 32: deepest nesting of objects/arrays in a message.
        maxDepth: read.int('FIELDFLOW_MAX_DEPTH', 32, 1, 1000),
        // FIELDFLOW_MAX_CHANNELS_PER_DEVICE, default 1000.
        maxChannelsPerDevice: read.int('FIELDFLOW_MAX_CHANNELS_PER_DEVICE', 1000, 1, 1_000_000),
        // FIELDFLOW_MAX_AGGREGATE_BYTES, default 1048576 (1 MiB): largest a channel's aggregate may grow.
        maxAggregateBytes: read.int('FIELDFLOW_MAX_AGGREGATE_BYTES', 1024 * 1024, 1024, 256 * 1024 * 1024),
      },
      retention: {
        // FIELDFLOW_RETENTION_DAYS, default 30: default maximum message age (channels can override).
        maxAgeSeconds: Math.round(read.number('FIELDFLOW_RETENTION_DAYS', 30, 1 / 1440, 36500) * 86400),
        // FIELDFLOW_RETENTION_MAX_COUNT, default 100000: default maximum messages per channel.
        maxCount: read.int('FIELDFLOW_RETENTION_MAX_COUNT', 100_000, 1, 100_000_000),
        // FIELDFLOW_RETENTION_INTERVAL_SECONDS, default 60: how often the trimmer sweeps.
        intervalSeconds: read.int('FIELDFLOW_RETENTION_INTERVAL_SECONDS', 60, 1, 86400),
      },
      store: {
        // FIELDFLOW_MESSAGE_SHARDS, default 1: message log files (fixed once data exists). One file
        // gives the highest ingest rate; more files shorten compaction pauses of a large history.
        messageShards: read.int('FIELDFLOW_MESSAGE_SHARDS', 1, 1, 64),
        // FIELDFLOW_CHECKPOINT_MS, default 1000: how often aggregates are checkpointed.
        checkpointIntervalMs: read.int('FIELDFLOW_CHECKPOINT_MS', 1000, 10, 600_000),
      },
      // FIELDFLOW_WORKER_ID, default 0: snowflake worker id, 0..1023.
      workerId: read.int('FIELDFLOW_WORKER_ID', 0, 0, 1023),
      auth: {
        // FIELDFLOW_ADMIN_PASSWORD: the admin password. Unset: generated on first start and printed once.
        adminPassword: env.FIELDFLOW_ADMIN_PASSWORD || undefined,
        // FIELDFLOW_TOKEN_TTL_HOURS, default 24: lifetime of REST API user tokens.
        userTokenTtlSeconds: Math.round(read.number('FIELDFLOW_TOKEN_TTL_HOURS', 24, 1 / 60, 24 * 365) * 3600),
        // FIELDFLOW_BCRYPT_ROUNDS, default 10: bcrypt cost of user passwords.
        bcryptRounds: read.int('FIELDFLOW_BCRYPT_ROUNDS', 10, 4, 15),
        // FIELDFLOW_MAX_FAILED_LOGINS, default 10 per FIELDFLOW_LOGIN_WINDOW_SECONDS (default 300) per address.
        maxFailedLogins: read.int('FIELDFLOW_MAX_FAILED_LOGINS', 10, 1, 10_000),
        loginWindowSeconds: read.int('FIELDFLOW_LOGIN_WINDOW_SECONDS', 300, 1, 86400),
      },
      notify: {
        // The SMTP server for email endpoints. FIELDFLOW_SMTP_HOST unset: email endpoints are refused
        // (FF_MISSING_CREDENTIALS). FIELDFLOW_SMTP_PORT default 587; FIELDFLOW_SMTP_SECURE=true for TLS
        // from the start (port 465), otherwise STARTTLS when offered; FIELDFLOW_SMTP_REQUIRE_TLS=true
        // refuses servers without it; FIELDFLOW_SMTP_USER / FIELDFLOW_SMTP_PASS log in;
        // FIELDFLOW_SMTP_FROM default "Fieldflow <fieldflow@localhost>"; FIELDFLOW_SMTP_TLS_VERIFY=false
        // accepts a self-signed certificate; FIELDFLOW_SMTP_TIMEOUT_MS default 10000.
        smtp: env.FIELDFLOW_SMTP_HOST
          ? {
              host: env.FIELDFLOW_SMTP_HOST,
              port: read.port('FIELDFLOW_SMTP_PORT', 587),
              secure: read.bool('FIELDFLOW_SMTP_SECURE', false),
              requireTls: read.bool('FIELDFLOW_SMTP_REQUIRE_TLS', false),
              rejectUnauthorized: read.bool('FIELDFLOW_SMTP_TLS_VERIFY', true),
              user: env.FIELDFLOW_SMTP_USER || undefined,
              pass: env.FIELDFLOW_SMTP_PASS || undefined,
              from: read.string('FIELDFLOW_SMTP_FROM', 'Fieldflow <fieldflow@localhost>'),
              timeoutMs: read.int('FIELDFLOW_SMTP_TIMEOUT_MS', 10_000, 100, 600_000),
            }
          : null,
        // FIELDFLOW_VAPID_SUBJECT, default mailto:fieldflow@localhost: how push services reach the operator.
        vapidSubject: read.string('FIELDFLOW_VAPID_SUBJECT', 'mailto:fieldflow@localhost'),
        // FIELDFLOW_NOTIFY_MAX_ATTEMPTS, default 6: attempts before a delivery is dead-lettered.
        maxAttempts: read.int('FIELDFLOW_NOTIFY_MAX_ATTEMPTS', 6, 1, 100),
        // FIELDFLOW_NOTIFY_BACKOFF_MS, default 5000, doubling per attempt up to FIELDFLOW_NOTIFY_BACKOFF_MAX_MS (600000), with jitter.
        backoffBaseMs: read.int('FIELDFLOW_NOTIFY_BACKOFF_MS', 5000, 1, 3_600_000),
        backoffMaxMs: read.int('FIELDFLOW_NOTIFY_BACKOFF_MAX_MS', 600_000, 1, 86_400_000),
        // FIELDFLOW_NOTIFY_CONCURRENCY, default 4: sends in flight per endpoint.
        concurrency: read.int('FIELDFLOW_NOTIFY_CONCURRENCY', 4, 1, 256),
        // FIELDFLOW_NOTIFY_BUSY_RATE, default 200: sends started per second, at most, while the process
        // is busy (event loop over 80%), so ingestion comes first; 0 turns the pacing off.
        busySendRate: read.int('FIELDFLOW_NOTIFY_BUSY_RATE', 200, 0, 1_000_000),
        // FIELDFLOW_NOTIFY_HISTORY, default 20000: finished deliveries kept for GET /notifications/deliveries.
        maxHistory: read.int('FIELDFLOW_NOTIFY_HISTORY', 20_000, 100, 10_000_000),
        // Endpoint credentials are sealed with FIELDFLOW_CREDENTIAL_SECRET when set (else a key in the data directory).
        credentialSecret: env.FIELDFLOW_CREDENTIAL_SECRET || undefined,
      },
      ota: {
        // FIELDFLOW_OTA_MAX_ARTIFACT_BYTES, default 268435456 (256 MiB): largest artifact upload.
        maxArtifactBytes: read.int('FIELDFLOW_OTA_MAX_ARTIFACT_BYTES', 256 * 1024 * 1024, 1, 16 * 1024 * 1024 * 1024),
        // FIELDFLOW_OTA_SIGNING_KEY: a PEM file with an Ed25519 private key (openssl genpkey -algorithm ed25519).
        // Set: every artifact is signed and devices can verify it. Unset: artifacts are not signed.
        signingKeyFile: env.FIELDFLOW_OTA_SIGNING_KEY || undefined,
        // FIELDFLOW_PUBLIC_URL: how devices reach this server over HTTP (https://iot.example.com), used in
        // the download URLs of OTA offers. Unset: offers carry a path and devices add their own base URL.
        publicUrl: env.FIELDFLOW_PUBLIC_URL || undefined,
      },
    },
  };
  read.throwIfInvalid();
  return settings;
}

/** Node-RED's settings for a running platform. */
export function nodeRedSettings(settings: ServerSettings, platform: Platform) {
  return {
    userDir: path.join(settings.dataDir, 'node-red'),
    flowFile: 'flows.json',
    flowFilePretty: true,
    credentialSecret: settings.credentialSecret,
    httpAdminRoot: '/',
    httpNodeRoot: '/',
    // Our palette: compiled next to this file (dist/nodes), a Node-RED module with its examples.
    nodesDir: [path.join(__dirname, 'nodes')],
    // The editor and the admin API need a login from the first start. Users are the platform's:
    // the same admin password works for the editor and for POST /api/v1/auth/token.
    adminAuth: {
      type: 'credentials',
      users: async (username: string) => platform.auth.getUser(username),
      authenticate: async (username: string, password: string) => platform.auth.verifyPassword(username, password),
    },
    // Nodes reach the platform through RED.settings.fieldflow, never through module state.
    fieldflow: platform,
    logging: { console: { level: settings.logLevel === 'error' ? 'error' : settings.logLevel, metrics: false, audit: false } },
    // A platform should not phone home; the editor offers no consent prompt either.
    telemetry: { enabled: false, updateNotification: false },
    diagnostics: { enabled: true, ui: true },
    editorTheme: {
      page: { title: 'Fieldflow' },
      header: { title: 'Fieldflow' },
      palette: {
        categories: ['fieldflow', 'subflows', 'common', 'function', 'network', 'sequence', 'parser', 'storage'],
      },
      tours: false,
      projects: { enabled: false },
    },
    functionExternalModules: false,
  };
}

/** Reads typed values from the environment and collects every problem before reporting. */
class EnvReader {
  private readonly problems: string[] = [];
  constructor(private readonly env: Env) {}

  string(name: string, fallback: string): string {
    const v = this.env[name];
    return v === undefined || v === '' ? fallback : v;
  }

  number(name: string, fallback: number, min: number, max: number, integer = false): number {
    const v = this.env[name];
    if (v === undefined || v === '') return fallback;
    const n = Number(v);
    if (!(integer ? Number.isInteger(n) : Number.isFinite(n)) || n < min || n > max) {
      this.problems.push(`${name} must be ${integer ? 'an integer' : 'a number'} from ${min} to ${max}; got "${v}"`);
      return fallback;
    }
    return n;
  }

  int(name: string, fallback: number, min: number, max: number): number {
    return this.number(name, fallback, min, max, true);
  }

  port(name: string, fallback: number): number {
    return this.int(name, fallback, 0, 65535);
  }

  bool(name: string, fallback: boolean): boolean {
    const v = this.env[name];
    if (v === undefined || v === '') return fallback;
    if (['true', '1', 'yes'].includes(v.toLowerCase())) return true;
    if (['false', '0', 'no'].includes(v.toLowerCase())) return false;
    this.problems.push(`${name} must be true or false; got "${v}"`);
    return fallback;
  }

  oneOf(name: string, allowed: string[], fallback: string): string {
    const v = this.env[name];
    if (v === undefined || v === '') return fallback;
    if (!allowed.includes(v)) this.problems.push(`${name} must be one of ${allowed.join(', ')}; got "${v}"`);
    return allowed.includes(v) ? v : fallback;
  }

  throwIfInvalid(): void {
    if (this.problems.length) throw new Error(`Invalid settings:\n  ${this.problems.join('\n  ')}`);
  }
}
