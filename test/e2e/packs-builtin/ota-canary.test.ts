import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { startServer, type ServerProcess } from '../../support/server';
import type { Api } from '../../support/http';
import { tempDir } from '../../support/platform';
import { startWebhookReceiver, type WebhookReceiver } from '../../support/receivers';
import { FieldflowDevice } from '../../../sdk';
import { packNodeId } from '../../../runtime/packs/ids';
import { cronAt, importBuiltin, removeBuiltin } from './support';

const SECRET = 'canary-webhook-secret-0123456789';

describe('the built-in ota-canary pack, imported from flows/ into the real server', function () {
  this.timeout(90_000);
  let hook: WebhookReceiver;
  let server: ServerProcess;
  let admin: Api;
  const devices: FieldflowDevice[] = [];

  before(async () => {
    hook = await startWebhookReceiver();
    hook.secret = SECRET;
    server = await startServer({ env: { FIELDFLOW_NOTIFY_ALLOW_PRIVATE: '127.0.0.1' } });
    admin = await server.admin();
  });
  afterEach(function () {
    if (this.currentTest?.state === 'failed') process.stderr.write(`--- server output ---\n${server.output()}\n`);
  });
  after(async () => {
    for (const d of devices) await d.close({ drainMs: 0 }).catch(() => undefined);
    await server?.stop();
    await hook?.close();
  });

  it('starts a canary rollout of the latest artifact on its schedule, and posts the rollout and the reason to the webhook when the canary fails', async () => {
    const upload = async (version: string) => {
      const r = await admin.post(`/ota/artifacts?name=pump-fw&version=${version}&models=pump-v2`, randomBytes(32 * 1024), { 'content-type': 'application/octet-stream' });
      assert.equal(r.status, 201, JSON.stringify(r.body));
      return r.body as { id: string };
    };
    await upload('1.9.0');
    const latest = await upload('2.0.0');
    await upload('2.1.0-rc.1');
    const installs: string[] = [];
    for (let i = 0; i < 3; i++) {
      const created = (await admin.post('/devices', { name: `pump-${i}`, model: 'pump-v2', labels: { line: 'canary-test' } })).body;
      const device = new FieldflowDevice({ url: server.mqttUrl, deviceId: created.id, token: created.token, httpUrl: server.httpUrl, reconnectPeriodMs: 200 });
      devices.push(device);
      await device.connect();
      device.ota({
        currentVersion: '1.0.0',
        downloadDir: tempDir('fieldflow-canary-dl-'),
        retryDelayMs: 100,
        install: (_file, offer) => {
          installs.push(`${created.name} ${offer.artifact.version}`);
          throw new Error('flash write failed');
        },
      });
    }
    const fleet = (await admin.post('/ota/fleets', { name: 'canary line', selector: 'line=canary-test' })).body;

    const runAt = Math.ceil((Date.now() + 6000) / 1000) * 1000;
    const { installed } = await importBuiltin(
      server,
      admin,
      'ota-canary',
      { ARTIFACT: 'pump-fw', FLEET: fleet.id, CANARY_SIZE: 1, WAVE_SIZE: 5, WAVE_PAUSE_SECONDS: 0, MAX_FAILURE_RATIO: 0.5, CRON: cronAt(runAt, 'UTC'), TIMEZONE: 'UTC', WEBHOOK_URL: hook.url, WEBHOOK_SECRET: SECRET },
      { nodes: 9, types: ['comment', 'schedule', 'ota rollout', 'debug', 'catch', 'ota in', 'function', 'notify'] },
    );
    assert.deepEqual(installed.resources.map((r) => [r.kind, r.name]), [['endpoints', 'OTA canary: webhook']]);
    assert.equal((await admin.get('/ota/rollouts')).body.items.length, 0, 'nothing starts before the schedule runs');

    const [call] = await hook.waitFor(1, 30_000);
    assert.equal(call.verified, true, 'signed with the secret of the parameter');
    const rollout = (await admin.get('/ota/rollouts')).body.items[0];
    assert.deepEqual([rollout.status, rollout.haltReason, rollout.version, rollout.artifactId, rollout.fleetId], ['halted', 'canary_failed', '2.0.0', latest.id, fleet.id]);
    assert.equal(rollout.createdBy, `flow:${packNodeId('com.fieldflow.ota-canary', 'rollout')}`, "started by the pack's rollout node");
    assert.deepEqual([rollout.strategy.canary, rollout.progress.failed, rollout.progress.succeeded], [1, 1, 0]);
    assert.equal(installs.length, 1, `only the canary device got the update: ${installs}`);

    const data = call.body.data.data;
    assert.deepEqual([data.rollout.id, data.rollout.version, data.rollout.fleetId, data.rollout.fleet, data.reason], [rollout.id, '2.0.0', fleet.id, 'canary line', 'canary_failed']);
    assert.deepEqual(data.failures.map((f: any) => [f.device, f.reason]), [[installs[0].split(' ')[0], 'install_failed']]);
    assert.equal(call.body.subject, `Canary of ${rollout.name} failed: canary_failed`);
    assert.equal(call.body.text, `The rollout ${rollout.name} (2.0.0 to canary line) halted: canary_failed. ${installs[0].split(' ')[0]}: install_failed.`);

    await removeBuiltin(server, admin, installed);
    assert.equal(hook.calls.length, 1, 'one failed canary, one call');
  });
});
