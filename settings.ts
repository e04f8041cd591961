/**
 * Fieldflow settings: the platform's options and Node-RED's settings, read from the environment.
 * Every option is listed here with its default. An invalid value stops the start with a message
 * naming the variable, rather than running with a surprise.
 */
import net from 'node:net';
import path from 'node:path';
import type { Platform, PartialPlatformOptions } from './runtime';
import type { LogLevel } from './runtime/log';
import { editorHeaders } from './runtime/editor/headers';
import { parseSubnet } from './runtime/notify/targets';

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
  /**
   * Which proxies' X-Forwarded-For to believe for the client address (login limits key on it), in
   * Express's `trust proxy` terms. FIELDFLOW_TRUST_PROXY, default false (the connection's own address).
   */
  trustProxy: TrustProxy;
  /** Serve GET /metrics without a token. FIELDFLOW_METRICS_PUBLIC, default false (a REST API user token is needed). */
  metricsPublic: boolean;
  platform: PartialPlatformOptions;
}

type Env = Record<string, string | undefined>;

/**
 * Express's `trust proxy` values: true (every hop: only when nothing else can reach the port), a
 * number of hops, or a comma-separated list of addresses, subnets and the names loopback,
 * linklocal and uniquelocal.
 */
export type TrustProxy = boolean | number | string;

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
    // FIELDFLOW_TRUST_PROXY, default false: true, a hop count, or proxies' addresses/subnets
    // (e.g. "loopback" or "10.0.0.0/8,loopback") whose X-Forwarded-For gives the client address.
    trustProxy: read.trustProxy('FIELDFLOW_TRUST_PROXY'),
    // FIELDFLOW_METRICS_PUBLIC, default false: true serves /metrics to anyone who reaches the HTTP port.
    metricsPublic: read.bool('FIELDFLOW_METRICS_PUBLIC', false),
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
        // FIELDFLOW_FSYNC, default off: off acknowledges a message once it is in the operating system's
        // page cache (survives a crash of the process, not a power cut); batch adds an fdatasync per
        // group commit, so acknowledged messages survive a power cut too (see docs/operations.md for the cost).
        fsync: read.oneOf('FIELDFLOW_FSYNC', ['off', 'batch'], 'off') as 'off' | 'batch',
        // FIELDFLOW_MEMORY_BUDGET_MB, default half of what the heap limit (node --max-old-space-size, else Node's
        // default for the machine) leaves after 128 MB for the rest of the server: memory for retained messages. From 80% it warns; at 100% the oldest messages of every
        // channel are trimmed. A start whose stored history needs more than the budget refuses to load it.
        memoryBudgetBytes: env.FIELDFLOW_MEMORY_BUDGET_MB ? read.int('FIELDFLOW_MEMORY_BUDGET_MB', 0, 1, 1024 * 1024) * 2 ** 20 : null,
        // FIELDFLOW_MEMORY_TRIM_ON_START, default false: true deletes the oldest messages of a stored history that
        // does not fit the budget before loading it, instead of refusing to start.
        trimToBudgetOnStart: read.bool('FIELDFLOW_MEMORY_TRIM_ON_START', false),
      },
      // FIELDFLOW_WORKER_ID, default 0: snowflake worker id, 0..1023.
      workerId: read.int('FIELDFLOW_WORKER_ID', 0, 0, 1023),
      auth: {
        // FIELDFLOW_ADMIN_PASSWORD: the admin password. Unset: generated on first start and printed once.
        adminPassword: env.FIELDFLOW_ADMIN_PASSWORD || undefined,
        // FIELDFLOW_TOKEN_TTL_HOURS, default 24: lifetime of REST API user tokens and of editor sessions.
        userTokenTtlSeconds: Math.round(read.number('FIELDFLOW_TOKEN_TTL_HOURS', 24, 1 / 60, 24 * 365) * 3600),
        // FIELDFLOW_BCRYPT_ROUNDS, default 10: bcrypt cost of user passwords.
        bcryptRounds: read.int('FIELDFLOW_BCRYPT_ROUNDS', 10, 4, 15),
        // FIELDFLOW_MAX_FAILED_LOGINS, default 10: failed logins per username and client address (editor and
        // REST API together) before a lock of FIELDFLOW_LOGIN_WINDOW_SECONDS (default 300), which doubles with
        // each further failure, up to an hour.
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
        // FIELDFLOW_NOTIFY_ALLOW_PRIVATE, default empty: addresses and subnets (127.0.0.1,10.0.0.0/8,fd00::/8)
        // that webhooks, SMS gateways and push services may reach although they are loopback, private or
        // link-local. Every other such address is refused, after DNS resolution and on every connection.
        allowPrivate: read.subnets('FIELDFLOW_NOTIFY_ALLOW_PRIVATE'),
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

const THEME_DIR = path.resolve(__dirname, '..', 'editor', 'theme');
const THEME_IMAGES = { logo: path.join(THEME_DIR, 'logo.svg'), icon: path.join(THEME_DIR, 'icon.svg') };

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
    // the same admin password works for the editor and for POST /api/v1/auth/token. The launcher
    // answers the editor's login in front of Node-RED (runtime/editor/auth-routes.ts), with the
    // platform's limiter and tokens; Node-RED accepts those tokens here, and keeps no sessions itself.
    adminAuth: {
      type: 'credentials',
      users: async (username: string) => platform.auth.getUser(username),
      // Node-RED's own token endpoint is never reached; should it be, it fails closed rather than
      // skip the platform's limiter and keep a session in clear.
      authenticate: async () => null,
      tokens: async (token: string) => platform.auth.verifyToken(token),
      sessionExpiryTime: platform.auth.tokenTtlSeconds,
    },
    // Node-RED sends Access-Control-Allow-Origin: * and no framing policy; this replaces them.
    httpAdminMiddleware: editorHeaders,
    // Nodes reach the platform through RED.settings.fieldflow, never through module state.
    fieldflow: platform,
    logging: { console: { level: settings.logLevel === 'error' ? 'error' : settings.logLevel, metrics: false, audit: false } },
    // A platform should not phone home; the editor offers no consent prompt either.
    telemetry: { enabled: false, updateNotification: false },
    diagnostics: { enabled: true, ui: true },
    // Fieldflow's own mark on the login box, the header and the browser tab (editor/theme/, served from the source
    // folder like the other static pages), so a user never sees another product's logo.
    editorTheme: {
      page: { title: 'Fieldflow', favicon: THEME_IMAGES.icon, tabicon: { icon: THEME_IMAGES.icon } },
      header: { title: 'Fieldflow', image: THEME_IMAGES.icon },
      login: { image: THEME_IMAGES.logo },
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

  trustProxy(name: string): TrustProxy {
    const v = this.env[name]?.trim();
    if (v === undefined || v === '' || v.toLowerCase() === 'false') return false;
    if (v.toLowerCase() === 'true') return true;
    if (/^[0-9]+$/.test(v)) return this.int(name, 0, 0, 100);
    const entries = v.split(',').map((e) => e.trim());
    const bad = entries.filter((e) => !isProxyEntry(e));
    if (bad.length) {
      this.problems.push(`${name} must be true, false, a hop count, or a comma-separated list of addresses, subnets (10.0.0.0/8) and loopback, linklocal, uniquelocal; "${bad.join('", "')}" is none of these`);
      return false;
    }
    return entries.join(',');
  }

  /** A comma-separated list of addresses and subnets (CIDR). */
  subnets(name: string): string[] {
    const v = this.env[name]?.trim();
    if (!v) return [];
    const entries = v.split(',').map((e) => e.trim());
    const bad = entries.filter((e) => !parseSubnet(e));
    if (bad.length) this.problems.push(`${name} must be a comma-separated list of addresses and subnets such as 127.0.0.1,10.0.0.0/8,fd00::/8; "${bad.join('", "')}" is not one`);
    return bad.length ? [] : entries;
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

/** An entry of a trust-proxy list, as Express (proxy-addr) takes it. */
function isProxyEntry(entry: string): boolean {
  if (['loopback', 'linklocal', 'uniquelocal'].includes(entry)) return true;
  const [address, prefix, ...rest] = entry.split('/');
  const family = net.isIP(address);
  if (!family || rest.length) return false;
  if (prefix === undefined) return true;
  if (/^[0-9]{1,3}$/.test(prefix)) return Number(prefix) <= (family === 4 ? 32 : 128);
  // proxy-addr also takes an IPv4 netmask: 10.0.0.0/255.0.0.0.
  return family === 4 && net.isIPv4(prefix);
}
