/**
 * Notification benchmark: `npm run bench:notify` (options: --alarms N --endpoints E --duration S
 * --warmup S --devices D --window W --rounds R --raise-concurrency C --verify-every K --profile DIR).
 *
 * "10,000 alarm events route to webhook endpoints at a local receiver. Report deliveries per
 * second and the effect on concurrent ingestion throughput (the ratio with and without
 * notification load; target >= 0.9)."
 *
 * Three processes besides this one, so that none shares an event loop with the platform:
 * - the platform (bench/notify-platform.ts): createPlatform() with the server's defaults, NeDB on
 *   disk in a temporary directory, MQTT on a free port; E webhook endpoints at the receiver and one
 *   subscription to AlarmRaised that sends to all of them;
 * - the receiver (bench/webhook-receiver.ts): node:http, answers 200, counts deliveries, takes
 *   raise -> receipt latency from the body's event time, and verifies a sample of HMAC signatures;
 * - the load generator (bench/load-generator.ts, as in bench/ingest.ts): D devices publishing QoS 1
 *   telemetry as fast as PUBACKs allow (a PUBACK is sent once the message is stored).
 *
 * Phase A: N alarms, each a new (device, type), raised as fast as C raises in flight allow, no
 * other load; timed from the first raise until every delivery has arrived and the outbox holds
 * them all as sent. Phase B: the ingestion load alone, and the same load while N more alarms are
 * delivered; R rounds in ABBA order, so drift (a growing store, other load on the machine) hits
 * both alike. Ingestion is counted in the platform (MessageCreate events, as a `channel in` node
 * sees them); with notifications, over the part of the window in which deliveries were running.
 */
import { fork, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { cpuSeconds, peakRssMiB } from './lib/proc';
import { summarize, type LatencySummary } from './lib/stats';
import { numberOption } from './lib/args';
import { fmt, int, log, table } from './lib/format';
import type { LoadPlan, LoadReport } from './lib/messages';
import type { PlatformReply, PlatformRequest, RaiseResult, SetupResult } from './notify-platform';
import type { ReceiverCommand, ReceiverMessage, ReceiverReport } from './webhook-receiver';

const RATIO_GOAL = 0.9;
/** Give up waiting for a round's deliveries after this long. */
const DELIVERY_CAP_MS = 180_000;
/** Between phases, wait (at most this long) for the platform to go idle: compaction, late writes. */
const SETTLE_CAP_MS = 10_000;
const SETTLE_IDLE_CPU = 0.1;

interface Options {
  alarms: number;
  endpoints: number;
  durationMs: number;
  warmupMs: number;
  devices: number;
  window: number;
  rounds: number;
  raiseConcurrency: number;
  verifyEvery: number;
  profileDir: string | null;
}

function parseArgs(argv: string[]): Options {
  const p = argv.indexOf('--profile');
  return {
    alarms: numberOption(argv, 'alarms', 10_000),
    endpoints: numberOption(argv, 'endpoints', 4),
    durationMs: numberOption(argv, 'duration', 15) * 1000,
    warmupMs: numberOption(argv, 'warmup', 2) * 1000,
    devices: numberOption(argv, 'devices', 100),
    window: numberOption(argv, 'window', 1),
    rounds: numberOption(argv, 'rounds', 2),
    raiseConcurrency: numberOption(argv, 'raise-concurrency', 64),
    verifyEvery: numberOption(argv, 'verify-every', 20),
    profileDir: p >= 0 ? path.resolve(argv[p + 1]) : null,
  };
}

/** Every child process started, so a failed run does not leave any behind. */
const children: ChildProcess[] = [];
process.on('exit', () => children.forEach((c) => c.exitCode === null && c.kill('SIGKILL')));

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function start(script: string, options: { env?: Record<string, string>; execArgv?: string[] } = {}): ChildProcess {
  const child = fork(path.join(__dirname, script), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], env: { ...process.env, ...options.env }, execArgv: options.execArgv ?? [] });
  children.push(child);
  return child;
}

/** The platform process, called over IPC. */
class PlatformProcess {
  private seq = 0;
  private readonly waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();

  constructor(readonly child: ChildProcess) {
    child.on('message', (m: PlatformReply) => {
      const w = this.waiting.get(m.id);
      if (!w) return;
      this.waiting.delete(m.id);
      if (m.ok) w.resolve(m.result);
      else w.reject(new Error(`platform: ${m.error}`));
    });
    child.once('exit', (code, signal) => {
      for (const w of this.waiting.values()) w.reject(new Error(`the platform process exited (${code ?? signal})`));
      this.waiting.clear();
    });
  }

