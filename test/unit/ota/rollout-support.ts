import { randomBytes } from 'node:crypto';
import type { MqttClient } from 'mqtt';
import { startApiServer, type ApiServer } from '../../support/api-server';
import { connect, waitFor } from '../../support/mqtt';
import type { PartialPlatformOptions } from '../../../runtime';

/** A device speaking the OTA protocol by hand over mqtt.js: what it was offered, what was refused. */
export class RawDevice {
  offers: any[] = [];
  rejected: any[] = [];
  client!: MqttClient;

  constructor(
    readonly id: string,
    readonly token: string,
    private readonly mqttUrl: string,
  ) {}

  async connect(): Promise<this> {
    this.client = await connect(this.mqttUrl, { clientId: this.id, username: this.id, password: this.token });
    this.client.on('message', (topic, payload) => {
      if (topic.endsWith('/ota')) this.offers.push(payload.length ? JSON.parse(payload.toString()) : null);
      if (topic.endsWith('/ota/rejected')) this.rejected.push(JSON.parse(payload.toString()));
    });
    await this.client.subscribeAsync([`devices/${this.id}/ota`, `devices/${this.id}/ota/rejected`], { qos: 1 });
    return this;
  }

  /** The last offer, once there is one (null when the last message cleared it). */
  lastOffer(): any {
    return this.offers[this.offers.length - 1];
  }

  offer(): Promise<any> {
    return waitFor(`an offer to ${this.id}`, () => this.lastOffer());
  }

  report(body: unknown): Promise<unknown> {
    return this.client.publishAsync(`devices/${this.id}/ota/status`, JSON.stringify(body), { qos: 1 });
  }

  /** Walk an offered update to installing, then report `version`. */
  async install(version: string): Promise<void> {
    const { updateId } = await this.offer();
    await this.report({ updateId, state: 'downloading', bytes: 0, total: 10 });
    await this.report({ updateId, state: 'downloaded' });
    await this.report({ updateId, state: 'installing' });
    await this.report({ updateId, version });
  }

  async close(): Promise<void> {
    await this.client?.endAsync();
  }
}

export interface OtaBench {
  s: ApiServer;
  mqttUrl: string;
  artifact: any;
  fleet: any;
  devices: RawDevice[];
  close(): Promise<void>;
}

/** A server with MQTT, `n` devices of model `m1` labelled `fleet=a` (connected), an artifact 2.0.0 for m1 and a fleet of them. */
export async function otaSetup(n: number, overrides: PartialPlatformOptions = {}, connectDevices = true): Promise<OtaBench> {
  const s = await startApiServer({ mqtt: { port: 0, host: '127.0.0.1' }, ota: { maxArtifactBytes: 1024 * 1024, sweepMs: 25 }, ...overrides });
  const port = await s.platform.broker.listen();
  const mqttUrl = `mqtt://127.0.0.1:${port}`;
  const devices: RawDevice[] = [];
  for (let i = 0; i < n; i++) {
    const r = await s.admin.post('/devices', { name: `d${i}`, model: 'm1', labels: { fleet: 'a' } });
    const d = new RawDevice(r.body.id, r.body.token, mqttUrl);
    devices.push(connectDevices ? await d.connect() : d);
  }
  // Offered in device id order: keep the array in that order too.
  devices.sort((a, b) => (a.id < b.id ? -1 : 1));
  const artifact = (await s.admin.post('/ota/artifacts?name=fw&version=2.0.0&models=m1', randomBytes(1000), { 'content-type': 'application/octet-stream' })).body;
  const fleet = (await s.admin.post('/ota/fleets', { name: 'a', selector: 'fleet=a' })).body;
  return {
    s,
    mqttUrl,
    artifact,
    fleet,
    devices,
    async close() {
      for (const d of devices) await d.close().catch(() => undefined);
      await s.close();
    },
  };
}
