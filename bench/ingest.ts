/**
 * Ingestion benchmark: `npm run bench` (options: --devices N --duration S --window W --warmup S).
 *
 * N simulated devices publish QoS 1 JSON telemetry as fast as PUBACKs allow, first to bare Aedes
 * (no auth, no storage: the baseline) and then to the real Fieldflow server, whose deployed flow
 * counts what a `channel in` node delivers. Both runs use the same load generator, in its own
 * process. A second phase offers each system half of Fieldflow's measured rate and reports the
 * publish -> flow latency.
 */
import { fork, type ChildProcess } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { startServer, ADMIN_PASSWORD, type ServerProcess } from '../test/support/server';
import { deployFlows } from '../test/support/nodered';
import { cpuSeconds, peakRssMiB } from './lib/proc';
import { summarize, type LatencySummary } from './lib/stats';
import type { FlowStats, LoadPlan, LoadReport } from './lib/messages';

interface Options {
  devices: number;
  durationMs: number;
  warmupMs: number;
  window: number;
}

function parseArgs(argv: string[]): Options {
  const get = (name: string, fallback: number) => {
    const i = argv.indexOf(`--${name}`);
    const v = i >= 0 ? Number(argv[i + 1]) : fallback;
    if (!Number.isFinite(v) || v <= 0) throw new Error(`--${name} must be a positive number`);
    return v;
  };
  return { devices: get('devices', 100), durationMs: get('duration', 10) * 1000, warmupMs: get('warmup', 2) * 1000, window: get('window', 1) };
}

/** A system under test: where devices connect, and how to read what its "flow" received. */
interface Target {
  name: string;
  pid: number;
  url: string;
  devices: LoadPlan['devices'];
  /** Messages delivered so far (cheap: read while the load runs). */
  count(): Promise<number>;
  stats(): Promise<FlowStats>;
  reset(): Promise<void>;
  close(): Promise<void>;
}

interface PhaseResult {
  flowRate: number;
  ackRate: number;
  latency: LatencySummary;
  serverCpu: number;
  generatorCpu: number;
}

const log = (line: string) => process.stderr.write(line + '\n');

/** Every child process started, so a failed run does not leave servers behind. */
const children: ChildProcess[] = [];
process.on('exit', () => children.forEach((c) => c.exitCode === null && c.kill('SIGKILL')));

