/**
 * The platform under test of bench/notify.ts, in its own process: createPlatform() with the
 * server's defaults (settings.ts, read from the environment like `npm start`), the NeDB store in a
 * temporary data directory on disk and the MQTT TCP listener on a free port. No Node-RED and no
 * REST API: the benchmark raises alarms through `platform.alarms.raise`, as triggers do, and its
 * ingestion load arrives over MQTT from bench/load-generator.ts.
 *
 * The orchestrator drives it with the requests below over IPC; each answer carries the request's id.
 * Started with `--require lib/cpu-profile.js`, SIGUSR2 toggles a CPU profile (see that file).
 */
import { createPlatform, type Platform, type PlatformOptions } from '../runtime';
import { createLogger } from '../runtime/log';
import { loadSettings } from '../settings';
import type { LoadPlan } from './lib/messages';

export type PlatformRequest =
  | { type: 'setup'; devices: number; endpoints: number; receiverUrl: string }
  /** Raise `count` new alarms (types `<prefix>-<i>`, round-robin over the devices) as fast as `concurrency` raises in flight allow. */
  | { type: 'raise'; count: number; prefix: string; concurrency: number }
  /** Resolve once no delivery waits or is in flight (call after every expected delivery has arrived). */
  | { type: 'idle' }
  /** Telemetry messages ingested so far (MessageCreate events). */
  | { type: 'ingested' }
  /** Deliveries not sent: anything queued, held, sending, dead or cancelled. */
  | { type: 'unsent' }
  /** Turn the bench subscription on or off (off: alarms are raised and notify nothing). */
  | { type: 'subscription'; enabled: boolean }
  | { type: 'stop' };

export interface SetupResult {
  mqttUrl: string;
  devices: LoadPlan['devices'];
  /** Per endpoint: its path at the receiver and the signing secret createEndpoint returned once. */
  endpoints: Array<{ id: string; path: string; secret: string }>;
  subscription: string;
  dataDir: string;
  /** The options the platform runs with (logger and clock left out). */
  options: Omit<PlatformOptions, 'logger' | 'now'>;
}

export interface RaiseResult {
  startedAt: number;
  /** Every raise() resolved (the alarms are stored and AlarmRaised was emitted). */
  raisedAt: number;
  created: number;
}

export type PlatformReply = { id: number; ok: true; result: unknown } | { id: number; ok: false; error: string };

const CHANNEL = 'telemetry';

let platform: Platform | null = null;
const deviceIds: string[] = [];
let ingested = 0;

let subscriptionId: string | null = null;

async function setup(req: Extract<PlatformRequest, { type: 'setup' }>): Promise<SetupResult> {
  const settings = loadSettings();
  const log = createLogger(settings.logLevel);
  platform = createPlatform({ ...settings.platform, mqtt: { port: 0, host: '127.0.0.1' }, logger: log });
  await platform.start();
  const port = await platform.broker.listen();
  // What a `channel in` node costs the platform per message: one event built and emitted.
  platform.events.on('MessageCreate', () => void ingested++);

  const devices: LoadPlan['devices'] = [];
  for (let i = 0; i < req.devices; i++) {
    const { device, token } = await platform.devices.create({ name: `bench-${i}`, labels: { bench: 'yes' } });
    deviceIds.push(device.id);
    devices.push({ clientId: device.id, username: device.id, password: token, topic: `devices/${device.id}/channels/${CHANNEL}` });
  }
  const endpoints: SetupResult['endpoints'] = [];
  for (let i = 0; i < req.endpoints; i++) {
    const path = `/hook/${i}`;
    const created = await platform.notify.createEndpoint({ type: 'webhook', name: `bench receiver ${i}`, config: { url: `${req.receiverUrl}${path}` } });
    if (!created.generatedSecret) throw new Error('createEndpoint returned no generated secret');
    endpoints.push({ id: created.endpoint.id, path, secret: created.generatedSecret });
  }
  const sub = await platform.notify.createSubscription({ name: 'bench alarms', events: ['AlarmRaised'], endpoints: endpoints.map((e) => e.id) });
  subscriptionId = sub.id;
  const { logger: _l, now: _n, ...options } = platform.options;
  return { mqttUrl: `mqtt://127.0.0.1:${port}`, devices, endpoints, subscription: sub.id, dataDir: settings.dataDir, options };
}

async function raise(req: Extract<PlatformRequest, { type: 'raise' }>): Promise<RaiseResult> {
  const p = platform!;
  const startedAt = Date.now();
  let next = 0;
  let created = 0;
  const worker = async () => {
    while (next < req.count) {
      const i = next++;
      const r = await p.alarms.raise({ device: deviceIds[i % deviceIds.length], type: `${req.prefix}-${i}`, severity: 'major', message: `bench alarm ${i}` });
      if (r.created) created++;
    }
  };
  await Promise.all(Array.from({ length: Math.min(req.concurrency, req.count) }, worker));
  return { startedAt, raisedAt: Date.now(), created };
}

async function idle(): Promise<number> {
  for (;;) {
    const s = platform!.notify.pipelineStats();
    if (s.waiting === 0 && s.inFlight === 0) return Date.now();
    await new Promise((r) => setTimeout(r, 5));
  }
}

function unsent(): number {
  return platform!.notify.listDeliveries({ status: ['queued', 'held', 'sending', 'dead', 'cancelled'] }, null, 1_000_000).items.length;
}

async function handle(req: PlatformRequest): Promise<unknown> {
  switch (req.type) {
    case 'setup':
      return setup(req);
    case 'raise':
      return raise(req);
    case 'idle':
      return idle();
    case 'ingested':
      return { count: ingested, at: Date.now() };
    case 'unsent':
      return unsent();
    case 'subscription':
      await platform!.notify.updateSubscription(subscriptionId!, { enabled: req.enabled });
      return null;
    case 'stop':
      await platform?.stop();
      return null;
  }
}

process.on('message', (m: { id: number; req: PlatformRequest }) => {
  handle(m.req).then(
    (result) => process.send!({ id: m.id, ok: true, result } satisfies PlatformReply),
    (err: Error) => process.send!({ id: m.id, ok: false, error: err.stack ?? err.message } satisfies PlatformReply),
  );
});
process.on('disconnect', () => process.exit(0));