  call<T>(req: PlatformRequest): Promise<T> {
    const id = ++this.seq;
    return new Promise<T>((resolve, reject) => {
      this.waiting.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.child.send({ id, req });
    });
  }

  ingested(): Promise<Sample> {
    return this.call<Sample>({ type: 'ingested' });
  }
}

/** The receiver process. */
class Receiver {
  private onComplete: ((at: number) => void) | null = null;
  private onReport: ((r: ReceiverReport) => void) | null = null;

  constructor(
    readonly child: ChildProcess,
    readonly port: number,
  ) {
    child.on('message', (m: ReceiverMessage) => {
      if (m.type === 'complete') this.onComplete?.(m.at);
      if (m.type === 'report') this.onReport?.(m);
    });
  }

  static async start(): Promise<Receiver> {
    const child = start('webhook-receiver.js');
    const port = await new Promise<number>((resolve, reject) => {
      child.once('message', (m: ReceiverMessage) => (m.type === 'listening' ? resolve(m.port) : reject(new Error(`receiver: ${m.type}`))));
      child.once('exit', (code) => reject(new Error(`the receiver exited (${code})`)));
    });
    return new Receiver(child, port);
  }

  /** Reset the counters; the promise resolves when `target` distinct deliveries have arrived (null: not by `capMs`). */
  expect(secrets: Record<string, string>, target: number, verifyEvery: number, capMs: number): Promise<number | null> {
    const done = new Promise<number | null>((resolve) => {
      const timer = setTimeout(() => resolve(null), capMs);
      this.onComplete = (at) => {
        clearTimeout(timer);
        resolve(at);
      };
    });
    this.child.send({ type: 'expect', secrets, target, verifyEvery } satisfies ReceiverCommand);
    return done;
  }

  report(): Promise<ReceiverReport> {
    return new Promise((resolve) => {
      this.onReport = resolve;
      this.child.send({ type: 'report' } satisfies ReceiverCommand);
    });
  }
}

interface Sample {
  count: number;
  at: number;
}

interface Setup {
  platform: PlatformProcess;
  receiver: Receiver;
  info: SetupResult;
  secrets: Record<string, string>;
}

/** What one batch of alarms produced. */
interface DeliveryResult {
  alarms: number;
  expected: number;
  raise: RaiseResult;
  /** The last expected delivery arrived (null: not within the cap). */
  completeAt: number | null;
  /** ...and the outbox had finished with all of them (every delivery saved as sent). */
  idleAt: number | null;
  receiver: ReceiverReport;
  latency: LatencySummary;
  /** Deliveries not sent (queued, held, sending, dead, cancelled) once the pipeline went idle. */
  unsent: number;
  platformCpu: number;
  receiverCpu: number;
}

const ratePerS = (n: number, fromMs: number, toMs: number) => (toMs > fromMs ? (n * 1000) / (toMs - fromMs) : NaN);
const deliveryRate = (r: DeliveryResult) => (r.idleAt === null ? NaN : ratePerS(r.receiver.unique, r.raise.startedAt, r.idleAt));

/**
 * Raise `opts.alarms` alarms and wait for their deliveries. `onComplete` runs once the last one has
 * arrived (before the outbox is asked whether it is idle), so a caller can sample ingestion then.
 */
