import path from 'node:path';
import { HERE, defaultStateFile, stateFolder } from './paths';
import { PROFILES } from './profiles';

/** How simulated devices misbehave on OTA: how many devices get each failure. */
export interface FailurePlan {
  /** The download is corrupted before verification: the update fails with checksum_mismatch. */
  checksum: number;
  /** The install step throws: install_failed. */
  install: number;
  /** After the install the device comes back on its old version: rolled_back. */
  rollback: number;
}

/** Everything the simulator is told. */
export interface SimOptions {
  url: string;
  mqttUrl: string;
  user: string;
  password?: string;
  count: number;
  model: string;
  profile?: string;
  labels: Record<string, string>;
  namePrefix: string;
  intervalSeconds: number;
  firmware: string;
  fail: FailurePlan;
  stateFile: string;
  /** Whether the state file was chosen (--state-file or FIELDFLOW_SIM_STATE_FILE) rather than the default. */
  stateFileChosen: boolean;
  dataDir: string;
  installSeconds: number;
  durationSeconds?: number;
  quiet: boolean;
  help: boolean;
}

/** A command line that cannot be run; the CLI prints it with the usage and exits 2. */
export class UsageError extends Error {}

/** What `--help` prints. */
export const USAGE = `Usage: npx fieldflow-sim [options]

Runs virtual Fieldflow devices: each publishes telemetry at an interval and takes OTA updates with
the device SDK. Devices are created over the REST API on the first run and their credentials saved
to the state file; later runs reuse them (and need no admin password unless --count grows).

Options (environment variable in brackets):
  --url <url>            server HTTP URL [FIELDFLOW_URL]                  default http://localhost:1880
  --mqtt <url>           broker URL [FIELDFLOW_MQTT_URL]                  default mqtt://<host of --url>:1883
  --user <name>          admin user [FIELDFLOW_ADMIN_USER]                default admin
  --password <pw>        admin password [FIELDFLOW_ADMIN_PASSWORD]        needed to create devices
  --count <n>            number of devices [FIELDFLOW_SIM_COUNT]          default 1
  --model <name>         device model [FIELDFLOW_SIM_MODEL]               default env-sensor
  --profile <name>       telemetry profile: ${PROFILES.map((p) => p.name).join(', ')}
                         [FIELDFLOW_SIM_PROFILE]                          default: from the model name
  --labels <k=v,...>     labels of created devices [FIELDFLOW_SIM_LABELS] e.g. site=north,tier=canary
  --name-prefix <p>      device names are <p>1, <p>2... [FIELDFLOW_SIM_NAME_PREFIX]  default <model>-
  --interval <seconds>   telemetry interval [FIELDFLOW_SIM_INTERVAL]      default 5
  --firmware <version>   version new devices start on [FIELDFLOW_SIM_FIRMWARE]  default 1.0.0
  --fail <spec>          OTA failures, devices in order [FIELDFLOW_SIM_FAIL]
                         e.g. checksum=2,install=1,rollback=1: the first 2 devices corrupt their
                         downloads, the next one fails its install, the next comes back on its old version
  --install-seconds <n>  how long an install takes [FIELDFLOW_SIM_INSTALL_SECONDS]  default 2
  --state-file <path>    device credentials and versions [FIELDFLOW_SIM_STATE_FILE]
                         default: one file per server, <host>-<port>.json, in ${stateFolder()}
  --data-dir <path>      offline queues and downloads [FIELDFLOW_SIM_DATA_DIR]  default <state file>.d
  --duration <seconds>   stop after this long [FIELDFLOW_SIM_DURATION]    default: until Ctrl-C
  --quiet                only errors and the summary
  --help                 this text

Ctrl-C stops cleanly: devices send what they queued (up to 2 s), and versions are saved.`;

/** Each flag and the environment variable it can also come from. */
const FLAGS: Record<string, { env: string; boolean?: boolean }> = {
  '--url': { env: 'FIELDFLOW_URL' },
  '--mqtt': { env: 'FIELDFLOW_MQTT_URL' },
  '--user': { env: 'FIELDFLOW_ADMIN_USER' },
  '--password': { env: 'FIELDFLOW_ADMIN_PASSWORD' },
  '--count': { env: 'FIELDFLOW_SIM_COUNT' },
  '--model': { env: 'FIELDFLOW_SIM_MODEL' },
  '--profile': { env: 'FIELDFLOW_SIM_PROFILE' },
  '--labels': { env: 'FIELDFLOW_SIM_LABELS' },
  '--name-prefix': { env: 'FIELDFLOW_SIM_NAME_PREFIX' },
  '--interval': { env: 'FIELDFLOW_SIM_INTERVAL' },
  '--firmware': { env: 'FIELDFLOW_SIM_FIRMWARE' },
  '--fail': { env: 'FIELDFLOW_SIM_FAIL' },
  '--install-seconds': { env: 'FIELDFLOW_SIM_INSTALL_SECONDS' },
  '--state-file': { env: 'FIELDFLOW_SIM_STATE_FILE' },
  '--data-dir': { env: 'FIELDFLOW_SIM_DATA_DIR' },
  '--duration': { env: 'FIELDFLOW_SIM_DURATION' },
  '--quiet': { env: 'FIELDFLOW_SIM_QUIET', boolean: true },
  '--help': { env: '', boolean: true },
};

