import assert from 'node:assert/strict';
import type { Browser, Page } from 'playwright-core';
import { launchChromium, openEditor as openEditorPage } from '../support/browser';
import { startServer, ADMIN_PASSWORD, type ServerProcess } from '../support/server';
import { Api } from '../support/http';
import { editorToken } from '../support/nodered';
import { startWebhookReceiver, type WebhookReceiver } from '../support/receivers';
import { waitFor } from '../support/mqtt';


describe('the Notifications sidebar in the real editor', function () {
  this.timeout(60_000);
  let server: ServerProcess;
  let editor: Api;
  let receiver: WebhookReceiver;
  let browser: Browser | undefined;
  /** Script errors in the editor page (a refused request is logged too, and is not one). */
  const problems: string[] = [];

  before(async () => {
    server = await startServer({ env: { FIELDFLOW_NOTIFY_ALLOW_PRIVATE: '127.0.0.1' } });
    receiver = await startWebhookReceiver();
    editor = new Api(server.httpUrl, await editorToken(server.httpUrl, ADMIN_PASSWORD));
  });
  beforeEach(() => {
    receiver.status = 200;
    receiver.calls.length = 0;
  });
  afterEach(function () {
    if (this.currentTest?.state === 'failed') process.stderr.write(`--- server output ---\n${server.output()}\nproblems: ${JSON.stringify(problems)}\n`);
    problems.length = 0;
  });
  after(async () => {
    await browser?.close();
    await receiver.close();
    const code = await server.stop();
    assert.equal(code, 0, `server did not exit cleanly:\n${server.output()}`);
  });

  it('loads the plugins from the palette module, with the editor part that adds the sidebar tab', async () => {
    const sets = (await editor.get('/plugins', { accept: 'application/json' })).body;
    const ours = sets.filter((s: any) => s.module === '@fieldflow/nodes');
    assert.deepEqual(
      ours.map((s: any) => [s.name, s.enabled, s.err ?? null, s.plugins.map((p: any) => p.id)]),
      [
        ['fieldflow-notifications', true, null, ['fieldflow-notifications']],
        ['fieldflow-ota', true, null, ['fieldflow-ota']],
        ['fieldflow-packs', true, null, ['fieldflow-packs']],
      ],
    );
    const html = (await editor.get('/plugins', { accept: 'text/html' })).body as string;
    assert.match(html, /RED\.plugins\.registerPlugin\('fieldflow-notifications'/);
    assert.match(html, /RED\.sidebar\.addTab\(/);
  });

  it('keeps its routes behind the editor login and acts on the same endpoints as the REST API', async () => {
    const anonymous = new Api(server.httpUrl);
    assert.equal((await anonymous.get('/fieldflow/notifications/endpoints')).status, 401);
    assert.equal((await anonymous.post('/fieldflow/notifications/endpoints', { type: 'webhook', name: 'x', config: { url: receiver.url } })).status, 401);
    assert.equal((await anonymous.get('/fieldflow/notifications/deliveries?status=dead')).status, 401);

    const created = await editor.post('/fieldflow/notifications/endpoints', { type: 'webhook', name: 'ops', config: { url: receiver.url } });
    assert.equal(created.status, 201);
    assert.match(created.body.secret, /^whsec_/);
    const api = await server.admin();
    const viaRest = await api.get(`/notifications/endpoints/${created.body.id}`);
    assert.deepEqual([viaRest.status, viaRest.body.name, viaRest.body.secret], [200, 'ops', undefined]);

    receiver.status = 422;
    const sent = await api.post('/notifications/send', { endpoints: [created.body.id], subject: 'Pump {{data.pump}} stopped', data: { pump: 2 } });
    assert.equal(sent.status, 202);
    const dead = await waitFor('the dead letter', async () => {
      const r = await editor.get('/fieldflow/notifications/deliveries?status=dead');
      return r.body.items.length === 1 && r.body.items[0];
    });
    assert.deepEqual([dead.subject, dead.endpoint, dead.attempts.at(-1).status], ['Pump 2 stopped', created.body.id, 422]);
    receiver.status = 200;
    assert.equal((await anonymous.post(`/fieldflow/notifications/deliveries/${dead.id}/resend`, {})).status, 401);
    assert.equal((await editor.post(`/fieldflow/notifications/deliveries/${dead.id}/resend`, {})).status, 202);
    const sentAgain = await waitFor('the resent delivery', async () => (await api.get(`/notifications/deliveries/${dead.id}`)).body.status === 'sent');
    assert.equal(sentAgain, true);
    assert.equal(receiver.calls.length, 2);

    assert.equal((await editor.delete(`/fieldflow/notifications/endpoints/${created.body.id}`)).status, 204);
    assert.equal((await api.get(`/notifications/endpoints/${created.body.id}`)).status, 404);
  });

  /** The editor, logged in, with the Fieldflow palette loaded. */
  async function openEditor(): Promise<Page> {
    browser ??= await launchChromium();
    return openEditorPage(browser, server.httpUrl, ADMIN_PASSWORD, problems);
  }

  it('creates a webhook endpoint in the sidebar, shows its real signing secret once, and resends a dead letter', async () => {
    const page = await openEditor();
    await page.evaluate(() => (window as any).RED.actions.invoke('fieldflow:show-notifications-tab'));
    const sidebar = page.locator('.ff-notif');
    await sidebar.getByRole('button', { name: 'add' }).click();
    const form = sidebar.locator('.ff-notif-form');
    await form.getByLabel('Name').fill('sidebar hook');
    await form.getByLabel('URL', { exact: true }).fill(receiver.url);
    await form.getByRole('button', { name: 'create' }).click();
    receiver.secret = (await sidebar.locator('.ff-notif-secret code').textContent())!;
    assert.match(receiver.secret, /^whsec_/);
    await sidebar.locator('li', { hasText: 'sidebar hook' }).waitFor();
    const api = await server.admin();
    const hook = (await api.get('/notifications/endpoints')).body.items.find((e: any) => e.name === 'sidebar hook');

    receiver.status = 400;
    assert.equal((await api.post('/notifications/send', { endpoints: [hook.id], subject: 'Tank {{data.tank}} empty', data: { tank: 3 } })).status, 202);
    await waitFor('the dead letter', async () => (await api.get(`/notifications/deliveries?status=dead&endpoint=${hook.id}`)).body.items.length === 1);
    await sidebar.getByRole('button', { name: 'done' }).click();
    await page.locator('.red-ui-sidebar-footer button[title="Refresh"]:visible').click();
    const letter = sidebar.locator('li', { hasText: 'Tank 3 empty' });
    await letter.waitFor();
    assert.match((await letter.textContent())!, /to sidebar hook \(webhook\).*FF_PROVIDER_REJECTED: the webhook receiver answered 400.*1 attempt/);
    assert.equal(await sidebar.locator('.ff-notif-secret').count(), 0, 'the secret is gone once acknowledged');

    receiver.status = 200;
    await letter.getByRole('button', { name: 'resend' }).click();
    const calls = await receiver.waitFor(2);
    assert.deepEqual(calls.map((c) => [c.body.subject, c.verified]), [
      ['Tank 3 empty', true],
      ['Tank 3 empty', true],
    ], 'the receiver verifies both attempts with the secret the sidebar showed');
    await sidebar.locator('li', { hasText: 'No dead letters.' }).waitFor({ timeout: 10_000 });
    assert.deepEqual(problems, []);
  });

  it("lists the platform's endpoints and subscriptions in the notify and notify in dialogs and saves the choice", async () => {
    const api = await server.admin();
    const hook = (await api.post('/notifications/endpoints', { type: 'webhook', name: 'dialog hook', config: { url: receiver.url } })).body;
    const sub = (await api.post('/notifications/subscriptions', { name: 'leaks', events: ['AlarmRaised'], alarmTypes: ['leak'], endpoints: [hook.id] })).body;
    const page = await openEditor();
    await page.evaluate(() => {
      const RED = (window as any).RED;
      RED.view.importNodes([
        { id: 'e2e00000000000a1', type: 'notify', mode: 'endpoints', endpoints: [], x: 200, y: 100, wires: [[]] },
        { id: 'e2e00000000000a2', type: 'notify in', statuses: ['dead'], x: 200, y: 200, wires: [[]] },
      ]);
    });
    const saved = (id: string) => page.evaluate((nodeId) => {
      const n = (window as any).RED.nodes.node(nodeId);
      return { endpoints: n.endpoints, statuses: n.statuses, subscription: n.subscription, valid: n.valid };
    }, id);
    const edit = (id: string) => page.evaluate((nodeId) => (window as any).RED.editor.edit((window as any).RED.nodes.node(nodeId)), id);

    await edit('e2e00000000000a1');
    await page.locator('#ff-notify-endpoints label', { hasText: 'dialog hook (webhook)' }).locator('input').check();
    await page.locator('#node-dialog-ok').click();
    await page.locator('#node-dialog-ok').waitFor({ state: 'detached' });
    assert.deepEqual((await saved('e2e00000000000a1')).endpoints, [hook.id]);

    await edit('e2e00000000000a2');
    await page.locator('#node-input-subscription option', { hasText: 'leaks' }).waitFor({ state: 'attached' });
    await page.locator('#node-input-subscription').selectOption(sub.id);
    await page.locator('#ff-notify-in-failed').check();
    await page.locator('#node-dialog-ok').click();
    await page.locator('#node-dialog-ok').waitFor({ state: 'detached' });
    assert.deepEqual(await saved('e2e00000000000a2'), { endpoints: undefined, statuses: ['failed', 'dead'], subscription: sub.id, valid: true });
    assert.deepEqual(problems, []);
  });
});
