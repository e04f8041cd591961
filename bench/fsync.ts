/**
 * The cost of FIELDFLOW_FSYNC=batch: `npm run bench:fsync` (options: --devices N --window W --duration S
 * --rate R --dir D).
 *
 * Runs the real server twice, side by side on data directories of the same disk: with FIELDFLOW_FSYNC=off
 * (the baseline) and with batch (an fdatasync per group commit). Both are driven the same way, taking
 * turns: N devices publish QoS 1 messages as fast as PUBACKs allow, W in flight each (throughput, and the
 * acknowledgement latency under full load; a group commit takes at most N x W messages), then at a fixed
 * total rate (acknowledgement latency under moderate load). The latency is publish -> PUBACK, measured in
 * this process, which the servers do not share. `--dir` puts the data on another disk: what an fdatasync
 * costs is a property of the disk.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { startServer, type ServerProcess } from '../test/support/server';
import { numberOption } from './lib/args';
import { fmt, int, log, table } from './lib/format';
import { summarize, type LatencySummary } from './lib/stats';
import { cpuSeconds } from './lib/proc';

type Mode = 'off' | 'batch';

interface Device {
  id: string;
  token: string;
}

interface Phase {
  ackRate: number;
  latency: LatencySummary;
  serverCpu: number;
}

const WARMUP_MS = 1000;
const servers: ServerProcess[] = [];
process.on('exit', () => servers.forEach((s) => s.child.exitCode === null && s.child.kill('SIGKILL')));

function connectAll(url: string, devices: Device[]): Promise<MqttClient[]> {
  return Promise.all(
    devices.map(
      (d) =>
        new Promise<MqttClient>((resolve, reject) => {
          const c = mqtt.connect(url, { clientId: d.id, username: d.id, password: d.token, reconnectPeriod: 0, protocolVersion: 4 });
          c.once('connect', () => resolve(c));
          c.once('error', reject);
        }),
    ),
  );
}

/**
 * Publish QoS 1 for warm-up plus `durationMs`: `rate` 0 is a closed loop (each device publishes again as
 * soon as its PUBACK arrives), otherwise a fixed total rate spread over the devices.
 */
async function drive(t: Target, durationMs: number, rate: number, window: number): Promise<Phase & { sample: number[] }> {
  const { server, clients, devices } = t;
  const latencies: number[] = [];
  let acked = 0;
  let measuring = false;
  let stopped = false;
  let seq = 0;
  const publish = (i: number, then?: () => void) => {
    const sent = performance.now();
    const payload = JSON.stringify({ seq: seq++, temp: 20 + (seq % 50) / 10, hum: 40 + (seq % 30) / 3 });
    clients[i].publish(`devices/${devices[i].id}/channels/telemetry`, payload, { qos: 1 }, (err) => {
      if (!err && measuring) {
        acked++;
        latencies.push(performance.now() - sent);
      }
      if (!stopped) then?.();
    });
  };
  let ticker: NodeJS.Timeout | null = null;
  if (rate === 0) {
    clients.forEach((_, i) => {
      const next = () => publish(i, next);
      for (let w = 0; w < window; w++) next();
    });
  } else {
    const started = performance.now();
    let due = 0;
    ticker = setInterval(() => {
      const target = Math.floor(((performance.now() - started) / 1000) * rate);
      for (; due < target; due++) publish(due % clients.length);
    }, 5);
  }
  await new Promise((r) => setTimeout(r, WARMUP_MS));
  measuring = true;
  const cpuStart = cpuSeconds(server.child.pid!) ?? 0;
  const start = performance.now();
  await new Promise((r) => setTimeout(r, durationMs));
  const elapsed = (performance.now() - start) / 1000;
  measuring = false;
  stopped = true;
  if (ticker) clearInterval(ticker);
  const serverCpu = ((cpuSeconds(server.child.pid!) ?? 0) - cpuStart) / elapsed;
  // Let the last PUBACKs in before the next phase.
  await new Promise((r) => setTimeout(r, 300));
  return { ackRate: acked / elapsed, latency: summarize(latencies), serverCpu, sample: latencies };
}

interface Target {
  mode: Mode;
  server: ServerProcess;
  devices: Device[];
  clients: MqttClient[];
  dataDir: string;
}

