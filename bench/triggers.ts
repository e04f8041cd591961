/**
 * Trigger benchmark: `npm run bench:triggers` (options: --devices N --duration S --warmup S
 * --window W --rounds R --quiet --profile DIR).
 *
 * "1,000 devices, 5 triggers each, at the foundation's ingestion rate". Two real Fieldflow servers
 * with the same devices and flow, driven by the same load generator (bench/load-generator.ts with
 * the telemetry payload of bench/lib/telemetry.ts, in its own process): one with no triggers (the baseline), one with five API triggers per device.
 * Their full-speed phases (QoS 1, closed loop) alternate for R rounds, so load from elsewhere on
 * the machine hits both alike; then each runs at half the baseline's rate, for latency.
 * Throughput is what the deployed flow's `channel in` node delivers, counted as in bench/ingest.ts.
 *
 * Trigger latency: the flow also has a `channel in` node on the `events` channel, where every
 * fire is logged with the id of the message that caused it. The flow takes the time encoded in
 * that id (when the server accepted the message) from the time the fire reaches the flow.
 * After each phase the benchmark waits for late fires (the backlog) before the next one.
 *
 * --quiet makes the triggers unreachable, to measure evaluation without firing; --profile DIR
 * writes CPU profiles of the servers' measured windows (see lib/cpu-profile.ts).
 */
import { fork, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startServer, ADMIN_PASSWORD, type ServerProcess } from '../test/support/server';
import { deployFlows } from '../test/support/nodered';
import type { Api } from '../test/support/http';
import { EPOCH_MS } from '../runtime/ids/snowflake';
import type { TriggerSpec } from '../runtime/triggers/model';
import { cpuSeconds, peakRssMiB } from './lib/proc';
import { summarize, type LatencySummary } from './lib/stats';
import { numberOption } from './lib/args';
import { fmt, int, log, table } from './lib/format';
import { EXPECTED_FIRES_PER_MESSAGE, SPIKES } from './lib/telemetry';
import type { FlowStats, LoadPlan, LoadReport } from './lib/messages';

const CHANNEL = 'telemetry';
/** REST requests in flight while setting up: enough to overlap round trips, few enough not to queue. */
const SETUP_CONCURRENCY = 8;
const RATIO_GOAL = 0.8;

interface Options {
  devices: number;
  durationMs: number;
  warmupMs: number;
  window: number;
  /** Triggers that never fire (thresholds out of reach): the cost of evaluating alone. */
  quiet: boolean;
  /** Full-speed phases per server, alternating. */
  rounds: number;
  /** Write V8 CPU profiles of each server's round-1 full-speed and half-rate phases into this directory. */
  profileDir: string | null;
}

function parseArgs(argv: string[]): Options {
  const p = argv.indexOf('--profile');
  return {
    devices: numberOption(argv, 'devices', 1000),
    durationMs: numberOption(argv, 'duration', 10) * 1000,
    warmupMs: numberOption(argv, 'warmup', 2) * 1000,
    window: numberOption(argv, 'window', 1),
    rounds: numberOption(argv, 'rounds', 2),
    quiet: argv.includes('--quiet'),
    profileDir: p >= 0 ? path.resolve(argv[p + 1]) : null,
  };
}

/**
 * The five triggers of one device. Thresholds sit well outside the quiet band of the simulated
 * telemetry (bench/lib/telemetry.ts), so only its rare excursions fire them, and most messages
 * take the evaluator's cheapest path (condition unchanged).
 */
function triggersOf(device: string, quiet: boolean): TriggerSpec[] {
  const on = { device, channel: CHANNEL };
  // --quiet: the same kinds on the same fields, out of reach, to tell evaluating from firing.
  const far = quiet ? 1000 : 0;
  return [
    { ...on, name: 'hot', kind: 'cross', path: 'temp', direction: 'rising', threshold: 30 + far, deadband: 2 },
    { ...on, name: 'cold', kind: 'cross', path: 'temp', direction: 'falling', threshold: 10 - far, deadband: 2 },
    { ...on, name: 'humid', kind: 'range', path: 'hum', on: 'enter', low: 80 + far, high: 90 + far, deadband: 2 },
    { ...on, name: 'status', kind: 'change', path: 'status', ...(quiet ? { to: 'never' } : {}) },
    { ...on, name: 'silent', kind: 'nodata', durationSeconds: 60 },
  ];
}

