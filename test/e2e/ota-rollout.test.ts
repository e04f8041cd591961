import assert from 'node:assert/strict';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { startServer, type ServerProcess } from '../support/server';
import { tempDir } from '../support/platform';
import { waitFor } from '../support/mqtt';
import type { Api } from '../support/http';
import { FieldflowDevice, type OtaAgent, type OtaOffer } from '../../sdk';

/**
 * A TCP proxy in front of the HTTP port that cuts the first download through it after `cutAfter`
 * bytes of response, and counts every byte it passes back.
 */
async function cuttingProxy(target: number, cutAfter: number): Promise<{ url: string; bytes: () => number; cuts: () => number; close: () => void }> {
  let bytes = 0;
  let cuts = 0;
  let first = true;
  const server = net.createServer((client) => {
    const upstream = net.connect(target, '127.0.0.1');
    const cutThis = first;
    let passed = 0;
    client.pipe(upstream);
    upstream.on('data', (chunk: Buffer) => {
      if (cutThis && passed + chunk.length > cutAfter) {
        // Only downloads are large enough to reach this.
        first = false;
        cuts++;
        const part = chunk.subarray(0, Math.max(0, cutAfter - passed));
        bytes += part.length;
        client.write(part, () => client.destroy());
        upstream.destroy();
        return;
      }
      passed += chunk.length;
      bytes += chunk.length;
      client.write(chunk);
    });
    upstream.on('end', () => client.end());
    upstream.on('error', () => client.destroy());
    client.on('error', () => upstream.destroy());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return { url: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`, bytes: () => bytes, cuts: () => cuts, close: () => server.close() };
}

interface SimDevice {
  id: string;
  token: string;
  device: FieldflowDevice;
  agent?: OtaAgent;
  installed: string[];
  offers: OtaOffer[];
}

describe('OTA rollout end to end, with SDK devices against the real server', function () {
  this.timeout(120_000);
  let server: ServerProcess;
  let admin: Api;
  let publicKey: string;
  const sims: SimDevice[] = [];
  const closers: Array<() => unknown> = [];

  before(async () => {
    const dir = tempDir('fieldflow-ota-e2e-');
    const { privateKey } = generateKeyPairSync('ed25519');
    const keyFile = path.join(dir, 'ota.pem');
    fs.writeFileSync(keyFile, privateKey.export({ type: 'pkcs8', format: 'pem' }));
    server = await startServer({ env: { FIELDFLOW_OTA_SIGNING_KEY: keyFile } });
    admin = await server.admin();
    publicKey = (await admin.get('/ota/signing-key')).body.publicKey;
    for (let i = 0; i < 8; i++) {
      const r = await admin.post('/devices', { name: `pump-${i}`, model: 'pump-v2', labels: { site: 'north' } });
      sims.push({ id: r.body.id, token: r.body.token, device: null as unknown as FieldflowDevice, installed: [], offers: [] });
    }
    // Offers go out in device id order: sort so that index 0 and 1 are the canary.
    sims.sort((a, b) => (a.id < b.id ? -1 : 1));
  });

  after(async () => {
    for (const s of sims) await s.device?.close({ drainMs: 0 }).catch(() => undefined);
    for (const c of closers) c();
    await server?.stop();
  });

  const upload = async (version: string, size: number) => {
    const body = randomBytes(size);
    const r = await admin.post(`/ota/artifacts?name=pump-fw&version=${version}&models=pump-v2`, body, { 'content-type': 'application/octet-stream' });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    return r.body;
  };

  /** Connect an SDK device with an OTA agent that installs by recording the version. */
  const start = async (s: SimDevice, options: { httpUrl?: string; corrupt?: boolean; failInstallOf?: string } = {}) => {
    s.device = new FieldflowDevice({ url: server.mqttUrl, deviceId: s.id, token: s.token, httpUrl: options.httpUrl ?? server.httpUrl, reconnectPeriodMs: 200 });
    await s.device.connect();
    s.agent = s.device.ota({
      currentVersion: s.installed.at(-1) ?? '1.0.0',
      downloadDir: tempDir('fieldflow-ota-dl-'),
      signingPublicKey: publicKey,
      requireSignature: true,
      retryDelayMs: 100,
      simulateCorruptDownload: options.corrupt,
      install: (_file, offer) => {
        if (offer.artifact.version === options.failInstallOf) throw new Error('flash write failed');
        s.installed.push(offer.artifact.version);
      },
    });
    s.agent.on('offer', (o) => s.offers.push(o));
  };

  const rollout = async (id: string) => (await admin.get(`/ota/rollouts/${id}`)).body;
  const updates = async (id: string) => (await admin.get(`/ota/rollouts/${id}/updates?limit=100`)).body.items as any[];

  it('runs a canary of 2, then waves; a corrupted download fails verification; an offline device gets its offer on reconnect; a cut download resumes', async () => {
    const size = 3 * 1024 * 1024;
    const artifact = await upload('2.0.0', size);
    assert.ok(artifact.signature, 'signed with the configured key');
    const proxy = await cuttingProxy(server.httpPort, Math.floor(size * 0.4));
    closers.push(proxy.close);
    const [c0, c1, w0, corrupt, cut, w3, offline, w5] = sims;
    for (const s of [c0, c1, w0, w3, w5]) await start(s);
    await start(corrupt, { corrupt: true });
    await start(cut, { httpUrl: proxy.url });
    const fleet = (await admin.post('/ota/fleets', { name: 'north', selector: 'site=north' })).body;
    const created = await admin.post('/ota/rollouts', { artifactId: artifact.id, fleetId: fleet.id, canary: { count: 2 }, waveSize: 3, wavePauseSeconds: 0.5, maxFailureRatio: 0.3 });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const id = created.body.id;

    await waitFor('the canary succeeds', async () => (await rollout(id)).progress.succeeded === 2, 30_000);
    // The offline device is in the last wave; bring it up once the waves are running.
    await waitFor('wave 2', async () => (await rollout(id)).wave >= 2, 30_000);
    const all = await updates(id);
    assert.equal(all.find((u) => u.deviceId === offline.id).state, 'offered', 'offered while offline');
    await start(offline);

    const done = await waitFor('completed', async () => {
      const r = await rollout(id);
      return r.status === 'completed' && r;
    }, 60_000);
    assert.deepEqual([done.progress.succeeded, done.progress.failed, done.progress.total], [7, 1, 8]);

    const byDevice = new Map((await updates(id)).map((u) => [u.deviceId, u]));
    // The canary ended before any wave device was offered.
    const canaryEnd = Math.max(...[c0, c1].map((s) => Date.parse(byDevice.get(s.id)!.endedAt)));
    for (const s of [w0, corrupt, cut, w3, offline, w5]) assert.ok(Date.parse(byDevice.get(s.id)!.offeredAt) >= canaryEnd, `${s.id} offered after the canary`);
    assert.deepEqual([byDevice.get(c0.id)!.wave, byDevice.get(w0.id)!.wave, byDevice.get(w5.id)!.wave], [0, 1, 2]);

    assert.deepEqual([byDevice.get(corrupt.id)!.state, byDevice.get(corrupt.id)!.reason], ['failed', 'checksum_mismatch']);
    assert.deepEqual(corrupt.installed, [], 'nothing installed from a corrupted download');
    for (const s of [c0, c1, w0, cut, w3, offline, w5]) {
      assert.deepEqual(s.installed, ['2.0.0'], s.id);
      assert.equal(byDevice.get(s.id)!.state, 'succeeded');
    }
    assert.equal(offline.offers.length, 1, 'the retained offer reached the device that was offline');

    assert.equal(proxy.cuts(), 1, 'the download was cut once');
    assert.ok(proxy.bytes() < 1.2 * size, `fetched ${proxy.bytes()} bytes for a ${size}-byte artifact`);
    assert.ok(proxy.bytes() >= size, 'and all of it arrived');
    const cutStats = cut.agent!.history.at(-1)!;
    assert.equal(cutStats.state, 'installed');

    const firmware = (await admin.get(`/devices/${w5.id}/tags/device`)).body.values.firmware;
    assert.equal(firmware, '2.0.0', 'the device reported its new version as its firmware tag');
  });

  it('halts when the failure ratio is exceeded and cancels the devices not yet offered', async () => {
    const artifact = await upload('3.0.0', 64 * 1024);
    for (const s of sims) await s.device.close({ drainMs: 0 });
    // The first two devices fail to flash 3.0.0.
    for (const [i, s] of sims.entries()) await start(s, { failInstallOf: i < 2 ? '3.0.0' : undefined });
    const fleet = (await admin.get('/ota/fleets')).body.items.find((f: any) => f.name === 'north');
    const created = await admin.post('/ota/rollouts', { artifactId: artifact.id, fleetId: fleet.id, waveSize: 4, maxFailureRatio: 0.3 });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const id = created.body.id;
    const halted = await waitFor('halted', async () => {
      const r = await rollout(id);
      return r.status === 'halted' && r;
    }, 30_000);
    assert.match(halted.haltReason, /^failure_ratio/);
    const list = await updates(id);
    const failed = list.filter((u) => u.state === 'failed');
    assert.ok(failed.length >= 2);
    assert.ok(failed.every((u) => u.reason === 'install_failed'));
    const notOffered = list.filter((u) => u.wave === 2);
    assert.equal(notOffered.length, 4);
    for (const u of notOffered) assert.deepEqual([u.state, u.reason, u.offeredAt], ['cancelled', 'rollout_halted', null]);
    for (const s of sims.slice(4)) assert.equal(s.offers.filter((o) => o.artifact.version === '3.0.0').length, 0, 'the second wave never got an offer');
    // The alarm is raised after the halt is stored, so a loaded machine can show the halt first.
    const alarms = await waitFor('the halt alarm', async () => {
      const items = (await admin.get('/alarms?type=ota_rollout_halted')).body.items as any[];
      return items.length > 0 && items;
    });
    assert.equal(alarms.length, 1);
    assert.equal(alarms[0].details.rolloutId, id);
  });
});
