import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { ADMIN_PASSWORD, startServer, type ServerProcess } from '../support/server';
import { tempDir } from '../support/platform';
import { waitFor } from '../support/mqtt';
import type { Api } from '../support/http';
import { channelMessages } from '../unit/sdk/support';

const CLI = path.resolve(__dirname, '../../sdk/sim/cli.js');

interface Run {
  child: ChildProcess;
  output(): string;
  exited: Promise<number | null>;
}

function sim(args: string[], env: Record<string, string> = {}, cwd?: string): Run {
  const clean = { ...process.env };
  delete clean.FIELDFLOW_ADMIN_PASSWORD;
  delete clean.FIELDFLOW_SIM_STATE_FILE;
  const child = spawn(process.execPath, [CLI, ...args], { cwd, env: { ...clean, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  return { child, output: () => out, exited };
}

describe('fieldflow-sim against the real server', function () {
  this.timeout(120_000);
  let server: ServerProcess;
  let api: Api;
  let dir: string;
  const runs: Run[] = [];
  const base = () => ['--url', server.httpUrl, '--mqtt', server.mqttUrl, '--state-file', path.join(dir, 'sim.json')];
  const start = (args: string[], env?: Record<string, string>) => {
    const r = sim([...base(), ...args], env);
    runs.push(r);
    return r;
  };

  before(async () => {
    const keyFile = path.join(tempDir(), 'ota.pem');
    fs.writeFileSync(keyFile, generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }) as string);
    server = await startServer({ env: { FIELDFLOW_OTA_SIGNING_KEY: keyFile } });
    api = await server.admin();
    dir = tempDir('fieldflow-sim-');
  });
  afterEach(function () {
    if (this.currentTest?.state === 'failed') for (const r of runs) process.stderr.write(`--- fieldflow-sim ---\n${r.output()}\n`);
    for (const r of runs.splice(0)) if (r.child.exitCode === null) r.child.kill('SIGKILL');
  });
  after(() => server?.stop());

  it('prints its usage with --help, and exits 2 on an unknown option', async () => {
    const help = sim(['--help']);
    assert.equal(await help.exited, 0);
    assert.match(help.output(), /Usage: npx fieldflow-sim/);
    const bad = sim(['--nope']);
    assert.equal(await bad.exited, 2);
    assert.match(bad.output(), /unknown option --nope/);
  });

  it('refuses to create devices without the admin password, saying how to give it', async () => {
    const r = start(['--count', '2']);
    assert.equal(await r.exited, 1);
    assert.match(r.output(), /needs the admin password: pass --password or set FIELDFLOW_ADMIN_PASSWORD/);
  });

  it('creates its devices over REST, saves their credentials, and publishes telemetry for each', async () => {
    const r = start(['--count', '3', '--model', 'env-probe', '--labels', 'site=north,tier=canary', '--interval', '0.2', '--duration', '3'], { FIELDFLOW_ADMIN_PASSWORD: ADMIN_PASSWORD });
    assert.equal(await r.exited, 0);
    assert.match(r.output(), /creating 3 device\(s\) of model env-probe/);
    const file = path.join(dir, 'sim.json');
    assert.equal(fs.statSync(file).mode & 0o777, 0o600, 'the state file holds tokens: owner only');
    const state = JSON.parse(fs.readFileSync(file, 'utf8'));
    assert.equal(state.devices.length, 3);
    assert.ok(state.signingPublicKey.includes('PUBLIC KEY'), 'the OTA key is saved for later runs');
    for (const d of state.devices) {
      const device = (await api.get(`/devices/${d.id}`)).body;
      assert.deepEqual([device.name, device.model, device.labels], [d.name, 'env-probe', { site: 'north', tier: 'canary' }]);
      const messages = await channelMessages(api, d.id, 'telemetry');
      assert.ok(messages.length >= 5, `${d.name}: ${messages.length} messages`);
      for (const m of messages) assert.deepEqual(Object.keys(m.data).sort(), ['battery', 'humidity', 'temperature']);
    }
  });

  it('reuses the devices of its state file on a second run, without the admin password', async () => {
    const state = JSON.parse(fs.readFileSync(path.join(dir, 'sim.json'), 'utf8'));
    const before = (await channelMessages(api, state.devices[0].id, 'telemetry')).length;
    const r = start(['--count', '3', '--interval', '0.2', '--duration', '2']);
    assert.equal(await r.exited, 0);
    assert.match(r.output(), /reusing 3 of the 3 devices/);
    assert.equal((await api.get('/devices?limit=100')).body.items.length, 3, 'no device created');
    assert.ok((await channelMessages(api, state.devices[0].id, 'telemetry')).length > before);
  });

  it('keeps its state in a per-user folder, one file per server, and writes nothing in the current directory', async () => {
    const cwd = tempDir('fieldflow-sim-cwd-');
    const stateHome = tempDir('fieldflow-sim-state-');
    const r = sim(['--url', server.httpUrl, '--mqtt', server.mqttUrl, '--count', '1', '--model', 'cwd-probe', '--interval', '0.2', '--duration', '1'], { FIELDFLOW_ADMIN_PASSWORD: ADMIN_PASSWORD, XDG_STATE_HOME: stateHome }, cwd);
    runs.push(r);
    assert.equal(await r.exited, 0);
    const file = path.join(stateHome, 'fieldflow', 'sim', `127.0.0.1-${server.httpPort}.json`);
    assert.match(r.output(), new RegExp(`state file  ${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\n`));
    assert.equal(fs.statSync(file).mode & 0o777, 0o600);
    assert.equal(JSON.parse(fs.readFileSync(file, 'utf8')).devices.length, 1);
    assert.deepEqual(fs.readdirSync(cwd), [], 'nothing in the directory it was started from');
    await api.delete(`/devices/${JSON.parse(fs.readFileSync(file, 'utf8')).devices[0].id}`);
  });

  it('replaces saved devices the server no longer has when it has the admin password', async () => {
    const file = path.join(dir, 'sim.json');
    const before = JSON.parse(fs.readFileSync(file, 'utf8')).devices as Array<{ id: string }>;
    assert.equal((await api.delete(`/devices/${before[1].id}`)).status, 204);
    const r = start(['--count', '3', '--interval', '0.2', '--duration', '1'], { FIELDFLOW_ADMIN_PASSWORD: ADMIN_PASSWORD });
    assert.equal(await r.exited, 0);
    assert.match(r.output(), /1 of the 3 devices in .*sim\.json no longer exist on http:\/\/127\.0\.0\.1:\d+; creating new ones/);
    assert.doesNotMatch(r.output(), /is the device deleted/);
    const after = JSON.parse(fs.readFileSync(file, 'utf8')).devices as Array<{ id: string }>;
    assert.equal(after.length, 3);
    assert.deepEqual([after[0].id, after[1].id], [before[0].id, before[2].id]);
    assert.ok(!after.some((d) => d.id === before[1].id));
    for (const d of after) assert.equal((await api.get(`/devices/${d.id}`)).status, 200);
  });

  it('answers an OTA rollout, the devices set to fail failing as planned, and stops cleanly on SIGINT', async () => {
    const r = start(['--count', '5', '--model', 'pump-v9', '--name-prefix', 'ota-', '--labels', 'fleet=ota', '--interval', '1', '--install-seconds', '0.2', '--fail', 'checksum=1,install=1,rollback=1', '--state-file', path.join(dir, 'ota.json')], {
      FIELDFLOW_ADMIN_PASSWORD: ADMIN_PASSWORD,
    });
    await waitFor('running', () => r.output().includes('running; Ctrl-C to stop'), 30_000);
    const devices = JSON.parse(fs.readFileSync(path.join(dir, 'ota.json'), 'utf8')).devices as Array<{ id: string; name: string }>;
    const artifact = (await api.post('/ota/artifacts?name=pump-fw&version=2.0.0&models=pump-v9', randomBytes(200_000), { 'content-type': 'application/octet-stream' })).body;
    const fleet = (await api.post('/ota/fleets', { name: 'ota', selector: 'fleet=ota' })).body;
    const created = await api.post('/ota/rollouts', { artifactId: artifact.id, fleetId: fleet.id, maxFailureRatio: 1 });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    await waitFor('completed', async () => (await api.get(`/ota/rollouts/${created.body.id}`)).body.status === 'completed', 60_000);
    const updates = new Map(((await api.get(`/ota/rollouts/${created.body.id}/updates?limit=100`)).body.items as any[]).map((u) => [u.deviceId, u]));
    const outcome = devices.map((d) => `${updates.get(d.id).state}${updates.get(d.id).reason ? `:${updates.get(d.id).reason}` : ''}`);
    assert.deepEqual(outcome, ['failed:checksum_mismatch', 'failed:install_failed', 'failed:rolled_back', 'succeeded', 'succeeded']);

    r.child.kill('SIGINT');
    assert.equal(await r.exited, 0);
    assert.match(r.output(), /SIGINT: stopping/);
    assert.match(r.output(), /stopped: 5 device\(s\), \d+ messages sent, 0 queued, 0 dropped; OTA 2 installed, 3 failed/);
    const saved = JSON.parse(fs.readFileSync(path.join(dir, 'ota.json'), 'utf8')).devices.map((d: any) => d.firmware);
    assert.deepEqual(saved, ['1.0.0', '1.0.0', '1.0.0', '2.0.0', '2.0.0'], 'installed versions are saved for the next run');
  });
});
