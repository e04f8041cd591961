import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import { Readable } from 'node:stream';
import { helper } from '../support/node-helper';
import type { Platform } from '../../runtime';
import { waitFor } from '../support/mqtt';
import otaRollout from '../../nodes/ota-rollout/ota-rollout';
import otaIn from '../../nodes/ota-in/ota-in';
import otaPlugin from '../../nodes/plugins/ota/ota';
import { calls, inject, received, type Msg, usePalette } from './flow';

helper.init(require.resolve('node-red'));

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
type Status = { fill?: string; shape?: string; text?: string };
const statuses = (id: string) => calls(id, 'status').map((c) => c[0] as Status);
const lastStatus = (id: string) => statuses(id).at(-1);

interface Answer {
  status: number;
  body: Msg;
}
interface Call extends Promise<Answer> {
  send(body: unknown): Call;
  set(header: string, value: string): Call;
  field(name: string, value: string): Call;
  attach(field: string, file: Buffer, name: string): Call;
  expect(status: number): Promise<Answer>;
}
/** supertest on the helper's httpAdmin (its typings in test/support/node-helper.ts leave it out). */
const admin = () => (helper as unknown as { request(): { get(url: string): Call; post(url: string): Call; delete(url: string): Call } }).request();
const BASE = '/fieldflow/ota';

