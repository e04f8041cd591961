#!/usr/bin/env node
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs, USAGE, UsageError, type SimOptions } from './args';
import { LEGACY_STATE_FILE } from './paths';
import { provision } from './provision';
import { Simulation } from './simulation';

const STATUS_EVERY_MS = 10_000;

function stamp(): string {
  return new Date().toISOString().slice(11, 19);
}

function status(sim: Simulation, final = false): string {
  const c = sim.counters();
  const link = final ? `${c.devices} device(s)` : `${c.connected}/${c.devices} connected`;
  return `${link}, ${c.sent} messages sent, ${c.queued} queued, ${c.dropped} dropped; OTA ${c.installed} installed, ${c.failed} failed`;
}

async function run(options: SimOptions): Promise<void> {
  const log = (line: string) => process.stdout.write(`[${stamp()}] ${line}\n`);
  if (!options.stateFileChosen && !fs.existsSync(options.stateFile) && fs.existsSync(LEGACY_STATE_FILE)) {
    log(`note: ${path.resolve(LEGACY_STATE_FILE)} is from an earlier version; pass --state-file ${LEGACY_STATE_FILE} to run its devices (state files now live in ${path.dirname(options.stateFile)})`);
  }
  const state = await provision(options, log);
  const sim = new Simulation(options, state, log);
  const devices = sim.plan();

  process.stdout.write(
    [
      `fieldflow-sim: ${devices.length} device(s) of model ${options.model}`,
      `  server      ${options.url}   MQTT ${options.mqttUrl}`,
      `  telemetry   ${sim.profileName}, every ${options.intervalSeconds} s`,
      `  OTA         ${state.signingPublicKey ? 'signatures verified with the platform key' : 'SHA-256 verified (no signing key on the server)'}; installs take ${options.installSeconds} s`,
      `  state file  ${options.stateFile}`,
      ...devices.slice(0, 20).map(({ record, failure }) => `  ${record.name.padEnd(20)} ${record.id}  v${record.firmware}${failure ? `  fails OTA: ${failure}` : ''}`),
      ...(devices.length > 20 ? [`  ... and ${devices.length - 20} more`] : []),
      '',
    ].join('\n'),
  );
  await sim.start();
  log('running; Ctrl-C to stop');

  const ticker = options.quiet ? undefined : setInterval(() => log(status(sim)), STATUS_EVERY_MS);
  await new Promise<void>((resolve) => {
    let stopping = false;
    const stop = (why: string) => {
      if (stopping) {
        process.stdout.write('stopping at once\n');
        process.exit(130);
      }
      stopping = true;
      clearTimeout(deadline);
      log(`${why}: stopping (sending what is queued, up to 2 s; Ctrl-C again to quit at once)`);
      clearInterval(ticker);
      void sim.stop().then(() => {
        const left = sim.counters().queued;
        log(`stopped: ${status(sim, true)}${left ? ` (the queued messages are kept in ${options.dataDir} for the next run)` : ''}`);
        resolve();
      });
    };
    const deadline = options.durationSeconds === undefined ? undefined : setTimeout(() => stop(`${options.durationSeconds} s elapsed`), options.durationSeconds * 1000);
    process.on('SIGINT', () => stop('SIGINT'));
    process.on('SIGTERM', () => stop('SIGTERM'));
  });
}

async function main(): Promise<void> {
  let options: SimOptions;
  try {
    options = parseArgs(process.argv.slice(2));
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`fieldflow-sim: ${err.message}\n\n${USAGE}\n`);
    process.exit(2);
  }
  if (options.help) {
    process.stdout.write(USAGE + '\n');
    return;
  }
  try {
    await run(options);
  } catch (err) {
    const e = err as Error & { cause?: Error };
    const cause = e.cause?.message ? ` (${e.cause.message})` : '';
    process.stderr.write(`fieldflow-sim: ${e.message}${cause}\n`);
    process.exit(1);
  }
}

void main();
