import assert from 'node:assert/strict';
import type { Browser, Page } from 'playwright-core';
import { launchChromium, openEditor } from '../../support/browser';
import { startServer, ADMIN_PASSWORD, type ServerProcess } from '../../support/server';
import type { Api } from '../../support/http';
import { packNodeId } from '../../../runtime/packs/ids';
import { readPack } from './support';

const FLEET = '0b0e7a1c-3f4d-4b5e-9a6f-7c8d9e0f1a2b';
const PARAMS: Record<string, Record<string, unknown>> = {
  'telemetry-alarm': { EMAIL_TO: ['ops@example.com'] },
  'offline-alert': { SMS_TO: ['+14155550100'], SMS_FROM: '+15005550006', TWILIO_ACCOUNT_SID: 'AC0123', TWILIO_AUTH_TOKEN: 'token-0123' },
  'daily-report': { EMAIL_TO: ['ops@example.com'] },
  'ota-canary': { ARTIFACT: 'pump-fw', FLEET, WEBHOOK_URL: 'https://hooks.example.com/ota', WEBHOOK_SECRET: 'a-webhook-secret-0123' },
};

describe('the built-in packs in the real editor', function () {
  this.timeout(90_000);
  let server: ServerProcess;
  let admin: Api;
  let browser: Browser | undefined;
  let page: Page;
  const problems: string[] = [];

  before(async () => {
    // Email endpoints need an SMTP server configured; nothing is sent here.
    server = await startServer({ env: { FIELDFLOW_SMTP_HOST: '127.0.0.1', FIELDFLOW_SMTP_PORT: '9' } });
    admin = await server.admin();
    for (const [name, params] of Object.entries(PARAMS)) {
      const r = await admin.post('/packs', { pack: readPack(name), params });
      assert.equal(r.status, 201, `${name}: ${JSON.stringify(r.body)}\n--- server ---\n${server.output().slice(-4000)}`);
    }
    browser = await launchChromium();
    page = await openEditor(browser, server.httpUrl, ADMIN_PASSWORD, problems);
  });
  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  const node = (pack: string, id: string) => packNodeId(`com.fieldflow.${pack}`, id);
  const edit = (id: string) => page.evaluate((nodeId) => (window as any).RED.editor.edit((window as any).RED.nodes.node(nodeId)), id);
  const save = async () => {
    await page.locator('#node-dialog-ok').click();
    await page.locator('#node-dialog-ok').waitFor({ state: 'detached' });
  };
  const read = (id: string) =>
    page.evaluate((nodeId) => {
      const RED = (window as any).RED;
      const n = RED.nodes.node(nodeId);
      RED.editor.validateNode(n);
      const copy: Record<string, unknown> = {};
      for (const key of Object.keys(n._def.defaults)) copy[key] = n[key];
      return { ...copy, valid: n.valid };
    }, id) as Promise<Record<string, any>>;

  it("shows every node of every pack as valid, ${NAME} settings included", async () => {
    for (const name of Object.keys(PARAMS)) {
      const tab = node(name, 'tab');
      const nodes = (await page.evaluate((z) => {
        const RED = (window as any).RED;
        const out: Array<{ id: string; type: string; valid: boolean }> = [];
        RED.nodes.eachNode((n: any) => {
          if (n.z !== z) return;
          RED.editor.validateNode(n);
          out.push({ id: n.id, type: n.type, valid: n.valid });
        });
        return out;
      }, tab)) as Array<{ id: string; type: string; valid: boolean }>;
      assert.ok(nodes.length >= 4, `${name} is in the editor`);
      assert.deepEqual(nodes.filter((n) => !n.valid), [], `${name}: invalid nodes`);
    }
    assert.deepEqual(problems, []);
  });

  it('keeps ${NAME} settings of the device trigger through its dialog, backtests with the tab values, and still flags a threshold that is not a number', async () => {
    const trigger = node('telemetry-alarm', 'trigger');
    await edit(trigger);
    await page.locator('#node-input-threshold').waitFor();
    assert.equal(await page.locator('#node-input-threshold').inputValue(), '${THRESHOLD}');
    assert.equal(await page.locator('#node-input-alarmSeverity').inputValue(), '${SEVERITY}', 'the select offers the env reference');
    await page.locator('#ff-trigger-backtest').click();
    await page.locator('#ff-trigger-backtest-result p').filter({ hasText: /Would have fired|FF_/ }).waitFor();
    assert.match(await page.locator('#ff-trigger-backtest-result').innerText(), /^Would have fired 0 times in the last 7 days/);
    await save();
    const saved = await read(trigger);
    assert.deepEqual([saved.threshold, saved.alarmSeverity, saved.channel, saved.selector, saved.valid], ['${THRESHOLD}', '${SEVERITY}', '${CHANNEL}', '${SELECTOR}', true]);

    const invalid = await page.evaluate((nodeId) => {
      const RED = (window as any).RED;
      const n = RED.nodes.node(nodeId);
      const was = n.threshold;
      n.threshold = '${not a name}';
      RED.editor.validateNode(n);
      const bad = n.valid;
      n.threshold = was;
      RED.editor.validateNode(n);
      return bad;
    }, trigger);
    assert.equal(invalid, false, 'only a whole ${NAME} is taken as a reference');
  });

  it('keeps ${NAME} settings of the ota rollout and history nodes through their dialogs', async () => {
    const rollout = node('ota-canary', 'rollout');
    await edit(rollout);
    await page.locator('#node-input-canary').waitFor();
    await save();
    const savedRollout = await read(rollout);
    assert.deepEqual([savedRollout.artifactName, savedRollout.fleet, savedRollout.canary, savedRollout.waveSize, savedRollout.valid], ['${ARTIFACT}', '${FLEET}', '${CANARY_SIZE}', '${WAVE_SIZE}', true]);

    const history = node('daily-report', 'messages');
    await edit(history);
    await page.locator('#node-input-selector').waitFor();
    assert.equal(await page.locator('#node-input-selector').isVisible(), true, 'the selector row shows in selector mode');
    await save();
    const savedHistory = await read(history);
    assert.deepEqual([savedHistory.deviceMode, savedHistory.selector, savedHistory.channel, savedHistory.valid], ['selector', '${SELECTOR}', '${CHANNEL}', true]);
    assert.deepEqual(problems, []);
  });
});