async function target(mode: Mode, parent: string, devices: number): Promise<Target> {
  const dataDir = fs.mkdtempSync(path.join(parent, `fieldflow-fsync-${mode}-`));
  const server = await startServer({ dataDir, env: { FIELDFLOW_FSYNC: mode, FIELDFLOW_LOG_LEVEL: 'error' } });
  servers.push(server);
  const admin = await server.admin();
  const list: Device[] = [];
  for (let i = 0; i < devices; i++) {
    const r = await admin.post('/devices', { name: `fsync-${i}` });
    list.push({ id: r.body.id, token: r.body.token });
  }
  return { mode, server, devices: list, clients: await connectAll(server.mqttUrl, list), dataDir };
}

async function close(t: Target): Promise<void> {
  await Promise.all(t.clients.map((c) => c.endAsync()));
  await t.server.stop();
  fs.rmSync(t.dataDir, { recursive: true, force: true });
}

/** Two phases of the same kind, one per round, as one: rates averaged, latency samples pooled. */
function pool(a: Phase & { sample: number[] }, b: Phase & { sample: number[] }): Phase {
  return { ackRate: (a.ackRate + b.ackRate) / 2, latency: summarize([...a.sample, ...b.sample]), serverCpu: (a.serverCpu + b.serverCpu) / 2 };
}

function fileSystemOf(dir: string): string {
  try {
    const [, line] = execFileSync('df', ['-T', dir], { encoding: 'utf8' }).trim().split('\n');
    const [device, type] = line.split(/\s+/);
    return `${type} (${device})`;
  } catch {
    return 'unknown';
  }
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const opts = {
    devices: numberOption(argv, 'devices', 50),
    window: numberOption(argv, 'window', 1),
    durationMs: numberOption(argv, 'duration', 4) * 1000,
    rate: numberOption(argv, 'rate', 1000),
  };
  const dirAt = argv.indexOf('--dir');
  const parent = dirAt >= 0 ? path.resolve(argv[dirAt + 1]) : os.tmpdir();
  log(`fsync benchmark: ${opts.devices} devices, QoS 1, ${opts.window} in flight per device at full speed, two rounds of ${opts.durationMs / 1000} s per phase after ${WARMUP_MS / 1000} s warm-up`);
  log(`Machine: ${os.cpus().length} cores (${os.cpus()[0]?.model ?? 'unknown'}), Node ${process.version}; data on ${fileSystemOf(parent)}`);
  // Both servers run side by side and take turns (off, batch, batch, off), so a drift in what else the
  // machine is doing weighs on both alike.
  log('starting both servers...');
  const off = await target('off', parent, opts.devices);
  const batch = await target('batch', parent, opts.devices);
  const results = { off: { max: [] as Array<Phase & { sample: number[] }>, fixed: [] as Array<Phase & { sample: number[] }> }, batch: { max: [] as Array<Phase & { sample: number[] }>, fixed: [] as Array<Phase & { sample: number[] }> } };
  for (const kind of ['max', 'fixed'] as const) {
    for (const t of [off, batch, batch, off]) {
      log(`  ${t.mode}: ${kind === 'max' ? 'full speed' : `${opts.rate} msg/s`}...`);
      results[t.mode][kind].push(await drive(t, opts.durationMs, kind === 'max' ? 0 : opts.rate, opts.window));
    }
  }
  await close(off);
  await close(batch);
  const phase = (mode: Mode, kind: 'max' | 'fixed') => pool(results[mode][kind][0], results[mode][kind][1]);

  const row = (name: string, p: Phase) => [name, int(p.ackRate), fmt(p.latency.p50, 1), fmt(p.latency.p99, 1), fmt(p.latency.max, 1), `${fmt(p.serverCpu * 100)}%`];
  const lines = [
    '',
    ...table(
      ['FIELDFLOW_FSYNC, load', 'acked msg/s', 'ack p50 ms', 'ack p99 ms', 'ack max ms', 'server CPU'],
      [
        row('off, full speed', phase('off', 'max')),
        row('batch, full speed', phase('batch', 'max')),
        row(`off, ${opts.rate} msg/s`, phase('off', 'fixed')),
        row(`batch, ${opts.rate} msg/s`, phase('batch', 'fixed')),
      ],
    ),
    '',
    `Throughput ratio, batch / off: ${(phase('batch', 'max').ackRate / phase('off', 'max').ackRate).toFixed(2)}`,
    `Acknowledgement p50 at ${opts.rate} msg/s, batch / off: ${(phase('batch', 'fixed').latency.p50 / phase('off', 'fixed').latency.p50).toFixed(2)}`,
    '',
  ];
  process.stdout.write(lines.join('\n'));
}

main().catch((err) => {
  process.stderr.write(`benchmark failed: ${(err as Error).stack}\n`);
  process.exit(1);
});