describe('OTA in Node-RED', () => {
  let platform: Platform;
  /** Devices of model m1 labelled fleet=a (three) and fleet=b (one), in the order rollouts offer them. */
  let a: string[];
  let b: string;
  let fleetA: string;
  let fleetB: string;
  /** Artifacts named fw for m1. */
  let v2: string;
  let v21rc: string;
  let v1: string;

  const fixture = usePalette();
  beforeEach(async () => {
    ({ platform } = fixture);
    a = [];
    for (const name of ['a1', 'a2', 'a3']) a.push((await platform.devices.create({ name, model: 'm1', labels: { fleet: 'a' } })).device.id);
    b = (await platform.devices.create({ name: 'b1', model: 'm1', labels: { fleet: 'b', site: 'south' } })).device.id;
    fleetA = (await platform.ota.fleets.create({ name: 'fleet a', selector: 'fleet=a' })).id;
    fleetB = (await platform.ota.fleets.create({ name: 'fleet b', selector: 'fleet=b' })).id;
    v1 = (await upload('fw', '1.0.0')).id;
    v2 = (await upload('fw', '2.0.0')).id;
    v21rc = (await upload('fw', '2.1.0-rc.1')).id;
  });

  const upload = (name: string, version: string, models = ['m1']) => platform.ota.artifacts.upload({ name, version, models }, Readable.from([randomBytes(64)]));
  const rolloutOf = (id: string) => platform.ota.rollouts.get(id);
  const updateOf = (rolloutId: string, deviceId: string) => platform.ota.rollouts.updatesOf(rolloutId).items.find((u) => u.deviceId === deviceId)!;
  /** What a device publishes on devices/{id}/ota/status, through the same facade the broker calls. */
  const report = (deviceId: string, body: Record<string, unknown>) => platform.ota.report(deviceId, Buffer.from(JSON.stringify(body)));
  /** Send a msg into the ota rollout node and wait for what it sends on (delivery to the next node is asynchronous). */
  const send = async (msgs: Msg[], msg: Msg): Promise<Msg> => {
    const n = msgs.length;
    await inject('r', msg);
    return waitFor('the output', () => msgs.length > n && msgs[n]);
  };
  const canaryOf = (rolloutId: string) => platform.ota.rollouts.updatesOf(rolloutId).items.filter((u) => u.wave === 0).map((u) => u.deviceId);

  const rolloutNode = (extra: Record<string, unknown> = {}) => ({
    id: 'r',
    type: 'ota rollout',
    z: 't',
    action: 'start',
    artifactMode: 'id',
    artifact: v2,
    artifactName: '',
    artifactVersion: '',
    prerelease: false,
    fleet: fleetA,
    rolloutName: '',
    canaryMode: 'none',
    canary: 1,
    waveSize: '',
    wavePauseSeconds: 0,
    maxFailureRatio: '',
    skipExisting: false,
    wires: [['out']],
    ...extra,
  });
  /** The node, a helper on its output, and a Catch node scoped to it. */
  const rolloutFlow = (extra: Record<string, unknown> = {}) => [
    { id: 't', type: 'tab' },
    rolloutNode(extra),
    { id: 'out', type: 'helper', z: 't' },
    { id: 'catcher', type: 'catch', z: 't', scope: ['r'], uncaught: false, wires: [['caught']] },
    { id: 'caught', type: 'helper', z: 't' },
  ];

  describe('ota rollout', () => {
    it("starts a rollout of its artifact to its fleet with the node's strategy, sends the rollout view and shows its progress", async () => {
      await helper.load(otaRollout, rolloutFlow({ canaryMode: 'count', canary: 1, waveSize: 1, wavePauseSeconds: '60', maxFailureRatio: '0.5', rolloutName: 'tuesday canary' }));
      const msgs = received('out');
      await send(msgs, { payload: 1795362437628, keep: 'me' });
      const [m] = msgs;
      assert.equal(m.keep, 'me');
      assert.equal(m.rollout, m.payload.id);
      const stored = rolloutOf(m.payload.id);
      assert.deepEqual(
        [stored.name, stored.artifactId, stored.version, stored.fleetId, stored.createdBy, stored.status, stored.devices.length],
        ['tuesday canary', v2, '2.0.0', fleetA, 'flow:r', 'running', 3],
      );
      assert.deepEqual([stored.strategy.canary, stored.strategy.waveSize, stored.strategy.wavePauseMs, stored.strategy.maxFailureRatio], [1, 1, 60_000, 0.5]);
      assert.deepEqual([m.payload.status, m.payload.wave, m.payload.waves, m.payload.strategy.wavePauseSeconds, m.payload.progress.offered, m.payload.progress.pending], ['running', 0, 3, 60, 1, 2]);
      assert.deepEqual(lastStatus('r'), { fill: 'blue', shape: 'dot', text: 'running 0/3, canary' });

      const [canary] = canaryOf(m.payload.id);
      await report(canary, { updateId: updateOf(m.payload.id, canary).id, version: '2.0.0' });
      assert.equal(updateOf(m.payload.id, canary).state, 'succeeded');
      await waitFor('the progress on the status', () => lastStatus('r')?.text === 'running 1/3, canary');
      assert.equal(rolloutOf(m.payload.id).nextWaveAt !== null, true, 'the next wave waits for the pause');
    });

    it('counts the waves on its status as the rollout counts them, the canary being the first', async () => {
      await helper.load(otaRollout, rolloutFlow({ canaryMode: 'count', canary: 1, waveSize: 1 }));
      const msgs = received('out');
      await send(msgs, {});
      const id = msgs[0].payload.id;
      assert.deepEqual([msgs[0].payload.wave, msgs[0].payload.waves], [0, 3]);
      const [canary] = canaryOf(id);
      await report(canary, { updateId: updateOf(id, canary).id, version: '2.0.0' });
      await waitFor('the second wave on the status', () => lastStatus('r')?.text === 'running 1/3, wave 2/3');
      assert.equal(rolloutOf(id).wave, 1);
    });

    it('takes the highest version of a name, pre-releases only when asked, and lets an object msg.payload override the strategy', async () => {
      await helper.load(otaRollout, rolloutFlow({ artifactMode: 'latest', artifact: '', artifactName: 'fw', canaryMode: 'count', canary: 1 }));
      const msgs = received('out');
      await send(msgs, { payload: { canary: { percent: 50 }, waveSize: 1, name: 'override', timeouts: { offered: 120 } } });
      const r = rolloutOf(msgs[0].payload.id);
      assert.deepEqual([r.artifactId, r.version, r.name, r.strategy.canary, r.strategy.waveSize, r.strategy.timeouts.offered], [v2, '2.0.0', 'override', 2, 1, 120_000]);
      await platform.ota.rollouts.cancel(r.id);
      await helper.unload();

      await helper.load(otaRollout, rolloutFlow({ artifactMode: 'latest', artifact: '', artifactName: 'fw', prerelease: true }));
      const again = received('out');
      await send(again, { payload: 'not an object' });
      assert.deepEqual([rolloutOf(again[0].payload.id).version, rolloutOf(again[0].payload.id).artifactId], ['2.1.0-rc.1', v21rc]);
    });

    it('takes an artifact by name and version', async () => {
      await helper.load(otaRollout, rolloutFlow({ artifactMode: 'version', artifact: '', artifactName: 'fw', artifactVersion: 'v1.0.0' }));
      const msgs = received('out');
      await send(msgs, {});
      assert.equal(rolloutOf(msgs[0].payload.id).artifactId, v1);
    });

    it('reports a name or version with no artifact as FF_ARTIFACT_NOT_FOUND', async () => {
      await helper.load(otaRollout, rolloutFlow({ artifactMode: 'version', artifact: '', artifactName: 'fw', artifactVersion: '9.9.9' }));
      const caught = received('caught');
      await inject('r', {});
      await waitFor('the catch node', () => caught.length === 1);
      assert.deepEqual([caught[0].error.code, caught[0].error.message], ['FF_ARTIFACT_NOT_FOUND', 'FieldflowError: No artifact "fw" has version "9.9.9"']);
      await helper.unload();
      await upload('edge', '1.0.0-beta.1');
      await helper.load(otaRollout, rolloutFlow({ artifactMode: 'latest', artifact: '', artifactName: 'edge' }));
      const again = received('caught');
      await inject('r', {});
      await waitFor('the catch node', () => again.length === 1);
      assert.deepEqual([again[0].error.code, again[0].error.message], ['FF_ARTIFACT_NOT_FOUND', 'FieldflowError: No artifact is named "edge" (pre-releases left out)']);
      assert.deepEqual(platform.ota.rollouts.list(), []);
    });

    it('shows a halt on its status with the failures and the reason', async () => {
      await helper.load(otaRollout, rolloutFlow({ canaryMode: 'count', canary: 1 }));
      const msgs = received('out');
      const { id } = (await send(msgs, {})).payload;
      const [canary] = canaryOf(id);
      await report(canary, { updateId: updateOf(id, canary).id, state: 'failed', reason: 'install_failed' });
      await waitFor('the halt on the status', () => lastStatus('r')?.fill === 'red');
      assert.deepEqual(lastStatus('r'), { fill: 'red', shape: 'dot', text: 'halted 0/3, 1 failed: canary_failed' });
      assert.equal(rolloutOf(id).status, 'halted');
    });

    it('pauses, resumes and cancels the rollout it started last, by msg.action or a text msg.payload, and its status follows', async () => {
      await helper.load(otaRollout, rolloutFlow({ action: 'msg' }));
      const msgs = received('out');
      await send(msgs, { payload: 'start' });
      const id = msgs[0].payload.id;
      assert.equal(rolloutOf(id).status, 'running');
      await send(msgs, { action: 'pause' });
      assert.deepEqual([rolloutOf(id).status, msgs[1].payload.status, msgs[1].rollout], ['paused', 'paused', id]);
      assert.deepEqual(lastStatus('r'), { fill: 'yellow', shape: 'ring', text: 'paused 0/3' });
      await inject('r', { payload: 'resume' });
      assert.equal(rolloutOf(id).status, 'running');
      assert.equal(lastStatus('r')?.fill, 'blue');
      await inject('r', { action: 'cancel' });
      assert.equal(rolloutOf(id).status, 'cancelled');
      assert.deepEqual(platform.ota.rollouts.updatesOf(id).items.map((u) => [u.state, u.reason]), a.map(() => ['cancelled', 'rollout_cancelled']));
      assert.deepEqual(lastStatus('r'), { fill: 'grey', shape: 'dot', text: 'cancelled 0/3' });
    });

    it('acts on msg.rollout (an id or a rollout view) instead of its own', async () => {
      const other = await platform.ota.rollouts.create({ artifactId: v2, fleetId: fleetB }, 'user:admin');
      await helper.load(otaRollout, rolloutFlow({ action: 'pause' }));
      const msgs = received('out');
      await send(msgs, { rollout: other.id });
      assert.equal(rolloutOf(other.id).status, 'paused');
      await helper.unload();
      await helper.load(otaRollout, rolloutFlow({ action: 'resume' }));
      await inject('r', { rollout: msgs[0].payload });
      assert.equal(rolloutOf(other.id).status, 'running');
    });

    it('finds the rollout it started again after the flow is redeployed, and shows it at once', async () => {
      await helper.load(otaRollout, rolloutFlow());
      const msgs = received('out');
      await send(msgs, {});
      const id = msgs[0].payload.id;
      await helper.unload();
      await helper.load(otaRollout, rolloutFlow({ action: 'pause' }));
      assert.deepEqual(lastStatus('r'), { fill: 'blue', shape: 'dot', text: 'running 0/3' });
      await inject('r', {});
      assert.equal(rolloutOf(id).status, 'paused');
    });

    it('skips an artifact already rolled out to the fleet (unless that rollout was cancelled), sending nothing', async () => {
      await helper.load(otaRollout, rolloutFlow({ artifactMode: 'latest', artifact: '', artifactName: 'fw', skipExisting: true }));
      const msgs = received('out');
      await send(msgs, {});
      const first = msgs[0].payload.id;
      helper.getNode('r').receive({});
      await waitFor('the skip', () => lastStatus('r')?.text?.startsWith('skipped'));
      assert.deepEqual(lastStatus('r'), { fill: 'grey', shape: 'ring', text: 'skipped: 2.0.0 already rolled out (running)' });
      await sleep(50);
      assert.equal(msgs.length, 1);
      assert.equal(platform.ota.rollouts.list().length, 1);

      await platform.ota.rollouts.cancel(first);
      await send(msgs, {});
      assert.equal(msgs.length, 2);
      assert.notEqual(msgs[1].payload.id, first);
      assert.equal(platform.ota.rollouts.list().length, 2);
    });

    it('passes refusals to Catch nodes with their catalog code and starts nothing', async () => {
      const other = (await upload('gw', '1.0.0', ['m2'])).id;
      await helper.load(otaRollout, rolloutFlow({ artifact: other, action: 'msg' }));
      const caught = received('caught');
      const refusal = async (msg: Msg) => {
        const n = caught.length;
        await inject('r', msg);
        await waitFor('the catch node', () => caught.length > n);
        return caught.at(-1)!.error;
      };
      const mismatch = await refusal({ action: 'start' });
      assert.deepEqual([mismatch.code, mismatch.source.id], ['FF_MODEL_MISMATCH', 'r']);
      assert.match(mismatch.message, /3 device\(s\) of the fleet are not a model gw 1\.0\.0 targets/);
      assert.deepEqual(lastStatus('r'), { fill: 'red', shape: 'ring', text: 'FF_MODEL_MISMATCH' });
      assert.equal((await refusal({ action: 'start', payload: { artifactId: v2, colour: 'red' } })).code, 'FF_INVALID_ROLLOUT');
      assert.equal((await refusal({ action: 'start', payload: { artifactId: v2, maxFailureRatio: 3 } })).code, 'FF_INVALID_ROLLOUT');
      assert.equal((await refusal({ action: 'start', payload: { artifactId: 'nope' } })).code, 'FF_ARTIFACT_NOT_FOUND');
      assert.equal((await refusal({ action: 'pause' })).code, 'FF_ROLLOUT_NOT_FOUND');
      assert.equal((await refusal({ action: 'reboot' })).message, 'Error: msg.action must be one of start, pause, resume, cancel; got "reboot"');
      assert.deepEqual(platform.ota.rollouts.list(), []);

      const started = await platform.ota.rollouts.create({ artifactId: v2, fleetId: fleetA }, 'user:admin');
      assert.equal((await refusal({ action: 'start', payload: { artifactId: v2, fleetId: fleetA } })).code, 'FF_CONFLICT');
      await platform.ota.rollouts.cancel(started.id);
      const state = await refusal({ action: 'resume', rollout: started.id });
      assert.deepEqual([state.code, state.message], ['FF_ROLLOUT_STATE', 'FieldflowError: Only a paused rollout can be resumed; this one is cancelled']);
      assert.equal(platform.ota.rollouts.list().length, 1);
    });
  });

  describe('ota in', () => {
    const otaInNode = (extra: Record<string, unknown> = {}) => ({ id: 'in', type: 'ota in', events: ['rollout', 'failed'], rollout: '', deviceMode: 'all', device: '', selector: '', wires: [['out']], ...extra });

    it('emits rollout changes as ota/rollout/<action> when a rollout is created, started and paused through the facade', async () => {
      await helper.load(otaIn, [otaInNode(), { id: 'out', type: 'helper' }]);
      const msgs = received('out');
      const r = await platform.ota.rollouts.create({ artifactId: v2, fleetId: fleetA, canary: { count: 1 } }, 'user:admin');
      await platform.ota.rollouts.pause(r.id);
      await waitFor('four messages', () => msgs.length === 4);
      assert.deepEqual(msgs.map((m) => m.topic), ['ota/rollout/created', 'ota/rollout/started', 'ota/rollout/wave', 'ota/rollout/paused']);
      const paused = msgs[3];
      assert.deepEqual([paused.event, paused.action, paused.rollout, paused.payload.id, paused.payload.status, paused.payload.progress.offered], ['OtaRollout', 'paused', { id: r.id, name: r.name }, r.id, 'paused', 1]);
      assert.equal(typeof paused.ts, 'number');
      paused.payload.progress.offered = 99;
      assert.equal(platform.ota.rollouts.view(r).progress.offered, 1, 'the flow has its own copy');
    });

    it('emits a failed update once, as OtaFailed with its device and reason, then the halt it caused, beside every update step', async () => {
      await helper.load(otaIn, [otaInNode({ events: ['rollout', 'update', 'failed'] }), { id: 'out', type: 'helper' }]);
      const msgs = received('out');
      const r = await platform.ota.rollouts.create({ artifactId: v2, fleetId: fleetA, canary: { count: 1 } }, 'user:admin');
      const [canary] = canaryOf(r.id);
      const updateId = updateOf(r.id, canary).id;
      await report(canary, { updateId, state: 'downloading', bytes: 10, total: 64 });
      await report(canary, { updateId, state: 'failed', reason: 'checksum_mismatch' });
      await waitFor('the halt', () => msgs.some((m) => m.topic === 'ota/rollout/halted'));
      const canaryMsgs = msgs.filter((m) => m.device?.id === canary);
      assert.deepEqual(canaryMsgs.map((m) => [m.topic, m.event]), [
        ['ota/update/offered', 'OtaUpdate'],
        ['ota/update/downloading', 'OtaUpdate'],
        ['ota/update/failed', 'OtaFailed'],
      ]);
      const failed = canaryMsgs[2];
      assert.deepEqual([failed.reason, failed.payload.state, failed.payload.reason, failed.payload.deviceId, failed.rollout], ['checksum_mismatch', 'failed', 'checksum_mismatch', canary, { id: r.id, name: r.name, version: '2.0.0' }]);
      assert.deepEqual(failed.device, { id: canary, name: platform.devices.get(canary)!.name, labels: { fleet: 'a' } });
      assert.deepEqual([canaryMsgs[1].payload.bytes, canaryMsgs[1].payload.total], [10, 64]);
      const halted = msgs.find((m) => m.topic === 'ota/rollout/halted')!;
      assert.deepEqual([halted.payload.status, halted.payload.haltReason, halted.payload.progress.failed, rolloutOf(r.id).status], ['halted', 'canary_failed', 1, 'halted']);
    });

    it('keeps only one rollout, and only the update events of the devices in its scope', async () => {
      const ra = await platform.ota.rollouts.create({ artifactId: v2, fleetId: fleetA, startAt: new Date(Date.now() + 3_600_000).toISOString() }, 'user:admin');
      await helper.load(otaIn, [otaInNode({ events: ['rollout', 'update'], rollout: ra.id }), otaInNode({ id: 'south', events: ['update'], deviceMode: 'selector', selector: 'site=south', wires: [['southOut']] }), { id: 'out', type: 'helper' }, { id: 'southOut', type: 'helper' }]);
      const msgs = received('out');
      const south = received('southOut');
      await platform.ota.rollouts.create({ artifactId: v2, fleetId: fleetB }, 'user:admin');
      await platform.ota.rollouts.resume((await platform.ota.rollouts.pause(ra.id)).id);
      await waitFor('the south offer', () => south.length === 1);
      await sleep(50);
      assert.deepEqual(south.map((m) => [m.topic, m.device.id]), [['ota/update/offered', b]]);
      assert.deepEqual(msgs.map((m) => m.topic), ['ota/rollout/paused', 'ota/rollout/resumed'], 'the other rollout and its updates are left out');
    });

    it('stops listening when the flow stops', async () => {
      await helper.load(otaIn, [otaInNode({ events: ['update', 'failed'] }), { id: 'out', type: 'helper' }]);
      assert.deepEqual([platform.events.has('OtaUpdate'), platform.events.has('OtaFailed'), platform.events.has('OtaRollout')], [true, true, false]);
      await helper.unload();
      assert.deepEqual([platform.events.has('OtaUpdate'), platform.events.has('OtaFailed')], [false, false]);
    });

    it('reports event kinds it does not know as a node error and listens to nothing', async () => {
      await helper.load(otaIn, [otaInNode({ events: ['rollout', 'reboots'] }), { id: 'out', type: 'helper' }]);
      assert.match(String(calls('in', 'error')[0][0]), /^Events must be among rollout, update, failed; got \["rollout","reboots"\]/);
      assert.equal(platform.events.has('OtaRollout'), false);
    });
  });

  describe('the OTA sidebar routes', () => {
    const sha = (buf: Buffer) => createHash('sha256').update(buf).digest('hex');

    it('streams a multipart upload into the artifact store, lists it and deletes it', async () => {
      await helper.load(otaPlugin as never, []);
      const file = randomBytes(200_000);
      const created = await admin().post(`${BASE}/artifacts`).field('name', 'pump-fw').field('version', 'v3.0.0').field('models', 'm1, m2').field('notes', 'valve fix').attach('file', file, 'pump.bin').expect(201);
      assert.deepEqual(
        [created.body.name, created.body.version, created.body.models, created.body.notes, created.body.size, created.body.sha256, created.body.signature],
        ['pump-fw', '3.0.0', ['m1', 'm2'], 'valve fix', file.length, sha(file), null],
      );
      assert.ok(fs.readFileSync(platform.ota.artifacts.file(created.body.id)).equals(file), 'the stored file is the upload');
      const listed = await admin().get(`${BASE}/artifacts`).expect(200);
      assert.deepEqual(listed.body.items.map((x: Msg) => `${x.name} ${x.version}`).sort(), ['fw 1.0.0', 'fw 2.0.0', 'fw 2.1.0-rc.1', 'pump-fw 3.0.0']);
      await admin().delete(`${BASE}/artifacts/${created.body.id}`).expect(204);
      assert.equal((await admin().delete(`${BASE}/artifacts/${created.body.id}`).expect(404)).body.code, 'FF_ARTIFACT_NOT_FOUND');
      assert.equal(fs.existsSync(platform.ota.artifacts.file(created.body.id)), false);
    });

    it('answers refused uploads with the catalog code, detail and failing fields, and stores nothing', async () => {
      await helper.load(otaPlugin as never, []);
      const before = platform.ota.artifacts.list().length;
      const bad = await admin().post(`${BASE}/artifacts`).field('name', 'pump fw').field('version', 'latest').attach('file', randomBytes(10), 'x.bin').expect(400);
      assert.equal(bad.body.code, 'FF_INVALID_VERSION');
      assert.deepEqual(bad.body.errors.map((e: Msg) => e.path), ['/name', '/version', '/models']);
      const noFile = await admin().post(`${BASE}/artifacts`).field('name', 'x').field('version', '1.0.0').field('models', 'm1').expect(400);
      assert.equal(noFile.body.code, 'FF_ARTIFACT_EMPTY');
      const empty = await admin().post(`${BASE}/artifacts`).field('name', 'x').field('version', '1.0.0').field('models', 'm1').attach('file', Buffer.alloc(0), 'x.bin').expect(400);
      assert.equal(empty.body.code, 'FF_ARTIFACT_EMPTY');
      const exists = await admin().post(`${BASE}/artifacts`).field('name', 'fw').field('version', '2.0.0').field('models', 'm1').attach('file', randomBytes(10), 'x.bin').expect(409);
      assert.deepEqual([exists.body.code, exists.body.detail], ['FF_CONFLICT', `fw 2.0.0 exists (${v2}); versions are immutable, upload a new one`]);
      const raw = await admin().post(`${BASE}/artifacts`).set('content-type', 'application/octet-stream').send(randomBytes(10)).expect(400);
      assert.equal(raw.body.code, 'FF_BAD_REQUEST');
      assert.equal(platform.ota.artifacts.list().length, before);
      assert.deepEqual(fs.readdirSync(platform.ota.artifacts.file('x').replace(/x\.bin$/, '')).filter((f) => f.startsWith('.upload-')), [], 'no partial file is left');
    });

    it('keeps nothing of an upload the browser cuts short', async () => {
      await helper.load(otaPlugin as never, []);
      const before = platform.ota.artifacts.list().length;
      const dir = platform.ota.artifacts.file('x').replace(/x\.bin$/, '');
      // The admin app on a socket of its own (supertest, which admin() uses, cannot cut a body short).
      const server = http.createServer((helper as unknown as { _httpAdmin: http.RequestListener })._httpAdmin);
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      const url = new URL(`http://127.0.0.1:${(server.address() as { port: number }).port}${BASE}/artifacts`);
      const boundary = 'ff-cut-short';
      const head = Buffer.from(
        [`--${boundary}`, 'content-disposition: form-data; name="name"', '', 'cut', `--${boundary}`, 'content-disposition: form-data; name="version"', '', '1.0.0', `--${boundary}`,
          'content-disposition: form-data; name="models"', '', 'm1', `--${boundary}`, 'content-disposition: form-data; name="file"; filename="cut.bin"', 'content-type: application/octet-stream', '', ''].join('\r\n'),
      );
      try {
        const req = http.request({ host: url.hostname, port: url.port, path: url.pathname, method: 'POST', headers: { 'content-type': `multipart/form-data; boundary=${boundary}`, 'content-length': String(head.length + 1_000_000) } });
        req.on('error', () => undefined);
        req.write(head);
        req.write(randomBytes(100_000));
        await waitFor('the partial file', () => fs.readdirSync(dir).some((f) => f.startsWith('.upload-')));
        req.destroy();
        await waitFor('the partial file to go', () => !fs.readdirSync(dir).some((f) => f.startsWith('.upload-')));
      } finally {
        server.close();
      }
      assert.equal(platform.ota.artifacts.list().length, before);
    });

    it('lists fleets with their members now, starts a rollout, and pauses, resumes and cancels it', async () => {
      await helper.load(otaPlugin as never, []);
      const fleets = await admin().get(`${BASE}/fleets`).expect(200);
      assert.deepEqual(fleets.body.items.map((f: Msg) => [f.name, f.selector, f.members]), [['fleet a', 'fleet=a', 3], ['fleet b', 'fleet=b', 1]]);
      const created = await admin().post(`${BASE}/rollouts`).send({ artifactId: v2, fleetId: fleetA, canary: { count: 1 }, waveSize: 1 }).expect(201);
      const r = rolloutOf(created.body.id);
      assert.deepEqual([r.status, r.createdBy, r.strategy.canary, r.strategy.waveSize, created.body.progress.offered], ['running', 'user:editor', 1, 1, 1]);
      assert.equal((await admin().post(`${BASE}/rollouts/${r.id}/pause`).expect(200)).body.status, 'paused');
      assert.equal(rolloutOf(r.id).status, 'paused');
      const notPaused = await admin().post(`${BASE}/rollouts/${r.id}/pause`).expect(409);
      assert.deepEqual([notPaused.body.code, notPaused.body.detail], ['FF_ROLLOUT_STATE', 'A paused rollout cannot be paused']);
      assert.equal((await admin().post(`${BASE}/rollouts/${r.id}/resume`).expect(200)).body.status, 'running');
      const inUse = await admin().delete(`${BASE}/artifacts/${v2}`).expect(409);
      assert.equal(inUse.body.code, 'FF_ARTIFACT_IN_USE');
      assert.equal((await admin().post(`${BASE}/rollouts/${r.id}/cancel`).expect(200)).body.status, 'cancelled');
      assert.equal(rolloutOf(r.id).status, 'cancelled');
      assert.equal((await admin().post(`${BASE}/rollouts/nope/cancel`).expect(404)).body.code, 'FF_ROLLOUT_NOT_FOUND');
      const empty = await admin().post(`${BASE}/rollouts`).send({ artifactId: v2 }).expect(400);
      assert.deepEqual([empty.body.code, empty.body.errors.map((e: Msg) => e.path)], ['FF_INVALID_ROLLOUT', ['/fleetId']]);
    });

    it('lists rollouts newest first with their progress, filtered by status, with the limit checked', async () => {
      await helper.load(otaPlugin as never, []);
      const first = await platform.ota.rollouts.create({ artifactId: v2, fleetId: fleetA }, 'user:admin');
      await platform.ota.rollouts.cancel(first.id);
      await sleep(5);
      const second = await platform.ota.rollouts.create({ artifactId: v2, fleetId: fleetB }, 'flow:r');
      const all = await admin().get(`${BASE}/rollouts`).expect(200);
      assert.deepEqual(all.body.items.map((r: Msg) => [r.id, r.status, r.progress.total]), [[second.id, 'running', 1], [first.id, 'cancelled', 3]]);
      assert.equal(all.body.more, false);
      const running = await admin().get(`${BASE}/rollouts?status=running,paused`).expect(200);
      assert.deepEqual(running.body.items.map((r: Msg) => r.id), [second.id]);
      const one = await admin().get(`${BASE}/rollouts?limit=1`).expect(200);
      assert.deepEqual([one.body.items.length, one.body.more], [1, true]);
      const bad = await admin().get(`${BASE}/rollouts?status=lost&limit=0`).expect(400);
      assert.deepEqual([bad.body.code, bad.body.errors.map((e: Msg) => e.path)], ['FF_INVALID_QUERY', ['/status', '/limit']]);
    });
  });
});