/** What the bench flow reports: telemetry as in ingest.ts, plus the fires seen on `events`. */
interface TriggerFlowStats extends FlowStats {
  fires: number;
  /** Per fire: accepted (source message id time) -> fire in the flow, ms. */
  fireLat: number[];
  /** Per fire: accepted -> fire appended to `events` (its own id time), ms. */
  fireLogged: number[];
}

/**
 * The bench flow. Telemetry: `channel in` -> a function that counts and records publish -> flow
 * latency (the same code as ingest.ts). Fires: `channel in` on `events` -> a function that
 * decodes the source message's time from its snowflake id. Counters are objects kept in node
 * context, changed in place, and shared with the HTTP endpoints through flow context.
 */
function benchFlow(): Array<Record<string, unknown>> {
  const tab = 'trigbench0000001';
  const id = (n: number) => `trigbench${String(n).padStart(7, '0')}`;
  const counter = [
    "let s = context.get('s');",
    "if (!s) { s = { count: 0, lat: [] }; context.set('s', s); flow.set('s', s); }",
    's.count++;',
    's.lat.push(Date.now() - msg.payload.t);',
    'return null;',
  ].join('\n');
  const fires = [
    "let f = context.get('f');",
    "if (!f) { f = { fires: 0, fireLat: [], fireLogged: [] }; context.set('f', f); flow.set('f', f); }",
    'f.fires++;',
    'const source = msg.payload.messageId;',
    // No-data fires have no source message.
    'if (source) {',
    `  const accepted = Number(BigInt(source) >> 22n) + ${EPOCH_MS};`,
    '  f.fireLat.push(Date.now() - accepted);',
    '  f.fireLogged.push(msg.ts - accepted);',
    '}',
    'return null;',
  ].join('\n');
  const read = "const s = flow.get('s') || { count: 0, lat: [] };\nconst f = flow.get('f') || { fires: 0, fireLat: [], fireLogged: [] };";
  const endpoint = (n: number, url: string, method: string, func: string) => [
    { id: id(n), z: tab, type: 'http in', url, method, wires: [[id(n + 1)]] },
    { id: id(n + 1), z: tab, type: 'function', func, outputs: 1, wires: [[id(99)]] },
  ];
  return [
    { id: tab, type: 'tab', label: 'trigger bench' },
    { id: id(2), z: tab, type: 'channel in', deviceMode: 'all', channel: CHANNEL, onMessage: true, onAggregate: false, wires: [[id(3)]] },
    { id: id(3), z: tab, type: 'function', func: counter, outputs: 1, wires: [[]] },
    { id: id(4), z: tab, type: 'channel in', deviceMode: 'all', channel: 'events', onMessage: true, onAggregate: false, wires: [[id(5)]] },
    { id: id(5), z: tab, type: 'function', func: fires, outputs: 1, wires: [[]] },
    ...endpoint(10, '/bench/count', 'get', `${read}\nmsg.payload = { count: s.count, fires: f.fires };\nreturn msg;`),
    ...endpoint(20, '/bench/stats', 'get', `${read}\nmsg.payload = { ...s, ...f };\nreturn msg;`),
    ...endpoint(30, '/bench/reset', 'post', `${read}\ns.count = 0; s.lat = []; f.fires = 0; f.fireLat = []; f.fireLogged = [];\nmsg.payload = {};\nreturn msg;`),
    { id: id(99), z: tab, type: 'http response', statusCode: '200', wires: [] },
  ];
}

/** Every child process started, so a failed run does not leave servers behind. */
const children: ChildProcess[] = [];
process.on('exit', () => children.forEach((c) => c.exitCode === null && c.kill('SIGKILL')));

