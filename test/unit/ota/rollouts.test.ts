import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import { waitFor } from '../../support/mqtt';
import { tempDir } from '../../support/platform';
import { assertProblem } from '../api/problems';
import { otaSetup, RawDevice, type OtaBench } from './rollout-support';
import type { PlatformEvent } from '../../../runtime/events';

describe('OTA rollouts', () => {
  let b: OtaBench;
  afterEach(() => b?.close());

  const rollout = (body: Record<string, unknown>) => b.s.admin.post('/ota/rollouts', { artifactId: b.artifact.id, fleetId: b.fleet.id, ...body });
  const get = async (id: string) => (await b.s.admin.get(`/ota/rollouts/${id}`)).body;
  const updates = async (id: string) => (await b.s.admin.get(`/ota/rollouts/${id}/updates`)).body.items;
  const stateOf = async (id: string, deviceId: string) => (await updates(id)).find((u: any) => u.deviceId === deviceId);

  it('offers the canary first, counts an update done only when the device reports the new version, then runs the waves', async () => {
    b = await otaSetup(5);
    const [c, ...rest] = b.devices;
    const r = await rollout({ canary: { count: 1 }, waveSize: 2, wavePauseSeconds: 0.1 });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    assert.deepEqual([r.body.status, r.body.wave, r.body.waves, r.body.strategy.canary, r.body.devices], ['running', 0, 3, 1, 5]);
    const offer = await c.offer();
    assert.deepEqual([offer.artifact.id, offer.artifact.version, offer.artifact.size, offer.artifact.sha256, offer.url], [b.artifact.id, '2.0.0', 1000, b.artifact.sha256, `/api/v1/devices/${c.id}/ota/artifacts/${b.artifact.id}`]);
    await c.report({ updateId: offer.updateId, state: 'downloading', bytes: 500, total: 1000 });
    await c.report({ updateId: offer.updateId, state: 'downloaded' });
    await c.report({ updateId: offer.updateId, state: 'installing' });
    await new Promise((res) => setTimeout(res, 150));
    assert.equal((await stateOf(r.body.id, c.id)).state, 'installing', 'installing is not success');
    assert.ok(rest.every((d) => d.offers.length === 0), 'the waves wait for the canary');
    // The firmware tag is a version report too.
    await c.client.publishAsync(`devices/${c.id}/tags/device`, JSON.stringify({ firmware: '2.0.0' }), { qos: 1 });
    await waitFor('canary success', async () => (await stateOf(r.body.id, c.id)).state === 'succeeded');
    await waitFor('offer cleared', () => c.lastOffer() === null);
    await waitFor('wave 1', () => rest[0].offers.length > 0 && rest[1].offers.length > 0);
    assert.equal(rest[2].offers.length, 0, 'wave 2 waits');
    for (const d of rest.slice(0, 2)) await d.install('2.0.0');
    await waitFor('wave 2', () => rest[2].offers.length > 0 && rest[3].offers.length > 0, 3000);
    for (const d of rest.slice(2)) await d.install('2.0.0');
    const done = await waitFor('completed', async () => ((await get(r.body.id)).status === 'completed' ? get(r.body.id) : false));
    assert.equal(done.progress.succeeded, 5);
    assert.equal(done.progress.total, 5);
    assert.ok(done.endedAt);
  });

  it('fails an update whose device comes back on the old version as rolled_back', async () => {
    b = await otaSetup(2);
    const [d] = b.devices;
    await d.client.publishAsync(`devices/${d.id}/ota/status`, JSON.stringify({ version: '1.0.0' }), { qos: 1 });
    const r = await rollout({ maxFailureRatio: 1 });
    const { updateId } = await d.offer();
    assert.equal((await stateOf(r.body.id, d.id)).fromVersion, '1.0.0');
    for (const state of ['downloading', 'downloaded', 'installing']) await d.report({ updateId, state });
    await d.report({ version: '1.0.0' });
    const u = await waitFor('failed', async () => ((await stateOf(r.body.id, d.id)).state === 'failed' ? stateOf(r.body.id, d.id) : false));
    assert.equal(u.reason, 'rolled_back');
  });

  it('halts past the failure ratio: pending and offered updates are cancelled, an event and an alarm are raised', async () => {
    b = await otaSetup(6);
    const events: PlatformEvent[] = [];
    b.s.platform.events.on('OtaRollout', (e) => events.push(e));
    b.s.platform.events.on('OtaFailed', (e) => events.push(e));
    const r = await rollout({ waveSize: 3, maxFailureRatio: 0.4 });
    const [a, c, e] = b.devices;
    const offers = await Promise.all([a.offer(), c.offer(), e.offer()]);
    await a.report({ updateId: offers[0].updateId, state: 'failed', reason: 'checksum_mismatch' });
    assert.equal((await get(r.body.id)).status, 'running', '1 of 3 is under 0.4');
    await c.report({ updateId: offers[1].updateId, state: 'failed', reason: 'install_failed' });
    const halted = await waitFor('halted', async () => ((await get(r.body.id)).status === 'halted' ? get(r.body.id) : false));
    assert.match(halted.haltReason, /^failure_ratio: 2 of 3/);
    assert.deepEqual([halted.progress.failed, halted.progress.cancelled, halted.progress.pending], [2, 4, 0]);
    assert.equal((await stateOf(r.body.id, e.id)).reason, 'rollout_halted');
    await waitFor('offer cleared', () => e.lastOffer() === null);
    assert.ok(b.devices.slice(3).every((d) => d.offers.length === 0), 'the next wave never started');
    const alarms = (await b.s.admin.get(`/alarms?device=${c.id}`)).body.items;
    assert.deepEqual(alarms.map((x: any) => [x.type, x.details.rolloutId, x.source.kind]), [['ota_rollout_halted', r.body.id, 'ota']]);
    assert.ok(events.some((x) => x.type === 'OtaRollout' && x.action === 'halted'));
    assert.deepEqual(events.filter((x) => x.type === 'OtaFailed').map((x: any) => x.reason), ['checksum_mismatch', 'install_failed']);
  });

  it('halts when a canary device fails, before any wave starts', async () => {
    b = await otaSetup(3);
    const r = await rollout({ canary: { percent: 30 }, maxFailureRatio: 1 });
    const [c, ...rest] = b.devices;
    const { updateId } = await c.offer();
    await c.report({ updateId, state: 'failed', reason: 'signature_invalid' });
    const halted = await waitFor('halted', async () => ((await get(r.body.id)).status === 'halted' ? get(r.body.id) : false));
    assert.equal(halted.haltReason, 'canary_failed');
    assert.ok(rest.every((d) => d.offers.length === 0));
  });

  it('gives an offline device its offer when it connects, from the retained message', async () => {
    b = await otaSetup(1, {}, false);
    const [d] = b.devices;
    const r = await rollout({});
    assert.equal((await stateOf(r.body.id, d.id)).state, 'offered');
    await d.connect();
    const offer = await d.offer();
    assert.equal(offer.rolloutId, r.body.id);
  });

  it('fails an update that stays in a state past its timeout', async () => {
    b = await otaSetup(1);
    const r = await rollout({ timeouts: { offered: 0.2 }, maxFailureRatio: 1 });
    await waitFor('timeout', async () => (await stateOf(r.body.id, b.devices[0].id)).reason === 'timeout:offered');
    await waitFor('completed', async () => (await get(r.body.id)).status === 'completed');
  });

  it('starts a scheduled rollout at its time, and pauses, resumes and cancels over REST', async () => {
    b = await otaSetup(4);
    const r = await rollout({ startAt: new Date(Date.now() + 300).toISOString(), waveSize: 2, maxFailureRatio: 1 });
    assert.equal(r.body.status, 'scheduled');
    assert.ok(b.devices.every((d) => d.offers.length === 0));
    await waitFor('started', async () => (await get(r.body.id)).status === 'running');
    const [d0, d1, d2] = b.devices;
    await Promise.all([d0.offer(), d1.offer()]);
    assert.equal((await b.s.admin.post(`/ota/rollouts/${r.body.id}/pause`)).body.status, 'paused');
    await d0.install('2.0.0');
    await d1.install('2.0.0');
    await waitFor('wave 1 done', async () => (await get(r.body.id)).progress.succeeded === 2);
    await new Promise((res) => setTimeout(res, 100));
    assert.equal(d2.offers.length, 0, 'a paused rollout starts no wave');
    assertProblem(await b.s.admin.post(`/ota/rollouts/${r.body.id}/pause`), 409, 'FF_ROLLOUT_STATE');
    assert.equal((await b.s.admin.post(`/ota/rollouts/${r.body.id}/resume`)).body.status, 'running');
    await d2.offer();
    const cancelled = (await b.s.admin.post(`/ota/rollouts/${r.body.id}/cancel`)).body;
    assert.deepEqual([cancelled.status, cancelled.progress.succeeded, cancelled.progress.cancelled], ['cancelled', 2, 2]);
    assertProblem(await b.s.admin.post(`/ota/rollouts/${r.body.id}/resume`), 409, 'FF_ROLLOUT_STATE');
    await waitFor('offer cleared', () => d2.lastOffer() === null);
  });

  it('lets a device download only the artifact it was offered, with its own token', async () => {
    b = await otaSetup(2);
    const [d, other] = b.devices;
    const fleet = (await b.s.admin.post('/ota/fleets', { name: 'one', devices: [d.id] })).body;
    await b.s.admin.post('/ota/rollouts', { artifactId: b.artifact.id, fleetId: fleet.id });
    const offer = await d.offer();
    const fetchAs = (id: string, token: string, headers: Record<string, string> = {}) =>
      fetch(`${b.s.url.replace(/\/api\/v1$/, '')}/api/v1/devices/${id}/ota/artifacts/${b.artifact.id}`, { headers: { authorization: `Bearer ${token}`, ...headers } });
    const whole = await fetchAs(d.id, d.token);
    assert.equal(whole.status, 200);
    assert.equal((await whole.arrayBuffer()).byteLength, 1000);
    const part = await fetchAs(d.id, d.token, { range: 'bytes=600-', 'if-range': `"${offer.artifact.sha256}"` });
    assert.deepEqual([part.status, part.headers.get('content-range'), (await part.arrayBuffer()).byteLength], [206, 'bytes 600-999/1000', 400]);
    assert.equal((await fetchAs(other.id, other.token)).status, 403, 'not offered');
    assert.equal((await fetchAs(d.id, other.token)).status, 401, "another device's token");
    assert.equal((await fetchAs(d.id, d.token, { range: 'bytes=5000-' })).status, 416);
  });

  it('leaves out the devices of a model the artifact does not target, lists them on the rollout, and never offers them the update', async () => {
    b = await otaSetup(2);
    const other = (await b.s.admin.post('/devices', { name: 'x', model: 'm2', labels: { fleet: 'a' } })).body;
    const none = (await b.s.admin.post('/devices', { name: 'y', labels: { fleet: 'a' } })).body;
    const r = await rollout({ canary: { count: 1 } });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    const skipped = [
      { id: other.id, model: 'm2' },
      { id: none.id, model: null },
    ].sort((x, y) => (x.id < y.id ? -1 : 1));
    assert.deepEqual([r.body.devices, r.body.skipped, r.body.waves], [2, { count: 2, devices: skipped }, 2]);
    assert.deepEqual((await get(r.body.id)).skipped, { count: 2, devices: skipped });
    const offered = (await updates(r.body.id)).map((u: any) => u.deviceId).sort();
    assert.deepEqual(offered, b.devices.map((d) => d.id).sort(), 'an update for each device of the targeted model, none for the others');
    for (const d of b.devices) await d.install('2.0.0');
    const done = await waitFor('completed', async () => ((await get(r.body.id)).status === 'completed' ? get(r.body.id) : false));
    assert.deepEqual([done.progress.succeeded, done.progress.total], [2, 2]);
    // Another rollout may take the skipped devices at once: they are in no unfinished update.
    const gw = (await b.s.admin.post('/ota/artifacts?name=gw&version=1.0.0&models=m2', randomBytes(10), { 'content-type': 'application/octet-stream' })).body;
    const second = await b.s.admin.post('/ota/rollouts', { artifactId: gw.id, fleetId: b.fleet.id });
    assert.equal(second.status, 201, JSON.stringify(second.body));
    assert.deepEqual([second.body.devices, second.body.skipped.count], [1, 3]);
  });

  it('refuses an empty fleet, a fleet with no device of a model the artifact targets, a bad strategy, and deleting the artifact in use', async () => {
    b = await otaSetup(2);
    const empty = (await b.s.admin.post('/ota/fleets', { name: 'nobody', selector: 'fleet=none' })).body;
    assertProblem(await b.s.admin.post('/ota/rollouts', { artifactId: b.artifact.id, fleetId: empty.id }), 422, 'FF_FLEET_EMPTY');
    const other = await b.s.admin.post('/devices', { name: 'x', model: 'm2', labels: { fleet: 'b' } });
    const others = (await b.s.admin.post('/ota/fleets', { name: 'others', selector: 'fleet=b' })).body;
    const mismatch = await b.s.admin.post('/ota/rollouts', { artifactId: b.artifact.id, fleetId: others.id });
    assertProblem(mismatch, 422, 'FF_MODEL_MISMATCH');
    assert.deepEqual(mismatch.body.errors.map((e: any) => e.path), [`/devices/${other.body.id}`]);
    const bad = await rollout({ canary: { count: 0 }, maxFailureRatio: 2, waveSize: 'x', timeouts: { done: 1 }, extra: true });
    assertProblem(bad, 400, 'FF_INVALID_ROLLOUT');
    assert.deepEqual(bad.body.errors.map((e: any) => e.path).sort(), ['/canary', '/extra', '/maxFailureRatio', '/timeouts/done', '/waveSize']);
    assertProblem(await rollout({ artifactId: 'nope' }), 404, 'FF_ARTIFACT_NOT_FOUND');
    assert.equal((await b.s.admin.get('/ota/rollouts')).body.items.length, 0, 'nothing half-written');
    const r = await rollout({});
    assert.equal(r.status, 201);
    assertProblem(await rollout({}), 409, 'FF_CONFLICT');
    assertProblem(await b.s.admin.delete(`/ota/artifacts/${b.artifact.id}`), 409, 'FF_ARTIFACT_IN_USE');
    await b.s.admin.post(`/ota/rollouts/${r.body.id}/cancel`);
    assert.equal((await b.s.admin.delete(`/ota/artifacts/${b.artifact.id}`)).status, 204);
  });

  it("refuses a report on another device's update and a transition that is not allowed, and says why on ota/rejected", async () => {
    b = await otaSetup(2);
    const [d, other] = b.devices;
    const r = await rollout({ maxFailureRatio: 1 });
    const { updateId } = await d.offer();
    await other.offer();
    await other.report({ updateId, state: 'failed', reason: 'spoofed' });
    const notYours = await waitFor('rejection', () => other.rejected[0]);
    assert.deepEqual([notYours.code, notYours.updateId], ['FF_OTA_NOT_YOUR_UPDATE', updateId]);
    assert.equal((await stateOf(r.body.id, d.id)).state, 'offered');
    await d.report({ updateId, state: 'installing' });
    assert.equal((await waitFor('rejection', () => d.rejected[0])).code, 'FF_OTA_INVALID_TRANSITION');
    await d.report({ updateId, state: 'done' });
    await d.client.publishAsync(`devices/${d.id}/ota/status`, '{"updateId":', { qos: 1 });
    await d.report({ updateId: 'nope', state: 'downloading' });
    await waitFor('three more', () => d.rejected.length === 4);
    assert.deepEqual(d.rejected.map((x) => x.code), ['FF_OTA_INVALID_TRANSITION', 'FF_INVALID_OTA_REPORT', 'FF_MALFORMED_JSON', 'FF_OTA_UPDATE_NOT_FOUND']);
    assert.equal((await stateOf(r.body.id, d.id)).state, 'offered', 'nothing applied');
    const device = (await b.s.admin.get(`/devices/${d.id}`)).body;
    assert.equal(device.ingestErrors.FF_OTA_INVALID_TRANSITION, 1);
    assert.ok(d.client.connected, 'a refused report does not cost the connection');
  });

  it('keeps rollouts and updates across a restart and offers the open ones again', async () => {
    const dataDir = tempDir();
    b = await otaSetup(2, { dataDir });
    const r = await rollout({ maxFailureRatio: 1 });
    const [d0, d1] = b.devices;
    await d0.install('2.0.0');
    await waitFor('d0 done', async () => (await stateOf(r.body.id, d0.id)).state === 'succeeded');
    await d1.offer();
    await b.close();
    b = await otaSetup(0, { dataDir });
    const again = new RawDevice(d1.id, d1.token, b.mqttUrl);
    b.devices.push(await again.connect());
    const offer = await again.offer();
    assert.equal(offer.rolloutId, r.body.id);
    const after = await get(r.body.id);
    assert.deepEqual([after.status, after.progress.succeeded, after.progress.offered], ['running', 1, 1]);
    await again.install('2.0.0');
    await waitFor('completed', async () => (await get(r.body.id)).status === 'completed');
  });

  it('takes the version on a report as what the device runs before the step it reports, and records it as the firmware tag', async () => {
    b = await otaSetup(1);
    const [d] = b.devices;
    const r = await rollout({ maxFailureRatio: 1 });
    const { updateId } = await d.offer();
    await d.report({ updateId, state: 'downloaded', version: '1.0.0' });
    await d.report({ updateId, state: 'installing', version: '1.0.0' });
    assert.equal((await stateOf(r.body.id, d.id)).state, 'installing', 'not a rollback');
    assert.equal((await b.s.admin.get(`/devices/${d.id}/tags/device`)).body.values.firmware, '1.0.0');
    await d.report({ updateId, version: '2.0.0' });
    assert.equal((await stateOf(r.body.id, d.id)).state, 'succeeded');
    assert.equal((await b.s.admin.get(`/devices/${d.id}/tags/device`)).body.values.firmware, '2.0.0');
  });

  it('accepts a resent report of the state the update is in (QoS 1 is at least once)', async () => {
    b = await otaSetup(1);
    const [d] = b.devices;
    const r = await rollout({ maxFailureRatio: 1 });
    const { updateId } = await d.offer();
    await d.report({ updateId, state: 'downloading', bytes: 10, total: 100 });
    await d.report({ updateId, state: 'downloading', bytes: 50, total: 100 });
    await d.report({ updateId, state: 'downloaded' });
    await d.report({ updateId, state: 'downloaded' });
    const u = await stateOf(r.body.id, d.id);
    assert.deepEqual([u.state, u.bytes], ['downloaded', 50]);
    assert.deepEqual(d.rejected, []);
  });

  it('halts as canary_inconclusive when the canary devices go away before any installed the image', async () => {
    b = await otaSetup(3);
    const r = await rollout({ canary: { count: 1 }, maxFailureRatio: 1 });
    const [c, ...rest] = b.devices;
    await c.offer();
    await b.s.admin.delete(`/devices/${c.id}`);
    const halted = await waitFor('halted', async () => ((await get(r.body.id)).status === 'halted' ? get(r.body.id) : false));
    assert.equal(halted.haltReason, 'canary_inconclusive');
    assert.ok(rest.every((d) => d.offers.length === 0));
  });

  it('puts devices already on the version after the others, so the canary installs it for real', async () => {
    b = await otaSetup(3);
    const [a] = b.devices;
    await a.client.publishAsync(`devices/${a.id}/tags/device`, JSON.stringify({ firmware: '2.0.0' }), { qos: 1 });
    const r = await rollout({ canary: { count: 1 }, maxFailureRatio: 1 });
    const list = await updates(r.body.id);
    assert.equal(list.find((u: any) => u.deviceId === a.id).wave, 1, 'not in the canary');
    assert.equal(list.filter((u: any) => u.wave === 0).length, 1);
  });

  it('does not time out updates for the time the server was down', async () => {
    const dataDir = tempDir();
    b = await otaSetup(2, { dataDir });
    const r = await rollout({ timeouts: { downloading: 1 }, maxFailureRatio: 0.5 });
    for (const d of b.devices) {
      const { updateId } = await d.offer();
      await d.report({ updateId, state: 'downloading', bytes: 1, total: 1000 });
    }
    await b.close();
    await new Promise((res) => setTimeout(res, 1300));
    b = await otaSetup(0, { dataDir });
    await new Promise((res) => setTimeout(res, 300));
    const after = await get(r.body.id);
    assert.deepEqual([after.status, after.progress.downloading], ['running', 2]);
    await waitFor('a full timeout after the start', async () => (await get(r.body.id)).progress.failed === 2, 3000);
  });

  it('closes the artifact file when a device drops a download midway', async () => {
    b = await otaSetup(0, { ota: { maxArtifactBytes: 16 << 20, sweepMs: 25 } });
    const big = (await b.s.admin.post('/ota/artifacts?name=big&version=3.0.0&models=m1', Buffer.alloc(8 << 20, 7), { 'content-type': 'application/octet-stream' })).body;
    const open = () => fs.readdirSync('/proc/self/fd').filter((f) => {
      try {
        return fs.readlinkSync(`/proc/self/fd/${f}`).endsWith(`${big.id}.bin`);
      } catch {
        return false;
      }
    }).length;
    for (let i = 0; i < 10; i++) {
      const ac = new AbortController();
      const res = await fetch(`${b.s.url}/ota/artifacts/${big.id}/download`, { headers: { authorization: `Bearer ${b.s.admin.token}` }, signal: ac.signal });
      await res.body!.getReader().read();
      ac.abort();
    }
    await waitFor('files closed', () => open() === 0, 3000);
  });

  it('puts the public URL in offers when one is configured, and pages updates by state', async () => {
    b = await otaSetup(5, { ota: { maxArtifactBytes: 1024 * 1024, sweepMs: 25, publicUrl: 'https://iot.example.com/' } });
    const r = await rollout({ waveSize: 2, maxFailureRatio: 1 });
    const [d] = b.devices;
    assert.equal((await d.offer()).url, `https://iot.example.com/api/v1/devices/${d.id}/ota/artifacts/${b.artifact.id}`);
    const page1 = (await b.s.admin.get(`/ota/rollouts/${r.body.id}/updates?state=pending&limit=2`)).body;
    assert.equal(page1.items.length, 2);
    assert.ok(page1.items.every((u: any) => u.state === 'pending'));
    const page2 = (await b.s.admin.get(`/ota/rollouts/${r.body.id}/updates?state=pending&limit=2&after=${page1.next}`)).body;
    assert.deepEqual([page2.items.length, page2.next], [1, null]);
    assert.equal(new Set([...page1.items, ...page2.items].map((u: any) => u.id)).size, 3);
    assertProblem(await b.s.admin.get(`/ota/rollouts/${r.body.id}/updates?state=done`), 400, 'FF_INVALID_QUERY');
    assertProblem(await b.s.admin.get('/ota/rollouts?status=busy'), 400, 'FF_INVALID_QUERY');
  });
});