/** Parse the command line and environment (flags win). Throws {@link UsageError}. */
export function parseArgs(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): SimOptions {
  const raw = new Map<string, string>();
  for (const [flag, spec] of Object.entries(FLAGS)) {
    if (spec.env && env[spec.env] !== undefined && env[spec.env] !== '') raw.set(flag, env[spec.env]!);
  }
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '-h') {
      raw.set('--help', 'true');
      continue;
    }
    const eq = arg.indexOf('=');
    const flag = eq > 0 && arg.startsWith('--') ? arg.slice(0, eq) : arg;
    const spec = FLAGS[flag];
    if (!spec) throw new UsageError(`unknown option ${arg}`);
    if (spec.boolean) {
      raw.set(flag, 'true');
      continue;
    }
    const value = eq > 0 && arg.startsWith('--') ? arg.slice(eq + 1) : argv[++i];
    if (value === undefined) throw new UsageError(`${flag} needs a value`);
    raw.set(flag, value);
  }

  const url = (raw.get('--url') ?? 'http://localhost:1880').replace(/\/+$/, '');
  let parsedUrl: URL;
  try {
    parsedUrl = new URL(url);
  } catch {
    throw new UsageError(`--url is not a URL: ${url}`);
  }
  const model = raw.get('--model') ?? 'env-sensor';
  const chosen = raw.get('--state-file');
  const stateFile = chosen ? path.resolve(chosen) : defaultStateFile(parsedUrl, { ...HERE, env });
  const profile = raw.get('--profile');
  if (profile && !PROFILES.some((p) => p.name === profile)) throw new UsageError(`--profile must be one of ${PROFILES.map((p) => p.name).join(', ')}`);
  const options: SimOptions = {
    url,
    mqttUrl: raw.get('--mqtt') ?? `mqtt://${parsedUrl.hostname}:1883`,
    user: raw.get('--user') ?? 'admin',
    password: raw.get('--password'),
    count: int(raw, '--count', 1, 1, 10_000),
    model,
    profile,
    labels: labels(raw.get('--labels') ?? ''),
    namePrefix: raw.get('--name-prefix') ?? `${model}-`,
    intervalSeconds: num(raw, '--interval', 5, 0.05),
    firmware: raw.get('--firmware') ?? '1.0.0',
    fail: failures(raw.get('--fail') ?? ''),
    stateFile,
    stateFileChosen: chosen !== undefined,
    dataDir: path.resolve(raw.get('--data-dir') ?? `${stateFile}.d`),
    installSeconds: num(raw, '--install-seconds', 2, 0),
    durationSeconds: raw.has('--duration') ? num(raw, '--duration', 0, 0.1) : undefined,
    quiet: raw.get('--quiet') === 'true' || raw.get('--quiet') === '1',
    help: raw.get('--help') === 'true',
  };
  try {
    new URL(options.mqttUrl);
  } catch {
    throw new UsageError(`--mqtt is not a URL: ${options.mqttUrl}`);
  }
  return options;
}

function num(raw: Map<string, string>, flag: string, dflt: number, min: number): number {
  const v = raw.get(flag);
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isFinite(n) || n < min) throw new UsageError(`${flag} must be a number of at least ${min}; got ${v}`);
  return n;
}

function int(raw: Map<string, string>, flag: string, dflt: number, min: number, max: number): number {
  const n = num(raw, flag, dflt, min);
  if (!Number.isInteger(n) || n > max) throw new UsageError(`${flag} must be a whole number from ${min} to ${max}`);
  return n;
}

function labels(spec: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of spec.split(',').map((s) => s.trim()).filter(Boolean)) {
    const eq = part.indexOf('=');
    if (eq <= 0) throw new UsageError(`--labels takes key=value pairs separated by commas; got "${part}"`);
    out[part.slice(0, eq).trim()] = part.slice(eq + 1).trim();
  }
  return out;
}

function failures(spec: string): FailurePlan {
  const plan: FailurePlan = { checksum: 0, install: 0, rollback: 0 };
  for (const part of spec.split(',').map((s) => s.trim()).filter(Boolean)) {
    const [kind, n] = part.split('=');
    if (!(kind in plan)) throw new UsageError(`--fail kinds are checksum, install and rollback; got "${kind}"`);
    const count = n === undefined ? 1 : Number(n);
    if (!Number.isInteger(count) || count < 0) throw new UsageError(`--fail ${kind} needs a whole number of devices; got "${n}"`);
    plan[kind as keyof FailurePlan] = count;
  }
  return plan;
}