async function deliver(s: Setup, opts: Options, prefix: string, onComplete: () => unknown = () => undefined): Promise<DeliveryResult> {
  const expected = opts.alarms * opts.endpoints;
  const pids = { platform: s.platform.child.pid!, receiver: s.receiver.child.pid! };
  const cpu0 = { platform: cpuSeconds(pids.platform) ?? 0, receiver: cpuSeconds(pids.receiver) ?? 0 };
  const complete = s.receiver.expect(s.secrets, expected, opts.verifyEvery, DELIVERY_CAP_MS);
  const raise = await s.platform.call<RaiseResult>({ type: 'raise', count: opts.alarms, prefix, concurrency: opts.raiseConcurrency });
  if (raise.created !== opts.alarms) log(`  only ${raise.created} of ${opts.alarms} raises created a new alarm`);
  const completeAt = await complete;
  let idleAt: number | null = null;
  if (completeAt !== null) {
    await onComplete();
    idleAt = await s.platform.call<number>({ type: 'idle' });
  } else log(`  deliveries did not complete within ${DELIVERY_CAP_MS / 1000} s`);
  const seconds = ((idleAt ?? Date.now()) - raise.startedAt) / 1000;
  const platformCpu = ((cpuSeconds(pids.platform) ?? 0) - cpu0.platform) / seconds;
  const receiverCpu = ((cpuSeconds(pids.receiver) ?? 0) - cpu0.receiver) / seconds;
  const receiver = await s.receiver.report();
  const unsent = await s.platform.call<number>({ type: 'unsent' });
  if (receiver.failures) log(`  receiver: ${receiver.failures} failed checks, e.g. ${receiver.failureSamples.join('; ')}`);
  if (receiver.requests !== receiver.unique) log(`  receiver: ${receiver.requests - receiver.unique} duplicate deliveries`);
  if (unsent) log(`  ${unsent} deliveries not sent`);
  return { alarms: opts.alarms, expected, raise, completeAt, idleAt, receiver, latency: summarize(receiver.lat), unsent, platformCpu, receiverCpu };
}

/** Wait until the platform's CPU use drops (a compaction or late writes would slow the next phase). */
async function settle(pid: number): Promise<void> {
  const started = Date.now();
  let cpu = cpuSeconds(pid) ?? 0;
  while (Date.now() - started < SETTLE_CAP_MS) {
    await sleep(500);
    const now = cpuSeconds(pid) ?? 0;
    const busy = (now - cpu) / 0.5;
    cpu = now;
    if (busy < SETTLE_IDLE_CPU) return;
  }
}

interface IngestResult {
  /** Ingested per second over the measured window, or (with notifications) while deliveries ran. */
  rate: number;
  /** Over the whole measured window. */
  windowRate: number;
  /** Seconds the ingested rate covers (platform clock): the window, or the part of it with deliveries running. */
  seconds: number;
  ackRate: number;
  platformCpu: number;
  generatorCpu: number;
  receiverCpu: number;
  delivery: DeliveryResult | null;
}

/**
 * One ingestion phase: the load generator for warm-up + duration; with `prefix`, N alarms are raised
 * when the measured window opens. The platform's ingest count is sampled when the window opens,
 * when it closes, and when the deliveries are complete.
 */
/** plain: ingestion only; alarms: ingestion while alarms are raised that notify nothing; notify: ingestion while alarms are raised and delivered. */
type Mode = 'plain' | 'alarms' | 'notify';

async function ingestPhase(s: Setup, opts: Options, prefix: string | null, profile: boolean, mode: Mode = prefix ? 'notify' : 'plain'): Promise<IngestResult> {
  const platformPid = s.platform.child.pid!;
  const receiverPid = s.receiver.child.pid!;
  const gen = start('load-generator.js');
  const plan: LoadPlan = { url: s.info.mqttUrl, devices: s.info.devices, mode: 'max', window: opts.window, rate: 0, warmupMs: opts.warmupMs, durationMs: opts.durationMs };
  let cpu0 = { platform: 0, gen: 0, receiver: 0 };
  let first: Promise<Sample> | null = null;
  let last: Promise<Sample> | null = null;
  let atComplete: Sample | null = null;
  let delivery: Promise<DeliveryResult> | null = null;
  const done = await new Promise<Extract<LoadReport, { type: 'done' }>>((resolve, reject) => {
    gen.on('message', (r: LoadReport) => {
      if (r.type === 'measuring') {
        if (profile) s.platform.child.kill('SIGUSR2');
        cpu0 = { platform: cpuSeconds(platformPid) ?? 0, gen: cpuSeconds(gen.pid!) ?? 0, receiver: cpuSeconds(receiverPid) ?? 0 };
        first = s.platform.ingested();
        setTimeout(() => (last = s.platform.ingested()), opts.durationMs);
        if (mode === 'alarms') {
          s.platform.call({ type: 'raise', count: opts.alarms, prefix: prefix!, concurrency: opts.raiseConcurrency }).catch(reject);
        } else if (prefix) {
          delivery = deliver(s, opts, prefix, async () => {
            atComplete = await s.platform.ingested();
          });
          delivery.catch(reject);
        }
      }
      if (r.type === 'done') {
        if (profile) s.platform.child.kill('SIGUSR2');
        resolve(r);
      }
    });
    gen.once('exit', (code) => code !== 0 && reject(new Error(`load generator exited with ${code}`)));
    gen.send(plan);
  });
  const seconds = done.elapsedMs / 1000;
  const platformCpu = ((cpuSeconds(platformPid) ?? 0) - cpu0.platform) / seconds;
  const generatorCpu = ((cpuSeconds(gen.pid!) ?? 0) - cpu0.gen) / seconds;
  const receiverCpu = ((cpuSeconds(receiverPid) ?? 0) - cpu0.receiver) / seconds;
  if (done.sendErrors) log(`  ${done.sendErrors} publishes failed`);
  const [a, b] = [await first!, await (last ?? s.platform.ingested())];
  const windowRate = ratePerS(b.count - a.count, a.at, b.at);
  let rate = windowRate;
  let span = (b.at - a.at) / 1000;
  let result: DeliveryResult | null = null;
  if (delivery) {
    result = await (delivery as Promise<DeliveryResult>);
    const c = atComplete as Sample | null;
    // Deliveries that outlast the window leave all of it under notification load.
    if (c && c.at < b.at) {
      rate = ratePerS(c.count - a.count, a.at, c.at);
      span = (c.at - a.at) / 1000;
    }
  }
  await settle(platformPid);
  return { rate, windowRate, seconds: span, ackRate: done.acked / seconds, platformCpu, generatorCpu, receiverCpu, delivery: result };
}