async function runLoad(target: Target, plan: Omit<LoadPlan, 'url' | 'devices'>): Promise<PhaseResult> {
  await target.reset();
  const gen = fork(path.join(__dirname, 'load-generator.js'), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  children.push(gen);
  let countAtStart = 0;
  let cpuAtStart = { server: 0, gen: 0 };
  const done = await new Promise<Extract<LoadReport, { type: 'done' }>>((resolve, reject) => {
    gen.on('message', (r: LoadReport) => {
      if (r.type === 'measuring') {
        cpuAtStart = { server: cpuSeconds(target.pid) ?? 0, gen: cpuSeconds(gen.pid!) ?? 0 };
        void target.count().then((n) => (countAtStart = n));
      }
      if (r.type === 'done') resolve(r);
    });
    gen.once('exit', (code) => code !== 0 && reject(new Error(`load generator exited with ${code}`)));
    gen.send({ ...plan, url: target.url, devices: target.devices } satisfies LoadPlan);
  });
  const serverCpu = ((cpuSeconds(target.pid) ?? 0) - cpuAtStart.server) / (done.elapsedMs / 1000);
  const generatorCpu = ((cpuSeconds(gen.pid!) ?? 0) - cpuAtStart.gen) / (done.elapsedMs / 1000);
  // Let in-flight deliveries land before counting.
  await new Promise((r) => setTimeout(r, 300));
  const stats = await target.stats();
  if (done.sendErrors) log(`  ${target.name}: ${done.sendErrors} publishes failed`);
  return {
    flowRate: Math.max(0, stats.count - countAtStart) / (done.elapsedMs / 1000),
    ackRate: done.acked / (done.elapsedMs / 1000),
    latency: summarize(stats.lat),
    serverCpu,
    generatorCpu,
  };
}

async function bareAedes(devices: number): Promise<Target> {
  const child: ChildProcess = fork(path.join(__dirname, 'bare-aedes.js'), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  children.push(child);
  const request = <T>(type: string) =>
    new Promise<T>((resolve) => {
      const on = (m: { type: string } & T) => {
        if (m.type !== type) return;
        child.off('message', on);
        resolve(m);
      };
      child.on('message', on);
      child.send({ type });
    });
  const port = await new Promise<number>((resolve) => child.once('message', (m: { port: number }) => resolve(m.port)));
  return {
    name: 'bare Aedes',
    pid: child.pid!,
    url: `mqtt://127.0.0.1:${port}`,
    devices: Array.from({ length: devices }, (_, i) => ({ clientId: `bench-${i}`, topic: `devices/bench-${i}/channels/telemetry` })),
    count: async () => (await request<{ count: number }>('count')).count,
    stats: async () => (await request<{ stats: FlowStats }>('stats')).stats,
    reset: async () => void (await request('reset')),
    close: async () => {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    },
  };
}

/**
 * The bench flow: channel in -> a function that counts and records latency; stats over HTTP.
 * The counter is one object kept in the node's context and changed in place (one context read
 * per message), and shared with the stats endpoint through flow context.
 */
function benchFlow(): Array<Record<string, unknown>> {
  const tab = 'bench00000000001';
  const count = [
    "let s = context.get('s');",
    "if (!s) { s = { count: 0, lat: [] }; context.set('s', s); flow.set('s', s); }",
    's.count++;',
    's.lat.push(Date.now() - msg.payload.t);',
    'return null;',
  ].join('\n');
  return [
    { id: tab, type: 'tab', label: 'bench' },
    { id: 'bench00000000002', z: tab, type: 'channel in', deviceMode: 'all', channel: 'telemetry', onMessage: true, onAggregate: false, wires: [['bench00000000003']] },
    { id: 'bench00000000003', z: tab, type: 'function', func: count, outputs: 1, wires: [[]] },
    { id: 'bench00000000004', z: tab, type: 'http in', url: '/bench/stats', method: 'get', wires: [['bench00000000005']] },
    { id: 'bench00000000009', z: tab, type: 'http in', url: '/bench/count', method: 'get', wires: [['bench0000000000a']] },
    { id: 'bench0000000000a', z: tab, type: 'function', func: "const s = flow.get('s');\nmsg.payload = { count: s ? s.count : 0 };\nreturn msg;", outputs: 1, wires: [['bench00000000007']] },
    { id: 'bench00000000005', z: tab, type: 'function', func: "msg.payload = flow.get('s') || { count: 0, lat: [] };\nreturn msg;", outputs: 1, wires: [['bench00000000007']] },
    { id: 'bench00000000006', z: tab, type: 'http in', url: '/bench/reset', method: 'post', wires: [['bench00000000008']] },
    { id: 'bench00000000008', z: tab, type: 'function', func: "const s = flow.get('s');\nif (s) { s.count = 0; s.lat = []; }\nmsg.payload = {};\nreturn msg;", outputs: 1, wires: [['bench00000000007']] },
    { id: 'bench00000000007', z: tab, type: 'http response', statusCode: '200', wires: [] },
  ];
}

async function fieldflow(devices: number): Promise<{ target: Target; server: ServerProcess }> {
  const server = await startServer();
  children.push(server.child);
  const api = await server.admin();
  const list: LoadPlan['devices'] = [];
  for (let i = 0; i < devices; i++) {
    const r = await api.post('/devices', { name: `bench-${i}`, labels: { bench: 'yes' } });
    list.push({ clientId: r.body.id, username: r.body.id, password: r.body.token, topic: `devices/${r.body.id}/channels/telemetry` });
  }
  await deployFlows(server.httpUrl, ADMIN_PASSWORD, benchFlow());
  return {
    server,
    target: {
      name: 'Fieldflow',
      pid: server.child.pid!,
      url: server.mqttUrl,
      devices: list,
      count: async () => ((await (await fetch(`${server.httpUrl}/bench/count`)).json()) as { count: number }).count,
      stats: async () => (await (await fetch(`${server.httpUrl}/bench/stats`)).json()) as FlowStats,
      reset: async () => void (await fetch(`${server.httpUrl}/bench/reset`, { method: 'POST' })),
      close: async () => void (await server.stop()),
    },
  };
}

const fmt = (n: number, digits = 0) => (Number.isFinite(n) ? n.toFixed(digits) : '-');
const pad = (s: string, n: number) => s.padStart(n);

async function main(): Promise<void> {
  const opts = parseArgs(process.argv.slice(2));
  const maxPlan = { mode: 'max' as const, window: opts.window, rate: 0, warmupMs: opts.warmupMs, durationMs: opts.durationMs };
  log(`Ingestion benchmark: ${opts.devices} devices, QoS 1, ${opts.window} in flight per device, ${opts.durationMs / 1000} s per phase after ${opts.warmupMs / 1000} s warm-up`);
  log(`Machine: ${os.cpus().length} cores (${os.cpus()[0]?.model ?? 'unknown'}), Node ${process.version}`);

  log('1/4 bare Aedes at full speed...');
  const bare = await bareAedes(opts.devices);
  const bareMax = await runLoad(bare, maxPlan);

  log('2/4 Fieldflow at full speed...');
  const ff = await fieldflow(opts.devices);
  const ffMax = await runLoad(ff.target, maxPlan);

  const half = Math.max(1, Math.round(ffMax.flowRate / 2));
  const ratePlan = { ...maxPlan, mode: 'rate' as const, rate: half };
  log(`3/4 Fieldflow at half its rate (${half} msg/s)...`);
  const ffHalf = await runLoad(ff.target, ratePlan);
  const ffRss = peakRssMiB(ff.target.pid);
  await ff.target.close();

  log(`4/4 bare Aedes at the same rate (${half} msg/s)...`);
  const bareHalf = await runLoad(bare, ratePlan);
  const bareRss = peakRssMiB(bare.pid);
  await bare.close();

  const ratio = ffMax.flowRate / bareMax.flowRate;
  const rows: Array<[string, PhaseResult, number | null]> = [
    ['bare Aedes, full speed', bareMax, null],
    ['Fieldflow, full speed', ffMax, null],
    [`bare Aedes, ${half} msg/s`, bareHalf, bareRss],
    [`Fieldflow, ${half} msg/s`, ffHalf, ffRss],
  ];
  const lines = [
    '',
    `| run                          | delivered msg/s | acked msg/s | p50 ms | p99 ms | max ms | server CPU | generator CPU | peak RSS MiB |`,
    `| ---------------------------- | --------------: | ----------: | -----: | -----: | -----: | ---------: | ------------: | -----------: |`,
    ...rows.map(
      ([name, r, rss]) =>
        `| ${name.padEnd(28)} | ${pad(fmt(r.flowRate), 15)} | ${pad(fmt(r.ackRate), 11)} | ${pad(fmt(r.latency.p50), 6)} | ${pad(fmt(r.latency.p99), 6)} | ${pad(fmt(r.latency.max), 6)} | ${pad(fmt(r.serverCpu * 100) + '%', 10)} | ${pad(fmt(r.generatorCpu * 100) + '%', 13)} | ${pad(rss === null ? '' : fmt(rss), 12)} |`,
    ),
    '',
    `Throughput ratio, Fieldflow / bare Aedes: ${ratio.toFixed(2)} (goal >= 0.70: ${ratio >= 0.7 ? 'met' : 'NOT met'})`,
    `Fieldflow p99 publish->flow latency at half rate: ${fmt(ffHalf.latency.p99)} ms (goal < 50 ms: ${ffHalf.latency.p99 < 50 ? 'met' : 'NOT met'})`,
    'Latency is measured with Date.now() in both processes (1 ms resolution). Peak RSS is the process high-water mark over all its phases.',
    '',
  ];
  process.stdout.write(lines.join('\n'));
}

main().catch((err) => {
  process.stderr.write(`benchmark failed: ${(err as Error).stack}\n`);
  process.exit(1);
});
