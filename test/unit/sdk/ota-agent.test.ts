import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { FieldflowDevice, type OtaAgentOptions, type OtaOffer, type OtaReport, type OtaUpdateStats } from '../../../sdk';
import { startApiServer, type ApiServer } from '../../support/api-server';
import { tempDir } from '../../support/platform';
import { waitFor } from '../../support/mqtt';
import { CuttingProxy, createDevice } from './support';

const SIZE = 512 * 1024;

function keyFile(): string {
  const file = path.join(tempDir(), 'ota.pem');
  fs.writeFileSync(file, generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }) as string);
  return file;
}

interface Rig {
  s: ApiServer;
  mqttUrl: string;
  httpUrl: string;
  publicKey: string;
  artifact: { id: string; sha256: string; size: number; version: string };
}

describe('SDK OTA agent against real rollouts', function () {
  this.timeout(60_000);
  let rig: Rig;
  const closers: Array<() => Promise<unknown>> = [];

  before(async () => {
    const s = await startApiServer({ mqtt: { port: 0, host: '127.0.0.1' }, ota: { maxArtifactBytes: 8 * SIZE, sweepMs: 25, signingKeyFile: keyFile() } });
    const port = await s.platform.broker.listen();
    const artifact = (await s.admin.post('/ota/artifacts?name=fw&version=2.0.0&models=m1', randomBytes(SIZE), { 'content-type': 'application/octet-stream' })).body;
    const publicKey = (await s.admin.get('/ota/signing-key')).body.publicKey;
    rig = { s, mqttUrl: `mqtt://127.0.0.1:${port}`, httpUrl: s.url.replace(/\/api\/v1$/, ''), publicKey, artifact };
  });
  afterEach(async () => {
    for (const c of closers.splice(0).reverse()) await c().catch(() => undefined);
  });
  after(() => rig.s.close());

  /** Connect a device and start its agent (running 1.0.0 unless told otherwise), recording installs and reports. */
  async function startAgent(id: string, token: string, downloadDir: string, agentOptions: Partial<OtaAgentOptions> = {}, httpUrl = rig.httpUrl) {
    const device = new FieldflowDevice({ url: rig.mqttUrl, deviceId: id, token, httpUrl, reconnectPeriodMs: 100 });
    closers.push(() => device.close({ drainMs: 0 }));
    await device.connect();
    const installed: Array<{ sha256: string; offer: OtaOffer }> = [];
    const agent = device.ota({
      currentVersion: '1.0.0',
      downloadDir,
      signingPublicKey: rig.publicKey,
      requireSignature: true,
      retryDelayMs: 20,
      install: (file, offer) => {
        installed.push({ sha256: createHash('sha256').update(fs.readFileSync(file)).digest('hex'), offer });
      },
      ...agentOptions,
    });
    const reports: OtaReport[] = [];
    agent.on('report', (r) => reports.push(r));
    const done = new Promise<OtaUpdateStats>((resolve) => agent.once('done', resolve));
    return { device, agent, installed, reports, done };
  }

  /** Roll 2.0.0 out to one device; returns its update as the server sees it. */
  async function rollOut(id: string) {
    const fleet = (await rig.s.admin.post('/ota/fleets', { name: `f-${id}`, devices: [id] })).body;
    const rollout = await rig.s.admin.post('/ota/rollouts', { artifactId: rig.artifact.id, fleetId: fleet.id, maxFailureRatio: 1 });
    assert.equal(rollout.status, 201, JSON.stringify(rollout.body));
    const update = async () => (await rig.s.admin.get(`/ota/rollouts/${rollout.body.id}/updates`)).body.items[0];
    const settled = () =>
      waitFor('the update ends on the server', async () => {
        const u = await update();
        return ['succeeded', 'failed', 'cancelled'].includes(u.state) && u;
      }, 20_000);
    return { rolloutId: rollout.body.id as string, update, settled };
  }

  /** A device running 1.0.0 with an agent, and a rollout of 2.0.0 to it alone. */
  async function updateOne(agentOptions: Partial<OtaAgentOptions> = {}, deviceOptions: { httpUrl?: string } = {}) {
    const { id, token } = await createDevice(rig.s.admin, `d-${Math.random().toString(36).slice(2)}`, { model: 'm1' });
    const downloadDir = tempDir();
    const a = await startAgent(id, token, downloadDir, agentOptions, deviceOptions.httpUrl);
    // The server knows the running version before it offers (fromVersion).
    await waitFor('firmware tag', async () => (await rig.s.admin.get(`/devices/${id}/tags/device`)).body.values?.firmware === '1.0.0');
    return { id, downloadDir, ...a, ...(await rollOut(id)) };
  }

  it('downloads, verifies and installs an offered update, and the server counts it done once the new version is reported', async () => {
    const t = await updateOne();
    const stats = await t.done;
    const u = await t.settled();
    assert.deepEqual([u.state, u.fromVersion], ['succeeded', '1.0.0']);
    assert.equal(t.installed.length, 1);
    assert.equal(t.installed[0].sha256, rig.artifact.sha256, 'install got the verified file');
    assert.equal(t.installed[0].offer.updateId, u.id);
    assert.deepEqual([stats.state, stats.bytesFetched, stats.requests], ['installed', SIZE, 1]);
    assert.equal(t.agent.currentVersion, '2.0.0');

    const steps = t.reports.filter((r) => r.updateId === u.id).map((r) => r.state ?? `version ${r.version}`);
    assert.equal(steps[0], 'downloading');
    assert.deepEqual(steps.filter((s) => s !== 'downloading'), ['downloaded', 'installing', 'version 2.0.0']);
    assert.ok(steps.filter((s) => s === 'downloading').length <= 12, 'progress is throttled');
    assert.deepEqual(t.reports[0], { version: '1.0.0' }, 'the running version is reported on connect');

    await waitFor('firmware tag', async () => (await rig.s.admin.get(`/devices/${t.id}/tags/device`)).body.values?.firmware === '2.0.0');
    assert.deepEqual(fs.readdirSync(t.downloadDir), [], 'the download is removed after the install');
  });

  it('refuses a corrupted download as checksum_mismatch: nothing is installed and nothing is kept', async () => {
    const t = await updateOne({ simulateCorruptDownload: true });
    const stats = await t.done;
    const u = await t.settled();
    assert.deepEqual([u.state, u.reason], ['failed', 'checksum_mismatch']);
    assert.deepEqual([stats.state, stats.reason], ['failed', 'checksum_mismatch']);
    assert.deepEqual(t.installed, []);
    assert.deepEqual(fs.readdirSync(t.downloadDir), []);
    assert.equal(t.agent.currentVersion, '1.0.0');
  });

  it('refuses an artifact whose signature does not verify with the configured key as signature_invalid', async () => {
    const other = generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' }) as string;
    const t = await updateOne({ signingPublicKey: other });
    const stats = await t.done;
    const u = await t.settled();
    assert.equal(stats.reason, 'signature_invalid');
    assert.deepEqual([u.state, u.reason], ['failed', 'signature_invalid']);
    assert.deepEqual(t.installed, []);
    assert.deepEqual(fs.readdirSync(t.downloadDir), []);
  });

  it('reports install_failed when the install callback throws', async () => {
    const t = await updateOne({
      install: () => {
        throw new Error('flash write failed');
      },
    });
    const stats = await t.done;
    const u = await t.settled();
    assert.deepEqual([u.state, u.reason], ['failed', 'install_failed']);
    assert.equal(stats.error?.message, 'install failed: flash write failed');
  });

  it('reports the old version when the new image did not take, which the server records as rolled_back', async () => {
    const t = await updateOne({ install: () => ({ version: '1.0.0' }) });
    const stats = await t.done;
    const u = await t.settled();
    assert.deepEqual([u.state, u.reason], ['failed', 'rolled_back']);
    assert.equal(stats.state, 'rolled_back');
    assert.equal(t.agent.currentVersion, '1.0.0');
  });

  it('resumes a download cut mid-way and fetches less than 1.2 times the artifact', async () => {
    const proxy = await CuttingProxy.start(Number(new URL(rig.httpUrl).port));
    closers.push(() => proxy.close());
    proxy.cutAfter(SIZE / 2);
    const t = await updateOne({}, { httpUrl: `http://127.0.0.1:${proxy.port}` });
    const stats = await t.done;
    const u = await t.settled();
    assert.equal(u.state, 'succeeded');
    assert.equal(t.installed[0].sha256, rig.artifact.sha256);
    assert.deepEqual([stats.requests, stats.resumes, stats.restarts], [2, 1, 0]);
    assert.ok(stats.bytesFetched >= SIZE && stats.bytesFetched < 1.2 * SIZE, `fetched ${stats.bytesFetched}`);
  });

  it('stops downloading when the offer is cleared (the rollout is cancelled) and removes the partial file', async () => {
    const proxy = await CuttingProxy.start(Number(new URL(rig.httpUrl).port));
    closers.push(() => proxy.close());
    proxy.stallAfter(SIZE / 3);
    const t = await updateOne({ progressStep: 0.01 }, { httpUrl: `http://127.0.0.1:${proxy.port}` });
    await waitFor('some progress', () => t.reports.some((r) => r.state === 'downloading' && (r.bytes ?? 0) > 0));
    const cancelled = await rig.s.admin.post(`/ota/rollouts/${t.rolloutId}/cancel`);
    assert.equal(cancelled.status, 200, JSON.stringify(cancelled.body));
    const stats = await t.done;
    assert.equal(stats.state, 'aborted');
    assert.deepEqual(t.installed, []);
    assert.deepEqual(fs.readdirSync(t.downloadDir), []);
    assert.equal((await t.update()).state, 'cancelled');
  });

  it('installs nothing when the rollout is cancelled after the download, before the install', async () => {
    const t = await updateOne();
    // Cancelled the moment the server has 'downloaded': the clear reaches the device before its 'installing' is acknowledged.
    t.agent.on('report', (r) => {
      if (r.state === 'downloaded') void rig.s.platform.ota.rollouts.cancel(t.rolloutId);
    });
    const stats = await t.done;
    assert.equal(stats.state, 'aborted');
    assert.deepEqual(t.installed, [], 'the withdrawn update was not installed');
    assert.equal((await t.update()).state, 'cancelled');
    assert.equal(t.agent.currentVersion, '1.0.0');
  });

  it('resumes, in a new process, the download an earlier one left partial', async () => {
    const proxy = await CuttingProxy.start(Number(new URL(rig.httpUrl).port));
    closers.push(() => proxy.close());
    proxy.stallAfter(SIZE / 3);
    const { id, token } = await createDevice(rig.s.admin, 'restarting', { model: 'm1' });
    const downloadDir = tempDir();
    const first = await startAgent(id, token, downloadDir, { progressStep: 0.01 }, `http://127.0.0.1:${proxy.port}`);
    const { settled } = await rollOut(id);
    await waitFor('some progress', () => first.reports.some((r) => r.state === 'downloading' && (r.bytes ?? 0) > 0));
    await first.device.close({ drainMs: 0 });
    assert.equal((await first.done).state, 'aborted');
    const part = fs.readdirSync(downloadDir).find((f) => f.endsWith('.part'))!;
    const have = fs.statSync(path.join(downloadDir, part)).size;
    assert.ok(have > 0 && have < SIZE, `${have} bytes kept`);

    const second = await startAgent(id, token, downloadDir);
    const stats = await second.done;
    assert.equal((await settled()).state, 'succeeded');
    assert.deepEqual([stats.state, stats.resumes, stats.bytesFetched], ['installed', 1, SIZE - have]);
    assert.equal(second.installed[0].sha256, rig.artifact.sha256);
  });

  it('completes an update whose install restarts the device: the new process reports the new version on connect', async () => {
    const { id, token } = await createDevice(rig.s.admin, 'rebooting', { model: 'm1' });
    let rebooting!: () => void;
    const first = await startAgent(id, token, tempDir(), { install: () => new Promise<void>((r) => (rebooting = r)) });
    const { update, settled } = await rollOut(id);
    await waitFor('installing', async () => (await update()).state === 'installing');
    await first.device.close({ drainMs: 0 });
    rebooting();
    const second = await startAgent(id, token, tempDir(), { currentVersion: '2.0.0' });
    assert.equal((await settled()).state, 'succeeded');
    assert.deepEqual(second.installed, []);
  });
});