async function setup(opts: Options): Promise<Setup> {
  const receiver = await Receiver.start();
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'fieldflow-bench-notify-'));
  const env: Record<string, string> = {
    FIELDFLOW_DATA: dataDir,
    HOST: '127.0.0.1',
    FIELDFLOW_ADMIN_PASSWORD: 'bench-admin-password',
    FIELDFLOW_BCRYPT_ROUNDS: '4',
    FIELDFLOW_LOG_LEVEL: process.env.FIELDFLOW_LOG_LEVEL ?? 'warn',
  };
  let execArgv: string[] = [];
  if (opts.profileDir) {
    fs.mkdirSync(opts.profileDir, { recursive: true });
    env.FIELDFLOW_BENCH_PROFILE_DIR = opts.profileDir;
    execArgv = ['--require', path.join(__dirname, 'lib', 'cpu-profile.js')];
  }
  const platform = new PlatformProcess(start('notify-platform.js', { env, execArgv }));
  const info = await platform.call<SetupResult>({ type: 'setup', devices: opts.devices, endpoints: opts.endpoints, receiverUrl: `http://127.0.0.1:${receiver.port}` });
  const secrets = Object.fromEntries(info.endpoints.map((e) => [e.path, e.secret]));
  return { platform, receiver, info, secrets };
}

