/**
 * Memory per retained message with the NeDB default, per write pattern: `npm run bench:memory`.
 *
 * A write pattern is how many messages share one group commit (one segment): a fleet at normal rates writes about
 * one message per commit, a burst or an import up to thousands. For each pattern and payload it stores N and then
 * 3N messages (100 devices, one channel each), measures the heap (and typed-array memory) after garbage collection
 * while the writer still runs and again after a restart on that data. The slope between N and 3N is what one more
 * retained message costs, without fixed costs, once the store's background work (merging small writes among it) has
 * settled. It also prints the store's own estimate of the same (the model in
 * runtime/store/memory-model.ts), so the model can be checked against the measurement.
 * Run with --expose-gc (the npm script does). Options: --messages N (default 20000), --patterns 1,1000.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createPlatform, type Platform } from '../runtime';
import { silentLogger } from '../runtime/log';
import { numberOption } from './lib/args';

const gc = (globalThis as { gc?: () => void }).gc;

function platformOn(dir: string): Platform {
  return createPlatform({
    dataDir: dir,
    logger: silentLogger,
    mqtt: { port: null },
    auth: { adminPassword: 'bench', bcryptRounds: 4 },
    retention: { maxCount: 100_000_000 },
    store: { memoryBudgetBytes: Number.MAX_SAFE_INTEGER },
  });
}

/** Wait until the store's background upkeep (deletions, rewrites, merges of small writes) has settled. */
async function settled(platform: Platform): Promise<void> {
  let last = -1;
  for (;;) {
    await new Promise((r) => setTimeout(r, 1500));
    const now = platform.channels.memoryUsage().estimatedBytes;
    if (now === last) return;
    last = now;
  }
}

/** JS heap plus ArrayBuffer memory (typed arrays live outside the heap), after garbage collection. */
function heapAfterGc(): number {
  for (let i = 0; i < 3; i++) gc!();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

interface Held {
  /** Heap held by the data while the writer still runs. */
  live: number;
  /** Heap held after a restart on the same data. */
  restarted: number;
  /** The store's own estimate after the restart. */
  estimated: number;
  /** Bytes of the message files after the restart (which compacts them). */
  disk: number;
}

function dirBytes(dir: string): number {
  let total = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    total += entry.isDirectory() ? dirBytes(p) : fs.statSync(p).size;
  }
  return total;
}

/** Heap of a platform holding `n` messages of `payload`, written `perCommit` at a time. */
async function heapWith(n: number, perCommit: number, payload: (i: number) => string): Promise<Held> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fieldflow-mem-'));
  const writer = platformOn(dir);
  await writer.start();
  const devices: string[] = [];
  for (let i = 0; i < 100; i++) devices.push((await writer.devices.create({ name: `d${i}` })).device.id);
  const started = heapAfterGc();
  for (let i = 0; i < n; i += perCommit) {
    await Promise.all(Array.from({ length: Math.min(perCommit, n - i) }, (_, j) => writer.channels.publishRaw(devices[(i + j) % 100], 'telemetry', payload(i + j))));
  }
  await settled(writer);
  const live = heapAfterGc() - started;
  await writer.stop();
  const before = heapAfterGc();
  const reader = platformOn(dir);
  await reader.start();
  await settled(reader);
  const restarted = heapAfterGc() - before;
  const estimated = reader.channels.memoryUsage().estimatedBytes;
  const disk = dirBytes(path.join(dir, 'platform', 'messages'));
  await reader.stop();
  fs.rmSync(dir, { recursive: true, force: true });
  return { live, restarted, estimated, disk };
}

async function main(): Promise<void> {
  if (!gc) throw new Error('run with node --expose-gc');
  const argv = process.argv.slice(2);
  const n = numberOption(argv, 'messages', 20_000);
  const at = argv.indexOf('--patterns');
  const patterns = (at >= 0 ? argv[at + 1] : '1,1000').split(',').map(Number);
  const shapes: Array<[string, (i: number) => string]> = [
    ['small telemetry', (i) => JSON.stringify({ t: 1795000000000 + i, temp: 21.37, hum: 44.1 })],
    ['medium record', (i) => JSON.stringify({ t: 1795000000000 + i, seq: i, status: 'running', pump: { rpm: 1200 + (i % 50), amps: 3.2, temp: 41.5 }, tags: ['north', 'line-2'], note: 'x'.repeat(80) })],
    ['1 KiB document', (i) => JSON.stringify({ t: 1795000000000 + i, blob: 'y'.repeat(1000) })],
  ];
  const rows: string[] = [];
  const cell = (v: number, w: number) => v.toFixed(0).padStart(w);
  for (const perCommit of patterns) {
    for (const [name, payload] of shapes) {
      process.stderr.write(`measuring ${name}, ${perCommit} per commit...\n`);
      const small = await heapWith(n, perCommit, payload);
      const large = await heapWith(3 * n, perCommit, payload);
      const slope = (k: keyof Held) => (large[k] - small[k]) / (2 * n);
      const size = Buffer.byteLength(payload(n));
      rows.push(
        `| ${String(perCommit).padStart(10)} | ${name.padEnd(16)} | ${String(size).padStart(7)} | ${cell(slope('live'), 12)} | ${cell(slope('restarted'), 15)} | ${cell(slope('estimated'), 9)} | ${cell(slope('disk'), 10)} |`,
      );
    }
  }
  process.stdout.write(
    [
      '',
      `Bytes per retained message (NeDB default store, slope between ${n} and ${3 * n} messages)`,
      '',
      '| per commit | payload          | payload | heap running | heap restarted | estimated | disk bytes |',
      '| ---------: | ---------------- | ------: | -----------: | -------------: | --------: | ---------: |',
      ...rows,
      '',
    ].join('\n'),
  );
}

main().catch((err) => {
  process.stderr.write(`benchmark failed: ${(err as Error).stack}\n`);
  process.exit(1);
});
