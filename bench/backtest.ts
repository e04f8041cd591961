/**
 * Backtest speed: `npm run bench:backtest` (options: --messages N --rounds R --inflight K).
 *
 * One device's channel is filled with N messages (a sine-like temperature plus noise) in an
 * in-process platform on a temporary data directory, then a cross trigger with deadband and hold
 * is backtested over all of them. The baseline, in the same run, is a plain scan of the same
 * messages that parses each one: the floor every backtest sits on, since it must read and parse
 * every stored message. Scan and backtest alternate for R rounds; the table shows the median.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createPlatform, type Platform } from '../runtime';
import { silentLogger } from '../runtime/log';
import type { TriggerSpec } from '../runtime/triggers/model';
import { numberOption } from './lib/args';
import { fmt, int, log, table } from './lib/format';

const CHANNEL = 'telemetry';
/** The temperature swings 20 +- 10 over this period of wall time while it is written. */
const PERIOD_MS = 200;
/** Goal: messages backtested per minute of wall time. */
const GOAL_PER_MINUTE = 1_000_000;

/**
 * Fires about once per period: the sine is above 25 for a third of each period (67 ms, longer
 * than the 40 ms hold). The +-1.5 noise is wider than the deadband, so near the threshold the
 * raw condition flickers and holds start and are cancelled: the evaluator's busy path too.
 */
const SPEC: TriggerSpec = {
  name: 'hot',
  channel: CHANNEL,
  path: 'temp',
  kind: 'cross',
  direction: 'rising',
  threshold: 25,
  deadband: 1,
  forSeconds: 0.04,
};

interface Options {
  messages: number;
  rounds: number;
  inflight: number;
}

function parseArgs(argv: string[]): Options {
  return { messages: numberOption(argv, 'messages', 1_000_000), rounds: numberOption(argv, 'rounds', 3), inflight: numberOption(argv, 'inflight', 2000) };
}

function platformOn(dir: string): Platform {
  return createPlatform({
    dataDir: dir,
    logger: silentLogger,
    mqtt: { port: null },
    auth: { adminPassword: 'bench', bcryptRounds: 4 },
    // The default keeps 100,000 messages per channel; keep them all, and no sweep mid-run.
    retention: { maxCount: 100_000_000, maxAgeSeconds: 366 * 24 * 3600, intervalSeconds: 24 * 3600 },
  });
}

function reading(now: number): { t: number; temp: number; hum: number } {
  const temp = 20 + 10 * Math.sin((2 * Math.PI * now) / PERIOD_MS) + (Math.random() - 0.5) * 3;
  return { t: now, temp: Math.round(temp * 100) / 100, hum: Math.round((40 + Math.random() * 10) * 10) / 10 };
}

/** Write `n` messages, `inflight` at a time (the log's group commit batches their writes). */
async function fill(platform: Platform, device: string, n: number, inflight: number): Promise<number> {
  const started = performance.now();
  for (let i = 0; i < n; i += inflight) {
    const batch = Math.min(inflight, n - i);
    await Promise.all(Array.from({ length: batch }, () => platform.channels.publish(device, CHANNEL, reading(Date.now()))));
  }
  return (performance.now() - started) / 1000;
}

interface Timing {
  seconds: number;
  count: number;
  fires: number;
}

/** The floor: read every message of the range and parse it, nothing else. */
async function scan(platform: Platform, device: string, to: number): Promise<Timing> {
  const started = performance.now();
  let sink = 0;
  const count = await platform.channels.scan(device, CHANNEL, { after: 0, before: to }, (record) => {
    // Touch the parsed value so the parse cannot be optimised away.
    sink += (JSON.parse(record.json) as { temp: number }).temp;
  });
  if (Number.isNaN(sink)) throw new Error('unreachable');
  return { seconds: (performance.now() - started) / 1000, count, fires: 0 };
}

async function backtest(platform: Platform, device: string, to: number): Promise<Timing> {
  const started = performance.now();
  const r = await platform.triggers.backtest(SPEC, { device, from: 0, to });
  return { seconds: (performance.now() - started) / 1000, count: r.scanned, fires: r.count };
}

function median(xs: Timing[]): Timing {
  return [...xs].sort((a, b) => a.seconds - b.seconds)[Math.floor(xs.length / 2)];
}

async function main(): Promise<void> {
  const opts = parseArgs(process.argv.slice(2));
  log(`Backtest benchmark: ${opts.messages} messages on one channel, ${opts.rounds} rounds; machine: ${os.cpus().length} cores, Node ${process.version}`);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fieldflow-backtest-'));
  const platform = platformOn(dir);
  try {
    await platform.start();
    const { device } = await platform.devices.create({ name: 'backtest' });
    log(`writing ${opts.messages} messages, ${opts.inflight} in flight...`);
    const writeSeconds = await fill(platform, device.id, opts.messages, opts.inflight);
    const to = Date.now() + 1;

    const scans: Timing[] = [];
    const backtests: Timing[] = [];
    for (let r = 1; r <= opts.rounds; r++) {
      log(`round ${r}/${opts.rounds}: scan, then backtest...`);
      scans.push(await scan(platform, device.id, to));
      backtests.push(await backtest(platform, device.id, to));
    }
    report(opts, writeSeconds, scans, backtests);
  } finally {
    await platform.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function report(opts: Options, writeSeconds: number, scans: Timing[], backtests: Timing[]): void {
  const s = median(scans);
  const b = median(backtests);
  const perMinute = (t: Timing) => (t.count / t.seconds) * 60;
  const range = (ts: Timing[]) => `${fmt(Math.min(...ts.map((t) => t.seconds)), 2)}-${fmt(Math.max(...ts.map((t) => t.seconds)), 2)}`;
  if (s.count !== opts.messages || b.count !== opts.messages) throw new Error(`expected ${opts.messages} messages, scan read ${s.count}, backtest ${b.count}`);
  const ratio = perMinute(b) / perMinute(s);
  process.stdout.write(
    [
      '',
      ...table(
        ['run', 'messages', 'seconds (median)', 'seconds (all rounds)', 'msgs/minute', 'fires'],
        [
          ['scan + JSON.parse (baseline)', int(s.count), fmt(s.seconds, 2), range(scans), int(perMinute(s)), '-'],
          ['backtest: cross rising 25, deadband 1, hold 40 ms', int(b.count), fmt(b.seconds, 2), range(backtests), int(perMinute(b)), String(b.fires)],
        ],
      ),
      '',
      `Backtest rate / scan rate: ${ratio.toFixed(2)}`,
      `Backtest: ${int(perMinute(b))} messages per minute (goal >= ${int(GOAL_PER_MINUTE)}: ${perMinute(b) >= GOAL_PER_MINUTE ? 'met' : 'NOT met'})`,
      `Writing them took ${fmt(writeSeconds, 1)} s (${int(opts.messages / writeSeconds)} msg/s, ${opts.inflight} in flight); the sine has a ${PERIOD_MS} ms period, so about one fire per period.`,
      'Both read the in-memory message log through ChannelService.scan in 5,000-message pages; the backtest also reads the path, decodes each id to its time and runs the evaluator.',
      '',
    ].join('\n'),
  );
}

main().catch((err) => {
  process.stderr.write(`benchmark failed: ${(err as Error).stack}\n`);
  process.exit(1);
});