interface Row {
  name: string;
  r: IngestResult;
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const pct = (x: number) => `${fmt(x * 100)}%`;
const ms = (l: LatencySummary) => `${fmt(l.p50)} / ${fmt(l.p99)} / ${fmt(l.max)}`;
const since = (t: number | null, from: number) => (t === null ? '-' : fmt((t - from) / 1000, 1));

/** Whether every batch arrived complete, once, signed correctly, and was saved as sent. */
function checks(batches: DeliveryResult[]): string {
  const problems: string[] = [];
  for (const d of batches) {
    if (d.receiver.unique !== d.expected) problems.push(`${d.expected - d.receiver.unique} of ${d.expected} deliveries missing`);
    if (d.receiver.requests !== d.receiver.unique) problems.push(`${d.receiver.requests - d.receiver.unique} duplicates`);
    if (d.unsent) problems.push(`${d.unsent} not sent`);
    if (d.receiver.failures) problems.push(`${d.receiver.failures} failed signature or body checks (${d.receiver.failureSamples[0]})`);
  }
  const verified = batches.reduce((n, d) => n + d.receiver.verified, 0);
  return problems.length ? `PROBLEMS: ${problems.join('; ')}` : `every delivery of every batch arrived once and was saved as sent; ${int(verified)} signatures verified, none failed`;
}

function report(opts: Options, info: SetupResult, a: DeliveryResult, rows: Row[], plain: IngestResult[], loaded: IngestResult[], rss: { afterA: number | null; end: number | null }): void {
  const deliveryRows: Array<[string, DeliveryResult, number | null]> = [
    ['A: alarms only', a, null],
    ...rows.filter((r) => r.r.delivery).map((r): [string, DeliveryResult, number | null] => [`B: ${r.name}`, r.r.delivery!, r.r.seconds]),
  ];
  const ratios = plain.map((p, i) => loaded[i].rate / p.rate);
  const ratio = mean(loaded.map((r) => r.rate)) / mean(plain.map((r) => r.rate));
  const windowRatio = mean(loaded.map((r) => r.windowRate)) / mean(plain.map((r) => r.windowRate));
  const { notify, store, retention } = info.options;
  const { credentialSecret: _c, clock: _k, smtp: _s, ...notifyShown } = notify;
  const lines = [
    '',
    'Deliveries',
    '',
    ...table(
      ['run', 'alarms', 'deliveries', 'raised in s', 'all sent in s', 'deliveries/s', 'raise->receipt ms p50/p99/max', 'signatures ok / failed', 'unsent', 'platform CPU', 'receiver CPU'],
      deliveryRows.map(([name, d]) => [
        name,
        int(d.raise.created),
        `${int(d.receiver.unique)} / ${int(d.expected)}`,
        since(d.raise.raisedAt, d.raise.startedAt),
        since(d.idleAt, d.raise.startedAt),
        int(deliveryRate(d)),
        ms(d.latency),
        `${int(d.receiver.verified)} / ${int(d.receiver.failures)}`,
        int(d.unsent),
        pct(d.platformCpu),
        pct(d.receiverCpu),
      ]),
    ),
    '',
    'Ingestion',
    '',
    ...table(
      ['run', 'ingested msg/s', 'measured s', 'ingested msg/s, whole window', 'acked msg/s', 'platform CPU', 'generator CPU', 'receiver CPU'],
      rows.map(({ name, r }) => [name, int(r.rate), fmt(r.seconds, 1), int(r.windowRate), int(r.ackRate), pct(r.platformCpu), pct(r.generatorCpu), pct(r.receiverCpu)]),
    ),
    '',
    `Deliveries per second, alarms only: ${int(deliveryRate(a))} (${int(a.receiver.unique)} webhook deliveries from ${int(a.raise.created)} alarms to ${opts.endpoints} endpoints, raise -> all saved as sent).`,
    `Ingestion throughput ratio, with / without notification load: ${ratio.toFixed(2)} (rounds: ${ratios.map((x) => x.toFixed(2)).join(', ')}; goal >= ${RATIO_GOAL}: ${ratio >= RATIO_GOAL ? 'met' : 'NOT met'}); over the whole window: ${windowRatio.toFixed(2)}.`,
    `Deliveries check: ${checks(deliveryRows.map(([, d]) => d))}.`,
    `Platform peak RSS: ${fmt(rss.afterA ?? NaN)} MiB after phase A, ${fmt(rss.end ?? NaN)} MiB at the end (ingested messages included).`,
    '',
    `Platform: createPlatform() with the server's defaults (settings.ts, environment respected), NeDB on disk in ${info.dataDir}, no Node-RED, no REST API.`,
    `  notify: ${JSON.stringify(notifyShown)}`,
    `  store: ${JSON.stringify(store)}; retention: ${JSON.stringify(retention)}`,
    `Notifications: ${opts.endpoints} webhook endpoints (http://127.0.0.1:<receiver>/hook/<n>, generated secrets), one subscription to AlarmRaised sending to all of them, default template.`,
    `  Each batch: ${opts.alarms} alarms, each a new (device, type) over ${opts.devices} devices, raised through platform.alarms.raise with ${opts.raiseConcurrency} in flight.`,
    `  Receiver (own process): 200 to every POST; signature (t=..,v1=HMAC-SHA256(secret, t.body)) verified on the first 10 requests per endpoint and every ${opts.verifyEvery}th.`,
    '  deliveries/s: distinct deliveries received / (first raise -> the outbox idle with every delivery saved as sent).',
    '  raise->receipt: the alarm time in the webhook body (set when it is raised) to the receiver reading the request, Date.now() in both processes (1 ms).',
    `Ingestion: ${opts.devices} devices (bench/load-generator.ts, own process), QoS 1, ${opts.window} in flight per device, ${opts.durationMs / 1000} s windows after ${opts.warmupMs / 1000} s warm-up,`,
    `  ${opts.rounds} rounds in ABBA order. Counted in the platform (MessageCreate). With notifications the ${opts.alarms} alarms are raised when the window opens and`,
    '  "ingested msg/s" covers the window until their deliveries are all received (the whole window if they outlast it); "acked msg/s" is the generator\'s count over the whole window.',
    `Machine: ${os.cpus().length} cores (${os.cpus()[0]?.model ?? 'unknown'}), Node ${process.version}. The receiver and the generator share these cores with the platform.`,
    '',
  ];
  process.stdout.write(lines.join('\n'));
}

async function main(): Promise<void> {
  const opts = parseArgs(process.argv.slice(2));
  const total = opts.alarms * opts.endpoints;
  log(`Notification benchmark: ${opts.alarms} alarms x ${opts.endpoints} webhook endpoints = ${total} deliveries per batch; machine: ${os.cpus().length} cores, Node ${process.version}`);
  const started = Date.now();
  const s = await setup(opts);
  log(`  platform and receiver ready in ${((Date.now() - started) / 1000).toFixed(1)} s (${opts.devices} devices, ${opts.endpoints} endpoints)`);

  log(`A: ${opts.alarms} alarms -> ${total} webhook deliveries, no other load...`);
  if (opts.profileDir) s.platform.child.kill('SIGUSR2');
  const a = await deliver(s, opts, 'a');
  if (opts.profileDir) s.platform.child.kill('SIGUSR2');
  log(`  ${int(deliveryRate(a))} deliveries/s`);
  const rssAfterA = peakRssMiB(s.platform.child.pid!);
  await settle(s.platform.child.pid!);

  const rows: Row[] = [];
  const plain: IngestResult[] = [];
  const loaded: IngestResult[] = [];
  const alarmsOnly: IngestResult[] = [];
  for (let round = 1; round <= opts.rounds; round++) {
    // ABC then CBA, so drift hits every kind of run alike.
    const order: Mode[] = round % 2 === 1 ? ['plain', 'alarms', 'notify'] : ['notify', 'alarms', 'plain'];
    for (const mode of order) {
      const name = mode === 'notify' ? `ingestion + ${opts.alarms} alarms notified (${round})` : mode === 'alarms' ? `ingestion + ${opts.alarms} alarms, no subscription (${round})` : `ingestion only (${round})`;
      log(`B: round ${round}/${opts.rounds}: ${name}...`);
      const profile = opts.profileDir !== null && round === 1 && mode !== 'alarms';
      if (mode === 'alarms') await s.platform.call({ type: 'subscription', enabled: false });
      const r = await ingestPhase(s, opts, mode === 'plain' ? null : `b${round}${mode[0]}`, profile, mode);
      if (mode === 'alarms') await s.platform.call({ type: 'subscription', enabled: true });
      (mode === 'notify' ? loaded : mode === 'alarms' ? alarmsOnly : plain).push(r);
      rows.push({ name, r });
      log(`  ${int(r.rate)} msg/s${r.delivery ? `, ${int(deliveryRate(r.delivery))} deliveries/s` : ''}`);
    }
  }
  const alarmsRate = alarmsOnly.reduce((a, r) => a + r.rate, 0) / alarmsOnly.length;
  const notifyRate = loaded.reduce((a, r) => a + r.rate, 0) / loaded.length;

  const rss = { afterA: rssAfterA, end: peakRssMiB(s.platform.child.pid!) };
  await s.platform.call({ type: 'stop' });
  s.platform.child.disconnect();
  s.receiver.child.kill('SIGTERM');
  fs.rmSync(s.info.dataDir, { recursive: true, force: true });
  if (opts.profileDir) {
    log(`CPU profiles of the platform (pid ${s.platform.child.pid}; -1: phase A, -2: round 1 without, -3: round 1 with notifications) in ${opts.profileDir}: ${fs.readdirSync(opts.profileDir).join(', ')}`);
  }
  report(opts, s.info, a, rows, plain, loaded, rss);
  log(
    `Notification cost alone (alarms raised in both, a subscription in one): ingestion ${int(notifyRate)} msg/s with / ${int(alarmsRate)} msg/s without = ${(notifyRate / alarmsRate).toFixed(2)} (goal >= ${RATIO_GOAL}: ${notifyRate / alarmsRate >= RATIO_GOAL ? 'met' : 'NOT met'}).`,
  );
  log(`total ${((Date.now() - started) / 1000).toFixed(0)} s`);
}

main().catch((err) => {
  process.stderr.write(`benchmark failed: ${(err as Error).stack}\n`);
  process.exit(1);
});
