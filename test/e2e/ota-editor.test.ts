import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import type { MqttClient } from 'mqtt';
import type { Browser, Page } from 'playwright-core';
import { launchChromium, openEditor as openEditorPage } from '../support/browser';
import { startServer, ADMIN_PASSWORD, type ServerProcess } from '../support/server';
import { Api } from '../support/http';
import { editorToken } from '../support/nodered';
import { connect, waitFor } from '../support/mqtt';

describe('the OTA sidebar in the real editor', function () {
  this.timeout(60_000);
  let server: ServerProcess;
  let editor: Api;
  let api: Api;
  let browser: Browser | undefined;
  const clients: MqttClient[] = [];
  /** Devices of model m1 labelled fleet=e2e, with their tokens. */
  const devices: Array<{ id: string; token: string }> = [];
  let fleetId: string;
  /** Script errors in the editor page (a refused request is logged too, and is not one). */
  const problems: string[] = [];

  before(async () => {
    server = await startServer();
    editor = new Api(server.httpUrl, await editorToken(server.httpUrl, ADMIN_PASSWORD));
    api = await server.admin();
    for (const name of ['e1', 'e2', 'e3']) {
      const r = await api.post('/devices', { name, model: 'm1', labels: { fleet: 'e2e' } });
      assert.equal(r.status, 201, JSON.stringify(r.body));
      devices.push({ id: r.body.id, token: r.body.token });
    }
    fleetId = (await api.post('/ota/fleets', { name: 'e2e fleet', selector: 'fleet=e2e' })).body.id;
  });
  afterEach(function () {
    if (this.currentTest?.state === 'failed') process.stderr.write(`--- server output ---\n${server.output()}\nproblems: ${JSON.stringify(problems)}\n`);
    problems.length = 0;
  });
  after(async () => {
    for (const c of clients) await c.endAsync();
    await browser?.close();
    const code = await server.stop();
    assert.equal(code, 0, `server did not exit cleanly:\n${server.output()}`);
  });

  async function openEditor(): Promise<Page> {
    browser ??= await launchChromium();
    const page = await openEditorPage(browser, server.httpUrl, ADMIN_PASSWORD, problems);
    await page.evaluate(() => (window as any).RED.actions.invoke('fieldflow:show-ota-tab'));
    return page;
  }

  it('loads the OTA plugin from the palette module, and keeps its routes behind the editor login', async () => {
    const sets = (await editor.get('/plugins', { accept: 'application/json' })).body;
    const ota = sets.find((s: any) => s.module === '@fieldflow/nodes' && s.name === 'fieldflow-ota');
    assert.deepEqual([ota?.enabled, ota?.err ?? null, ota?.plugins.map((p: any) => p.id)], [true, null, ['fieldflow-ota']]);
    const html = (await editor.get('/plugins', { accept: 'text/html' })).body as string;
    assert.match(html, /RED\.plugins\.registerPlugin\('fieldflow-ota'/);

    const anonymous = new Api(server.httpUrl);
    assert.equal((await anonymous.get('/fieldflow/ota/artifacts')).status, 401);
    assert.equal((await anonymous.get('/fieldflow/ota/rollouts')).status, 401);
    assert.equal((await anonymous.post('/fieldflow/ota/rollouts', { artifactId: 'x', fleetId })).status, 401);
    assert.equal((await anonymous.post('/fieldflow/ota/artifacts', Buffer.from('x'), { 'content-type': 'multipart/form-data; boundary=x' })).status, 401);
    const fleets = await editor.get('/fieldflow/ota/fleets');
    assert.deepEqual(fleets.body.items.map((f: any) => [f.name, f.members]), [['e2e fleet', 3]]);
  });

  it('uploads an artifact through the file input, shows a rollout with its progress, and pauses and resumes it', async () => {
    const page = await openEditor();
    const sidebar = page.locator('.ff-ota');
    await sidebar.locator('li', { hasText: 'No artifacts yet.' }).waitFor();

    // ---- a refused upload shows the platform's error, then a valid one is listed
    await sidebar.getByRole('button', { name: 'upload' }).click();
    const form = sidebar.locator('.ff-ota-upload');
    const file = randomBytes(150_000);
    await form.getByLabel('Name').fill('pump-fw');
    await form.getByLabel('Version').fill('two');
    await form.getByLabel('Models').fill('m1');
    await form.getByLabel('Notes').fill('fixes the valve');
    await form.getByLabel('File').setInputFiles({ name: 'pump-2.0.0.bin', mimeType: 'application/octet-stream', buffer: file });
    await form.getByRole('button', { name: 'upload', exact: true }).click();
    await form.locator('.ff-ota-error', { hasText: 'FF_INVALID_VERSION' }).first().waitFor();
    assert.match((await form.locator('.ff-ota-error').first().textContent())!, /^FF_INVALID_VERSION: \/version "two" is not a semantic version/);

    await form.getByLabel('Version').fill('2.0.0');
    await form.getByRole('button', { name: 'upload', exact: true }).click();
    const listed = sidebar.locator('li.ff-ota-artifact', { hasText: 'pump-fw' });
    await listed.waitFor();
    assert.match((await listed.textContent())!, /pump-fw 2\.0\.0.*for m1 - 146\.5 KiB - unsigned.*fixes the valve/);
    const artifacts = (await api.get('/ota/artifacts')).body.items;
    assert.equal(artifacts.length, 1);
    const artifact = artifacts[0];
    assert.deepEqual([artifact.name, artifact.version, artifact.models, artifact.notes, artifact.size, artifact.sha256], ['pump-fw', '2.0.0', ['m1'], 'fixes the valve', file.length, createHash('sha256').update(file).digest('hex')]);
    const stored = await fetch(`${server.apiUrl}/ota/artifacts/${artifact.id}/download`, { headers: { authorization: `Bearer ${api.token}` } });
    assert.ok(Buffer.from(await stored.arrayBuffer()).equals(file), 'the platform stores the bytes the browser sent');

    // ---- a rollout started elsewhere appears, and its progress moves while the tab is open
    const rollout = (await api.post('/ota/rollouts', { name: 'e2e canary', artifactId: artifact.id, fleetId, canary: { count: 1 }, waveSize: 1 })).body;
    const row = sidebar.locator('li.ff-ota-rollout', { hasText: 'e2e canary' });
    await row.waitFor({ timeout: 10_000 });
    assert.match((await row.textContent())!, /e2e canaryrunning.*2\.0\.0 to e2e fleet \(3 devices\)/);
    assert.equal(await row.locator('.ff-ota-progress').textContent(), '0 succeeded, 0 failed, 1 in progress, 2 pending of 3');
    assert.equal((await api.get(`/ota/rollouts/${rollout.id}`)).body.waves, 3, 'the canary and two waves of one');
    assert.match((await row.textContent())!, /canary \(1\), wave 1 of 3/);

    const updates = (await api.get(`/ota/rollouts/${rollout.id}/updates`)).body.items;
    const canary = updates.find((u: any) => u.wave === 0);
    const device = devices.find((d) => d.id === canary.deviceId)!;
    const client = await connect(server.mqttUrl, { clientId: device.id, username: device.id, password: device.token });
    clients.push(client);
    await client.publishAsync(`devices/${device.id}/ota/status`, JSON.stringify({ updateId: canary.id, version: '2.0.0' }), { qos: 1 });
    await waitFor('the progress in the sidebar', async () => (await row.locator('.ff-ota-progress').textContent()) === '1 succeeded, 0 failed, 1 in progress, 1 pending of 3', 10_000);
    assert.equal((await api.get(`/ota/rollouts/${rollout.id}`)).body.wave, 1);
    assert.match((await row.textContent())!, /wave 2 of 3/);

    // ---- pause and resume from the sidebar act on the platform
    await row.getByRole('button', { name: 'pause' }).click();
    await row.getByRole('button', { name: 'resume' }).waitFor();
    assert.equal((await api.get(`/ota/rollouts/${rollout.id}`)).body.status, 'paused');
    assert.equal(await row.locator('.ff-ota-status').textContent(), 'paused');
    await row.getByRole('button', { name: 'resume' }).click();
    await row.getByRole('button', { name: 'pause' }).waitFor();
    assert.equal((await api.get(`/ota/rollouts/${rollout.id}`)).body.status, 'running');

    // ---- an artifact in use cannot be deleted: the sidebar says why
    await listed.getByRole('button', { name: 'delete' }).click();
    await listed.getByRole('button', { name: 'confirm delete' }).click();
    await listed.locator('.ff-ota-error').waitFor();
    assert.match((await listed.locator('.ff-ota-error').textContent())!, /^FF_ARTIFACT_IN_USE: The artifact is used by rollout "e2e canary"/);

    // ---- cancel asks twice
    await row.getByRole('button', { name: 'cancel' }).click();
    await row.getByRole('button', { name: 'confirm cancel' }).click();
    await waitFor('the cancelled rollout', async () => (await api.get(`/ota/rollouts/${rollout.id}`)).body.status === 'cancelled');
    await row.locator('.ff-ota-status', { hasText: 'cancelled' }).waitFor();
    assert.equal(await row.getByRole('button').count(), 0, 'a finished rollout has no actions');
    assert.deepEqual(problems, []);
  });

  it('starts a rollout from the sidebar with the chosen artifact, fleet and canary', async () => {
    const artifact = (await api.get('/ota/artifacts')).body.items.find((a: any) => a.name === 'pump-fw');
    const page = await openEditor();
    const sidebar = page.locator('.ff-ota');
    await sidebar.locator('li.ff-ota-artifact', { hasText: 'pump-fw' }).waitFor();
    await sidebar.getByRole('button', { name: 'new' }).click();
    const form = sidebar.locator('.ff-ota-new-rollout');
    await form.getByLabel('Artifact').selectOption(artifact.id);
    await form.getByLabel('Fleet').selectOption(fleetId);
    await form.getByLabel('Canary devices').fill('2');
    await form.getByLabel('Name').fill('from the sidebar');
    await form.getByRole('button', { name: 'start rollout' }).click();
    await sidebar.locator('li.ff-ota-rollout', { hasText: 'from the sidebar' }).waitFor();
    const created = (await api.get('/ota/rollouts')).body.items.find((r: any) => r.name === 'from the sidebar');
    assert.deepEqual([created.artifactId, created.fleetId, created.strategy.canary, created.createdBy, created.status], [artifact.id, fleetId, 2, 'user:admin', 'running']);
    assert.deepEqual(problems, []);
  });

  it("lists the platform's artifacts, fleets and rollouts in the ota rollout and ota in dialogs and saves the choice", async () => {
    const artifact = (await api.get('/ota/artifacts')).body.items.find((a: any) => a.name === 'pump-fw');
    const rollout = (await api.get('/ota/rollouts')).body.items.find((r: any) => r.name === 'e2e canary');
    const page = await openEditor();
    await page.evaluate(() => {
      (window as any).RED.view.importNodes([
        { id: 'e2e00000000000b1', type: 'ota rollout', x: 200, y: 100, wires: [[]] },
        { id: 'e2e00000000000b2', type: 'ota in', x: 200, y: 200, wires: [[]] },
      ], { applyNodeDefaults: true, notify: false });
    });
    const saved = (id: string) =>
      page.evaluate((nodeId) => {
        const n = (window as any).RED.nodes.node(nodeId);
        return { artifact: n.artifact, fleet: n.fleet, canaryMode: n.canaryMode, canary: n.canary, events: n.events, rollout: n.rollout, valid: n.valid };
      }, id);
    const edit = (id: string) => page.evaluate((nodeId) => (window as any).RED.editor.edit((window as any).RED.nodes.node(nodeId)), id);

    assert.equal((await saved('e2e00000000000b1')).valid, false, 'a new start node needs an artifact and a fleet');
    await edit('e2e00000000000b1');
    await page.locator('#node-input-artifact option', { hasText: 'pump-fw 2.0.0 (m1)' }).waitFor({ state: 'attached' });
    await page.locator('#node-input-artifact').selectOption(artifact.id);
    await page.locator('#node-input-fleet option', { hasText: 'e2e fleet (3 devices)' }).waitFor({ state: 'attached' });
    await page.locator('#node-input-fleet').selectOption(fleetId);
    await page.locator('#node-input-canaryMode').selectOption('percent');
    await page.locator('#node-input-canary').fill('10');
    await page.locator('#node-dialog-ok').click();
    await page.locator('#node-dialog-ok').waitFor({ state: 'detached' });
    assert.deepEqual(await saved('e2e00000000000b1'), { artifact: artifact.id, fleet: fleetId, canaryMode: 'percent', canary: '10', events: undefined, rollout: undefined, valid: true });
    assert.equal(await page.evaluate(() => (window as any).RED.nodes.node('e2e00000000000b1').action), 'start');

    await edit('e2e00000000000b2');
    await page.locator('#node-input-rollout option', { hasText: 'e2e canary (cancelled)' }).waitFor({ state: 'attached' });
    await page.locator('#node-input-rollout').selectOption(rollout.id);
    await page.locator('#ff-ota-in-update').check();
    await page.locator('#node-dialog-ok').click();
    await page.locator('#node-dialog-ok').waitFor({ state: 'detached' });
    const otaIn = await saved('e2e00000000000b2');
    assert.deepEqual([otaIn.events, otaIn.rollout, otaIn.valid], [['rollout', 'update', 'failed'], rollout.id, true]);
    assert.deepEqual(problems, []);
  });
});
