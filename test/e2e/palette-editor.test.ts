import assert from 'node:assert/strict';
import type { Browser, Page } from 'playwright-core';
import { launchChromium, openEditor } from '../support/browser';
import { startServer, ADMIN_PASSWORD, type ServerProcess } from '../support/server';

const DEVICE = '0b0e7a1c-3f4d-4b5e-9a6f-7c8d9e0f1a2b';

describe('the device choice in the palette node dialogs, in the real editor', function () {
  this.timeout(60_000);
  let server: ServerProcess;
  let browser: Browser | undefined;
  let page: Page;
  const problems: string[] = [];

  before(async () => {
    server = await startServer();
    browser = await launchChromium();
    page = await openEditor(browser, server.httpUrl, ADMIN_PASSWORD, problems);
  });
  after(async () => {
    await browser?.close();
    await server.stop();
  });

  ['channel in', 'device status', 'alarm in', 'device trigger'].forEach((type, i) => {
    it(`shows the row for the chosen mode in the ${type} dialog and saves the device it names`, async () => {
      const id = `e2e0000000000b${i}`;
      await page.evaluate(
        ([nodeId, nodeType]) => (window as any).RED.view.importNodes([{ id: nodeId, type: nodeType, deviceMode: 'selector', selector: 'site=north', channel: 'telemetry', path: 'temp', threshold: '30', x: 200, y: 100, wires: [[]] }]),
        [id, type],
      );
      await page.evaluate((nodeId) => (window as any).RED.editor.edit((window as any).RED.nodes.node(nodeId)), id);
      const device = page.locator('.ff-scope-device');
      const selector = page.locator('.ff-scope-selector');
      await selector.waitFor();
      assert.equal(await page.locator('#node-input-selector').inputValue(), 'site=north');
      assert.deepEqual([await device.isVisible(), await selector.isVisible()], [false, true]);
      await page.locator('#node-input-deviceMode').selectOption('id');
      assert.deepEqual([await device.isVisible(), await selector.isVisible()], [true, false]);
      await page.locator('#node-input-device').fill(DEVICE);
      await page.locator('#node-dialog-ok').click();
      await page.locator('#node-dialog-ok').waitFor({ state: 'detached' });
      const saved = await page.evaluate((nodeId) => {
        const n = (window as any).RED.nodes.node(nodeId);
        return { deviceMode: n.deviceMode, device: n.device, valid: n.valid, label: n._def.label.call(n) };
      }, id);
      assert.deepEqual([saved.deviceMode, saved.device, saved.valid], ['id', DEVICE, true]);
      // device trigger labels itself by what it watches, not where.
      if (type !== 'device trigger') assert.match(saved.label, new RegExp(DEVICE.slice(0, 8)));
      const invalid = await page.evaluate((nodeId) => {
        const RED = (window as any).RED;
        const n = RED.nodes.node(nodeId);
        n.device = 'not-a-uuid';
        RED.editor.validateNode(n);
        return n.valid;
      }, id);
      assert.equal(invalid, false, 'an id that is not a UUID is flagged');
      assert.deepEqual(problems, []);
    });
  });
});