/** A running Fieldflow server set up for one run. */
interface Target {
  name: string;
  server: ServerProcess;
  devices: LoadPlan['devices'];
  triggers: number;
  /** What share of messages should fire a trigger. */
  firesPerMessage: number;
  /** Stop the server and delete its data. */
  stop(): Promise<void>;
}

/** Run `task` on every item, at most `limit` at once; results in input order. */
async function mapConcurrent<T, R>(items: readonly T[], limit: number, task: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await task(items[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

async function createDevices(api: Api, n: number): Promise<LoadPlan['devices']> {
  return mapConcurrent(Array.from({ length: n }, (_, i) => i), SETUP_CONCURRENCY, async (i) => {
    const r = await api.post('/devices', { name: `bench-${i}`, labels: { bench: 'yes' } });
    if (r.status !== 201) throw new Error(`creating a device: ${r.status} ${JSON.stringify(r.body)}`);
    return { clientId: r.body.id, username: r.body.id, password: r.body.token, topic: `devices/${r.body.id}/channels/${CHANNEL}` };
  });
}

async function createTriggers(api: Api, devices: LoadPlan['devices'], quiet: boolean): Promise<number> {
  const specs = devices.flatMap((d) => triggersOf(d.clientId, quiet));
  await mapConcurrent(specs, SETUP_CONCURRENCY, async (spec) => {
    const r = await api.post('/triggers', spec);
    if (r.status !== 201) throw new Error(`creating a trigger: ${r.status} ${JSON.stringify(r.body)}`);
  });
  return specs.length;
}

async function startTarget(name: string, opts: Options, withTriggers: boolean): Promise<Target> {
  const env: Record<string, string> = opts.profileDir
    ? { NODE_OPTIONS: `--require ${path.join(__dirname, 'lib', 'cpu-profile.js')}`, FIELDFLOW_BENCH_PROFILE_DIR: opts.profileDir }
    : {};
  const server = await startServer({ env });
  children.push(server.child);
  // A server that dies mid-run shows up as refused requests: say why instead.
  const onExit = (code: number | null, signal: string | null) => log(`the ${name} server exited (${code ?? signal}):\n${server.output().slice(-4000)}`);
  server.child.once('exit', onExit);
  const api = await server.admin();
  let started = Date.now();
  const devices = await createDevices(api, opts.devices);
  log(`  ${devices.length} devices in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  await deployFlows(server.httpUrl, ADMIN_PASSWORD, benchFlow());
  let triggers = 0;
  if (withTriggers) {
    started = Date.now();
    triggers = await createTriggers(api, devices, opts.quiet);
    log(`  ${triggers} triggers in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  }
  const firesPerMessage = withTriggers && !opts.quiet ? EXPECTED_FIRES_PER_MESSAGE : 0;
  const stop = async () => {
    server.child.off('exit', onExit);
    await server.stop();
    fs.rmSync(server.dataDir, { recursive: true, force: true });
  };
  return { name, server, devices, triggers, firesPerMessage, stop };
}

const getJson = async <T>(url: string, method = 'GET') => (await (await fetch(url, { method })).json()) as T;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** What the flow has counted so far: cheap enough to read while the load runs. */
interface Counts {
  count: number;
  fires: number;
}
const counts = (httpUrl: string) => getJson<Counts>(`${httpUrl}/bench/count`);

interface PhaseResult {
  /** Telemetry delivered to the flow per second of the measured window. */
  flowRate: number;
  ackRate: number;
  latency: LatencySummary;
  /** Fires that reached the flow during the measured window, per second. */
  fireRate: number;
  /** Every fire the phase produced, warm-up and backlog included, and what its messages should produce. */
  fires: number;
  expectedFires: number;
  /** How long fires kept arriving after the load stopped (the backlog), in s; null: still arriving at the cap. */
  drainSeconds: number | null;
  fireLatency: LatencySummary;
  fireLogged: LatencySummary;
  serverCpu: number;
  generatorCpu: number;
}

/** Run the load generator with `plan` against a target until it reports done; CPU use over the measured window. */
async function drive(target: Target, plan: Omit<LoadPlan, 'url' | 'devices'>, onMeasuring: () => unknown, profile: boolean) {
  const server = target.server.child;
  const gen = fork(path.join(__dirname, 'load-generator.js'), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  children.push(gen);
  let cpuAtStart = { server: 0, gen: 0 };
  const done = await new Promise<Extract<LoadReport, { type: 'done' }>>((resolve, reject) => {
    gen.on('message', (r: LoadReport) => {
      if (r.type === 'measuring') {
        if (profile) server.kill('SIGUSR2');
        cpuAtStart = { server: cpuSeconds(server.pid!) ?? 0, gen: cpuSeconds(gen.pid!) ?? 0 };
        onMeasuring();
      }
      if (r.type === 'done') {
        if (profile) server.kill('SIGUSR2');
        resolve(r);
      }
    });
    gen.once('exit', (code) => code !== 0 && reject(new Error(`load generator exited with ${code}`)));
    gen.send({ ...plan, url: target.server.mqttUrl, devices: target.devices, payload: 'telemetry' } satisfies LoadPlan);
  });
  const seconds = done.elapsedMs / 1000;
  if (done.sendErrors) log(`  ${target.name}: ${done.sendErrors} publishes failed`);
  return {
    done,
    serverCpu: ((cpuSeconds(server.pid!) ?? 0) - cpuAtStart.server) / seconds,
    generatorCpu: ((cpuSeconds(gen.pid!) ?? 0) - cpuAtStart.gen) / seconds,
  };
}

/**
 * Wait until fires stop arriving: a backlog left behind would run during the next phase and slow
 * it down. Fires can stall for seconds while state writes queue, so "no new fire for a while" is
 * not enough: the server must also have gone idle. Capped under the 60 s no-data trigger, so the
 * silence after the load does not fire it. Returns when the last fire arrived, in s after the
 * load ended, or null if the cap was reached.
 */
const DRAIN_QUIET_MS = 1000;
const DRAIN_IDLE_CPU = 0.1;
const DRAIN_CAP_MS = 30_000;
async function drain(target: Target, loadEnded: number, firesAtEnd: number): Promise<number | null> {
  const pid = target.server.child.pid!;
  let fires = firesAtEnd;
  let changedAt = loadEnded;
  let cpu = { at: Date.now(), s: cpuSeconds(pid) ?? 0 };
  for (;;) {
    await sleep(DRAIN_QUIET_MS);
    const now = Date.now();
    const count = (await counts(target.server.httpUrl)).fires;
    const cpuNow = { at: now, s: cpuSeconds(pid) ?? 0 };
    const busy = (cpuNow.s - cpu.s) / ((cpuNow.at - cpu.at) / 1000);
    cpu = cpuNow;
    if (count !== fires) [fires, changedAt] = [count, now];
    else if (busy < DRAIN_IDLE_CPU) return Math.max(0, changedAt - loadEnded) / 1000;
    if (now - loadEnded >= DRAIN_CAP_MS) return null;
  }
}

/**
 * One phase: reset the flow's counters, run the load generator, wait for the fire backlog, read what
 * the flow saw. With `profile`, the server's CPU profile covers the measured window.
 */
async function phase(target: Target, plan: Omit<LoadPlan, 'url' | 'devices'>, profile = false): Promise<PhaseResult> {
  const { httpUrl } = target.server;
  await getJson(`${httpUrl}/bench/reset`, 'POST');
  let atStart: Promise<Counts> = Promise.resolve({ count: 0, fires: 0 });
  const { done, serverCpu, generatorCpu } = await drive(target, plan, () => (atStart = counts(httpUrl)), profile);
  const loadEnded = Date.now();
  // Telemetry in flight when the window closed lands within a few hundred ms.
  await sleep(300);
  const [start, end] = [await atStart, await counts(httpUrl)];
  const drainSeconds = await drain(target, loadEnded, end.fires);
  const stats = await getJson<TriggerFlowStats>(`${httpUrl}/bench/stats`);
  const seconds = done.elapsedMs / 1000;
  return {
    flowRate: Math.max(0, end.count - start.count) / seconds,
    ackRate: done.acked / seconds,
    latency: summarize(stats.lat),
    fireRate: Math.max(0, end.fires - start.fires) / seconds,
    fires: stats.fires,
    expectedFires: stats.count * target.firesPerMessage,
    drainSeconds,
    fireLatency: summarize(stats.fireLat),
    fireLogged: summarize(stats.fireLogged),
    serverCpu,
    generatorCpu,
  };
}

interface Row {
  name: string;
  r: PhaseResult;
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
/** Server CPU time per delivered message, in µs: steadier than throughput when other load shares the cores. */
const cpuPerMessage = (r: PhaseResult) => (r.serverCpu * 1e6) / r.flowRate;

function report(opts: Options, rows: Row[], plain: PhaseResult[], triggered: PhaseResult[], triggers: number, rss: { plain: number | null; triggered: number | null }): void {
  const ratios = plain.map((p, i) => triggered[i].flowRate / p.flowRate);
  const ratio = mean(triggered.map((r) => r.flowRate)) / mean(plain.map((r) => r.flowRate));
  const pct = (x: number) => `${fmt(x * 100)}%`;
  const ms = (l: LatencySummary) => `${fmt(l.p50)} / ${fmt(l.p99)} / ${fmt(l.max)}`;
  const drained = (r: PhaseResult) => (r.drainSeconds === null ? `> ${DRAIN_CAP_MS / 1000}` : fmt(r.drainSeconds, 1));
  const lines = [
    '',
    ...table(
      ['run', 'delivered msg/s', 'acked msg/s', 'publish->flow ms p50/p99/max', 'fires/s in window', 'fires: all / expected', 'fire ms p50/p99/max', 'fire logged ms p50/p99', 'backlog s', 'server CPU', 'server CPU µs/msg', 'generator CPU'],
      rows.map(({ name, r }) => [
        name,
        int(r.flowRate),
        int(r.ackRate),
        ms(r.latency),
        int(r.fireRate),
        `${int(r.fires)} / ${int(r.expectedFires)}`,
        ms(r.fireLatency),
        `${fmt(r.fireLogged.p50)} / ${fmt(r.fireLogged.p99)}`,
        drained(r),
        pct(r.serverCpu),
        fmt(cpuPerMessage(r)),
        pct(r.generatorCpu),
      ]),
    ),
    '',
    `Throughput ratio, ${triggers} triggers / no triggers, full speed: ${ratio.toFixed(2)} (rounds: ${ratios.map((x) => x.toFixed(2)).join(', ')}; goal >= ${RATIO_GOAL}: ${ratio >= RATIO_GOAL ? 'met' : 'NOT met'})`,
    `Server CPU per message, triggers / no triggers, full speed: ${(mean(triggered.map(cpuPerMessage)) / mean(plain.map(cpuPerMessage))).toFixed(2)} (the throughput ratio a purely CPU-bound server would show is its inverse).`,
    `Peak RSS: no triggers ${fmt(rss.plain ?? NaN)} MiB, with triggers ${fmt(rss.triggered ?? NaN)} MiB.`,
    '',
    `${opts.devices} devices, QoS 1, ${opts.window} in flight per device, ${opts.durationMs / 1000} s per phase after ${opts.warmupMs / 1000} s warm-up; full-speed phases alternate between the two servers.`,
    'Triggers per device: cross rising temp 30 (deadband 2), cross falling temp 10 (deadband 2), range enter hum 80..90 (deadband 2),',
    `change on status, no data for 60 s. Excursions per message: hot ${SPIKES.hot}, cold ${SPIKES.cold}, humid ${SPIKES.humid}, status "service" ${SPIKES.service};`,
    opts.quiet
      ? '--quiet: thresholds 1000 further out and the change only to a status never sent, so none fires: the cost of evaluating alone.'
      : `each fires its trigger once (status twice: there and back), so about ${(EXPECTED_FIRES_PER_MESSAGE * 100).toFixed(1)}% of messages should fire ("expected": messages the phase sent, warm-up included).`,
    'publish->flow: device send time (in the payload) to the telemetry message reaching the flow.',
    'fire: when the server accepted the source message (the time in its id, taken just before its durable write) to the fire',
    '  reaching the flow through a `channel in` node on `events`; over every fire of the phase, backlog included. It leaves out',
    '  the device -> server hop (see publish->flow). fire logged: the same start to the fire being appended to `events`.',
    'backlog s: how long fires kept arriving after the load stopped (the next phase waits for them and for the server to go idle).',
    'Latency uses Date.now() (1 ms resolution). Full speed saturates the server, so its latencies are mostly queueing.',
    '',
  ];
  process.stdout.write(lines.join('\n'));
}

async function main(): Promise<void> {
  const opts = parseArgs(process.argv.slice(2));
  const maxPlan = { mode: 'max' as const, window: opts.window, rate: 0, warmupMs: opts.warmupMs, durationMs: opts.durationMs };
  log(`Trigger benchmark: ${opts.devices} devices, 5 triggers each, ${opts.rounds} rounds; machine: ${os.cpus().length} cores (${os.cpus()[0]?.model ?? 'unknown'}), Node ${process.version}`);

  log('setting up the server without triggers...');
  const plain = await startTarget('no triggers', opts, false);
  log('setting up the server with triggers...');
  const triggered = await startTarget('with triggers', opts, true);
  const t = triggered.triggers;

  // Alternate the two servers, so that load from elsewhere on the machine hits both alike.
  const rows: Row[] = [];
  const plainMax: PhaseResult[] = [];
  const trigMax: PhaseResult[] = [];
  for (let round = 1; round <= opts.rounds; round++) {
    const profile = opts.profileDir !== null && round === 1;
    log(`round ${round}/${opts.rounds}: no triggers, full speed...`);
    plainMax.push(await phase(plain, maxPlan, profile));
    rows.push({ name: `no triggers, full speed (${round})`, r: plainMax[round - 1] });
    log(`round ${round}/${opts.rounds}: ${t} triggers, full speed...`);
    trigMax.push(await phase(triggered, maxPlan, profile));
    rows.push({ name: `${t} triggers, full speed (${round})`, r: trigMax[round - 1] });
  }

  const half = Math.max(1, Math.round(mean(plainMax.map((r) => r.flowRate)) / 2));
  const ratePlan = { ...maxPlan, mode: 'rate' as const, rate: half };
  log(`${t} triggers, ${half} msg/s (half the no-trigger rate)...`);
  rows.push({ name: `${t} triggers, ${half} msg/s`, r: await phase(triggered, ratePlan, opts.profileDir !== null) });
  log(`no triggers, ${half} msg/s...`);
  rows.push({ name: `no triggers, ${half} msg/s`, r: await phase(plain, ratePlan, opts.profileDir !== null) });

  const rss = { plain: peakRssMiB(plain.server.child.pid!), triggered: peakRssMiB(triggered.server.child.pid!) };
  await Promise.all([plain.stop(), triggered.stop()]);
  if (opts.profileDir) {
    const pids = `no triggers: pid ${plain.server.child.pid}, with triggers: pid ${triggered.server.child.pid}`;
    log(`CPU profiles (<pid>-1: round-1 full speed, <pid>-2: half rate; ${pids}) in ${opts.profileDir}: ${fs.readdirSync(opts.profileDir).join(', ')}`);
  }
  report(opts, rows, plainMax, trigMax, t, rss);
}

main().catch((err) => {
  process.stderr.write(`benchmark failed: ${(err as Error).stack}\n`);
  process.exit(1);
});
