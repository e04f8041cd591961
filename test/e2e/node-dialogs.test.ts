import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { launchChromium, openEditor } from '../support/browser';
import { startServer, ADMIN_PASSWORD, type ServerProcess } from '../support/server';

/** The palette's node types, from the module's own manifest (what Node-RED loads). */
const PALETTE = JSON.parse(fs.readFileSync(path.resolve(__dirname, '..', '..', 'nodes', 'package.json'), 'utf8'));
const TYPES = Object.keys(PALETTE['node-red'].nodes).map((name) => name.replace(/-/g, ' '));

describe('every Fieldflow node dialog and its help, in the real editor', function () {
  this.timeout(120_000);
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

  it('knows all fourteen palette types', () => {
    assert.equal(TYPES.length, 14);
  });

  TYPES.forEach((type, i) => {
    it(`opens the ${type} dialog from the workspace, with its fields and help, and closes it without a script error`, async () => {
      const id = `e2edialog00000${i.toString(16).padStart(2, '0')}`;
      const known = await page.evaluate((t) => Boolean((window as any).RED.nodes.getType(t)), type);
      assert.equal(known, true, `${type} is registered in the editor`);
      await page.evaluate(([nodeId, nodeType]) => (window as any).RED.view.importNodes([{ id: nodeId, type: nodeType, x: 200, y: 80, wires: [] }]), [id, type]);
      await page.evaluate((nodeId) => (window as any).RED.editor.edit((window as any).RED.nodes.node(nodeId)), id);
      const dialog = page.locator('.red-ui-tray');
      await dialog.locator('#node-input-name').waitFor({ state: 'visible', timeout: 15_000 });
      assert.ok((await dialog.locator('input, select, textarea').count()) > 1, `${type} shows its fields`);
      await page.locator('#node-dialog-cancel').click();
      await page.locator('#node-dialog-cancel').waitFor({ state: 'detached' });
      const help = await page.evaluate((t) => (window as any).RED.nodes.getNodeHelp(t) as string, type);
      assert.match(help, /<h3>Inputs<\/h3>|<h3>Outputs<\/h3>/, `${type} documents its inputs or outputs`);
      assert.match(help, /<h3>Details<\/h3>/, `${type} has details`);
      assert.deepEqual(problems, []);
    });
  });
});
