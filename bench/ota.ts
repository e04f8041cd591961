/**
 * OTA benchmark: `npm run bench:ota` (options: --devices N --size-mb S --workers W).
 *
 * "A rollout of a 50 MB artifact to 200 simulated devices. Report the aggregate download
 * throughput, the server's peak RSS (it must stay flat: streaming, not buffering), and the time
 * from offer to all-confirmed."
 *
 * Processes: the real server (`node dist/runtime/server.js`, signing on), W device processes
 * (bench/ota-devices.ts: SDK devices with OTA agents, N/W each), and for the baseline a bare
 * node:http static file server (bench/static-server.ts).
 *
 * 1. Baseline: the same N downloads of the same file, through the SDK's download() and hash, from
 *    the bare server: the throughput this machine allows for these transfers.
 * 2. Rollout: one wave of N devices. Timed from the POST until the rollout is `completed` (every
 *    device reported the new version). Download throughput is the bytes fetched over the span from
 *    the first offer to the last `downloaded` report.
 * Server RSS is sampled every 100 ms from /proc; the idle value is taken with the devices connected,
 * just before the rollout.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { numberOption } from './lib/args';
import { fmt, int, log, table } from './lib/format';
import { startServer } from '../test/support/server';
import type { DevicesCommand, DevicesReply } from './ota-devices';

const MiB = 1024 * 1024;

function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

/** Sample a process's RSS every 100 ms until stopped; returns the samples. */
function sampleRss(pid: number): () => number[] {
  const samples = [rssMiB(pid)];
  const timer = setInterval(() => {
    try {
      samples.push(rssMiB(pid));
    } catch {
      // exited
    }
  }, 100);
  return () => {
    clearInterval(timer);
    return samples;
  };
}

/** The samples at each quarter of the run: flat means no growth with the bytes served. */
const quarters = (samples: number[]) => [0.25, 0.5, 0.75, 1].map((q) => samples[Math.min(samples.length - 1, Math.floor(q * (samples.length - 1)))]);

