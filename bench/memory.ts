/**
 * Memory per retained message with the NeDB default: `npm run bench:memory`.
 *
 * For each payload size it stores N and then 3N messages (100 devices, one channel each), restarts the platform
 * on that data and measures the heap (and typed-array memory) after garbage collection. The slope between the two is the memory one
 * more retained message needs, without fixed costs. The baseline is the payload's own JSON size.
 * Run with --expose-gc (the npm script does).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createPlatform, type Platform } from '../runtime';
import { silentLogger } from '../runtime/log';

const gc = (globalThis as { gc?: () => void }).gc;

function platformOn(dir: string): Platform {
  return createPlatform({
    dataDir: dir,
    logger: silentLogger,
    mqtt: { port: null },
    auth: { adminPassword: 'bench', bcryptRounds: 4 },
    retention: { maxCount: 100_000_000 },
  });
}

/** JS heap plus ArrayBuffer memory (typed arrays live outside the heap), after garbage collection. */
function heapAfterGc(): number {
  for (let i = 0; i < 3; i++) gc!();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

/** Heap of a platform restarted on a data directory holding `n` messages of `payload`. */
async function heapWith(n: number, payload: (i: number) => string): Promise<number> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fieldflow-mem-'));
  const writer = platformOn(dir);
  await writer.start();
  const devices: string[] = [];
  for (let i = 0; i < 100; i++) devices.push((await writer.devices.create({ name: `d${i}` })).device.id);
  for (let i = 0; i < n; i += 1000) {
    await Promise.all(Array.from({ length: Math.min(1000, n - i) }, (_, j) => writer.channels.publishRaw(devices[(i + j) % 100], 'telemetry', payload(i + j))));
  }
  await writer.stop();
  const before = heapAfterGc();
  const reader = platformOn(dir);
  await reader.start();
  const held = heapAfterGc() - before;
  await reader.stop();
  fs.rmSync(dir, { recursive: true, force: true });
  return held;
}

async function main(): Promise<void> {
  if (!gc) throw new Error('run with node --expose-gc');
  const n = Number(process.argv[2] ?? 50_000);
  const shapes: Array<[string, (i: number) => string]> = [
    ['small telemetry', (i) => JSON.stringify({ t: 1795000000000 + i, temp: 21.37, hum: 44.1 })],
    ['medium record', (i) => JSON.stringify({ t: 1795000000000 + i, seq: i, status: 'running', pump: { rpm: 1200 + (i % 50), amps: 3.2, temp: 41.5 }, tags: ['north', 'line-2'], note: 'x'.repeat(80) })],
    ['1 KiB document', (i) => JSON.stringify({ t: 1795000000000 + i, blob: 'y'.repeat(1000) })],
  ];
  const rows: string[] = [];
  for (const [name, payload] of shapes) {
    process.stderr.write(`measuring ${name}...\n`);
    const small = await heapWith(n, payload);
    const large = await heapWith(3 * n, payload);
    const perMessage = (large - small) / (2 * n);
    const size = Buffer.byteLength(payload(n));
    rows.push(`| ${name.padEnd(16)} | ${String(size).padStart(13)} | ${perMessage.toFixed(0).padStart(19)} | ${(perMessage / size).toFixed(1).padStart(16)} | ${((perMessage * 1e6) / 2 ** 20).toFixed(0).padStart(23)} |`);
  }
  process.stdout.write(
    [
      '',
      `Memory per retained message (NeDB default store, slope between ${n} and ${3 * n} messages, after a restart)`,
      '',
      '| payload          | payload bytes | bytes/message      | ratio to payload | MiB per million messages |',
      '| ---------------- | ------------: | -----------------: | ---------------: | -----------------------: |',
      ...rows,
      '',
    ].join('\n'),
  );
}

main().catch((err) => {
  process.stderr.write(`benchmark failed: ${(err as Error).stack}\n`);
  process.exit(1);
});
