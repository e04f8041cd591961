import path from 'node:path';
import { FieldflowDevice } from '../device';
import { ConnectionRefusedError, DeviceClosedError } from '../errors';
import type { OtaAgent } from '../ota-agent';
import type { FailurePlan, SimOptions } from './args';
import { profileFor, seededRng, type TelemetryModel, type TelemetryProfile } from './profiles';
import { writeState, type SimDeviceRecord, type SimState } from './state';

/** The OTA failure a simulated device is set up with. */
export type SimFailure = keyof FailurePlan;

interface Running {
  record: SimDeviceRecord;
  device: FieldflowDevice;
  agent: OtaAgent;
  model: TelemetryModel;
  failure?: SimFailure;
  timer?: NodeJS.Timeout;
  lastTick: number;
}

/** Counters of a simulation run. */
export interface SimCounters {
  devices: number;
  connected: number;
  /** Telemetry messages the server acknowledged. */
  sent: number;
  /** Messages waiting in the devices' offline queues. */
  queued: number;
  dropped: number;
  installed: number;
  failed: number;
}

/** Which failure each device gets: the plan's counts, given out to devices in order. */
export function assignFailures(count: number, plan: FailurePlan): Array<SimFailure | undefined> {
  const out: Array<SimFailure | undefined> = [];
  for (const kind of ['checksum', 'install', 'rollback'] as const) for (let i = 0; i < plan[kind]; i++) out.push(kind);
  return Array.from({ length: count }, (_, i) => out[i]);
}

/** N virtual devices: telemetry on a timer, OTA through the SDK agent, failures on purpose. */
export class Simulation {
  private readonly running: Running[] = [];
  private readonly profile: TelemetryProfile;
  private sent = 0;
  private installed = 0;
  private failed = 0;
  private saving: Promise<void> = Promise.resolve();

  constructor(
    private readonly options: SimOptions,
    private readonly state: SimState,
    private readonly log: (line: string) => void,
  ) {
    this.profile = profileFor(options.profile, options.model);
  }

  /** The telemetry profile in use. */
  get profileName(): string {
    return `${this.profile.name} (channel ${this.profile.channel}: ${this.profile.description})`;
  }

  /** The devices this run simulates, with the failure each one is set up with. */
  plan(): Array<{ record: SimDeviceRecord; failure?: SimFailure }> {
    const records = this.state.devices.slice(0, this.options.count);
    const failures = assignFailures(records.length, this.options.fail);
    return records.map((record, i) => ({ record, failure: failures[i] }));
  }

  /** Start every device: connect in the background, publish on the interval, answer OTA offers. */
  async start(): Promise<void> {
    for (const { record, failure } of this.plan()) this.running.push(await this.startDevice(record, failure));
  }

  /** Counters over all devices, now. */
  counters(): SimCounters {
    let connected = 0;
    let queued = 0;
    let dropped = 0;
    for (const r of this.running) {
      if (r.device.connected) connected++;
      queued += r.device.stats.queued;
      dropped += r.device.stats.dropped;
    }
    return { devices: this.running.length, connected, sent: this.sent, queued, dropped, installed: this.installed, failed: this.failed };
  }

  /** Stop the timers, let each device send what it queued (up to 2 s), disconnect, save versions. */
  async stop(): Promise<void> {
    for (const r of this.running) clearInterval(r.timer);
    await Promise.all(this.running.map((r) => r.device.close({ drainMs: 2000 }).catch(() => undefined)));
    await this.save();
  }

  private async startDevice(record: SimDeviceRecord, failure: SimFailure | undefined): Promise<Running> {
    const { options } = this;
    const device = new FieldflowDevice({
      url: options.mqttUrl,
      httpUrl: options.url,
      deviceId: record.id,
      token: record.token,
      queue: { dir: path.join(options.dataDir, 'queues', record.id) },
      reconnectPeriodMs: 2000,
    });
    const say = (line: string) => this.log(`${record.name}: ${line}`);
    // Network errors repeat on every reconnection attempt: say them once per outage.
    let lastError = '';
    let away = false;
    device.on('error', (err) => {
      if (err instanceof ConnectionRefusedError) say(`${err.message}; is the device deleted or its token rotated? (state file ${options.stateFile})`);
      else lastError = err.message;
    });
    device.on('offline', () => {
      away = true;
      if (!options.quiet) say(`offline${lastError ? ` (${lastError})` : ''}, retrying; telemetry is queued meanwhile`);
    });
    device.on('connect', () => {
      if (away && !options.quiet) say('back online');
      away = false;
      lastError = '';
    });
    if (!options.quiet) {
      device.on('command', (c) => say(`command ${c.name} ${JSON.stringify(c.args)}`));
      device.on('config', (c) => say(`config ${JSON.stringify(c)}`));
    }
    await device.start();
    const agent = device.ota({
      currentVersion: record.firmware,
      downloadDir: path.join(options.dataDir, 'downloads', record.id),
      signingPublicKey: this.state.signingPublicKey ?? undefined,
      simulateCorruptDownload: failure === 'checksum',
      install: async (_file, offer) => {
        await new Promise((r) => setTimeout(r, options.installSeconds * 1000));
        if (failure === 'install') throw new Error('simulated install failure (--fail install)');
        if (failure !== 'rollback') record.firmware = offer.artifact.version;
        void this.save();
        return { version: record.firmware };
      },
    });
    agent.on('offer', (o) => say(`offered ${o.artifact.name ?? 'artifact'} ${o.artifact.version} (${o.artifact.size} bytes)`));
    agent.on('done', (s) => {
      if (s.state === 'installed') this.installed++;
      else if (s.state !== 'aborted') this.failed++;
      const detail = s.state === 'failed' ? ` (${s.reason})` : s.state === 'rolled_back' ? ` (came back on ${record.firmware})` : '';
      say(`update to ${s.version}: ${s.state}${detail}, ${s.bytesFetched} bytes fetched in ${s.requests} request(s)`);
    });
    const running: Running = { record, device, agent, failure, model: this.profile.create(seededRng(record.id)), lastTick: Date.now() };
    // Spread the devices over the interval so they do not all publish at once.
    const first = setTimeout(() => {
      this.tick(running);
      running.timer = setInterval(() => this.tick(running), options.intervalSeconds * 1000);
    }, Math.random() * options.intervalSeconds * 1000);
    running.timer = first;
    return running;
  }

  private tick(r: Running): void {
    const now = Date.now();
    const data = r.model.next((now - r.lastTick) / 1000, new Date(now));
    r.lastTick = now;
    r.device.publish(this.profile.channel, data).then(
      () => this.sent++,
      (err: Error) => {
        if (!(err instanceof DeviceClosedError)) this.log(`${r.record.name}: ${err.message}`);
      },
    );
  }

  private save(): Promise<void> {
    this.saving = this.saving.then(() => writeState(this.options.stateFile, this.state)).catch((err: Error) => this.log(`cannot save ${this.options.stateFile}: ${err.message}`));
    return this.saving;
  }
}