function next<T extends DevicesReply['cmd']>(child: ChildProcess, cmd: T): Promise<Extract<DevicesReply, { cmd: T }>> {
  return new Promise((resolve) => {
    const on = (m: DevicesReply) => {
      if (m.cmd !== cmd) return;
      child.off('message', on);
      resolve(m as Extract<DevicesReply, { cmd: T }>);
    };
    child.on('message', on);
  });
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const n = numberOption(argv, 'devices', 200);
  const sizeMb = numberOption(argv, 'size-mb', 50);
  const workers = Math.min(n, numberOption(argv, 'workers', 2));
  const size = Math.round(sizeMb * MiB);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fieldflow-bench-ota-'));
  const file = path.join(dir, 'artifact.bin');
  fs.writeFileSync(file, randomBytes(size));
  const keyFile = path.join(dir, 'ota.pem');
  fs.writeFileSync(keyFile, generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }));

  log(`OTA bench: ${n} devices, ${sizeMb} MB artifact, ${workers} device processes, data in ${dir}`);
  const server = await startServer({ env: { FIELDFLOW_OTA_SIGNING_KEY: keyFile, FIELDFLOW_LOG_LEVEL: 'error' } });
  const kids: ChildProcess[] = [];
  try {
    const admin = await server.admin();
    const publicKey = (await admin.get('/ota/signing-key')).body.publicKey as string;
    log('creating devices and uploading the artifact...');
    const creds: Array<{ id: string; token: string }> = [];
    for (let i = 0; i < n; i++) {
      const r = await admin.post('/devices', { name: `bench-${i}`, model: 'bench-v1', labels: { bench: 'ota' } });
      creds.push({ id: r.body.id, token: r.body.token });
    }
    const artifact = (await admin.post(`/ota/artifacts?name=bench-fw&version=2.0.0&models=bench-v1`, fs.readFileSync(file), { 'content-type': 'application/octet-stream' })).body;
    if (!artifact.id) throw new Error(`upload failed: ${JSON.stringify(artifact)}`);
    const fleet = (await admin.post('/ota/fleets', { name: 'bench', selector: 'bench=ota' })).body;

    for (let w = 0; w < workers; w++) kids.push(fork(path.join(__dirname, 'ota-devices.js'), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }));
    const share = (w: number) => creds.filter((_, i) => i % workers === w);

    // 1. Baseline.
    const bare = fork(path.join(__dirname, 'static-server.js'), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], env: { ...process.env, BENCH_FILE: file } });
    kids.push(bare);
    const port = await new Promise<number>((resolve) => bare.once('message', (m: { port: number }) => resolve(m.port)));
    log(`baseline: ${n} downloads from a bare node:http server...`);
    const bareIdle = rssMiB(bare.pid!);
    const barePeak = sampleRss(bare.pid!);
    const baseDone = kids.slice(0, workers).map((k) => next(k, 'baseline-done'));
    kids.slice(0, workers).forEach((k, w) => k.send({ cmd: 'baseline', url: `http://127.0.0.1:${port}/`, count: share(w).length, dir } satisfies DevicesCommand));
    const base = await Promise.all(baseDone);
    const bareRss = Math.max(...barePeak());
    const baseBytes = base.reduce((a, b) => a + b.bytes, 0);
    const baseSeconds = (Math.max(...base.map((b) => b.endedAt)) - Math.min(...base.map((b) => b.startedAt))) / 1000;
    bare.kill();

    // 2. The rollout.
    log(`connecting ${n} SDK devices...`);
    const ready = kids.slice(0, workers).map((k) => next(k, 'ready'));
    const otaDone = kids.slice(0, workers).map((k) => next(k, 'ota-done'));
    kids.slice(0, workers).forEach((k, w) => k.send({ cmd: 'devices', mqttUrl: server.mqttUrl, httpUrl: server.httpUrl, devices: share(w), dir, publicKey } satisfies DevicesCommand));
    await Promise.all(ready);
    await new Promise((r) => setTimeout(r, 2000));
    const serverIdle = rssMiB(server.child.pid!);
    const serverPeak = sampleRss(server.child.pid!);
    log(`rollout to ${n} devices...`);
    const t0 = Date.now();
    const created = await admin.post('/ota/rollouts', { artifactId: artifact.id, fleetId: fleet.id, maxFailureRatio: 0 });
    if (created.status !== 201) throw new Error(`rollout refused: ${JSON.stringify(created.body)}`);
    let last = '';
    let status = created.body;
    while (status.status !== 'completed' && status.status !== 'halted') {
      await new Promise((r) => setTimeout(r, 250));
      status = (await admin.get(`/ota/rollouts/${created.body.id}`)).body;
      const p = status.progress;
      const line = `  offered ${p.offered} downloading ${p.downloading} downloaded ${p.downloaded} installing ${p.installing} succeeded ${p.succeeded} failed ${p.failed}`;
      if (line !== last) log(line);
      last = line;
    }
    const confirmedMs = Date.now() - t0;
    const serverSamples = serverPeak();
    const peak = Math.max(...serverSamples);
    const dev = await Promise.all(otaDone);
    const fetched = dev.reduce((a, d) => a + d.bytesFetched, 0);
    const dlSeconds = (Math.max(...dev.map((d) => d.lastDownloadedAt)) - Math.min(...dev.map((d) => d.firstOfferAt))) / 1000;
    const failed = dev.reduce((a, d) => a + d.failed, 0);

    const baseRate = baseBytes / MiB / baseSeconds;
    const rate = fetched / MiB / dlSeconds;
    const rows = [
      ['bare node:http static server (baseline)', fmt(baseRate, 1), fmt(baseSeconds, 1), '-', fmt(bareIdle, 0), fmt(bareRss, 0)],
      ['Fieldflow rollout', fmt(rate, 1), fmt(dlSeconds, 1), fmt(confirmedMs / 1000, 1), fmt(serverIdle, 0), fmt(peak, 0)],
    ];
    process.stdout.write(
      [
        `OTA rollout: ${n} devices x ${sizeMb} MB (${int((n * size) / MiB)} MiB in all), ${status.progress.succeeded} succeeded, ${failed} failed, status ${status.status}`,
        '',
        ...table(['server', 'download MiB/s', 'download s', 'offer to all confirmed s', 'RSS idle MiB', 'RSS peak MiB'], rows),
        '',
        `throughput ratio Fieldflow / bare server: ${fmt(rate / baseRate, 2)}`,
        `server RSS peak / idle: ${fmt(peak / serverIdle, 2)} (+${fmt(peak - serverIdle, 0)} MiB while serving ${int((n * size) / MiB)} MiB; the artifact is ${fmt(size / MiB, 0)} MiB)`,
        `server RSS at 25/50/75/100% of the rollout: ${quarters(serverSamples).map((v) => fmt(v, 0)).join(' / ')} MiB`,
        `bytes fetched / artifact bytes: ${fmt(fetched / (n * size), 3)}`,
        '',
      ].join('\n'),
    );
  } finally {
    for (const k of kids) if (k.connected) k.send({ cmd: 'stop' } satisfies DevicesCommand);
    await new Promise((r) => setTimeout(r, 500));
    for (const k of kids) k.kill();
    await server.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  process.stderr.write(`${(err as Error).stack}\n`);
  process.exit(1);
});
