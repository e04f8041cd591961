import assert from 'node:assert/strict';
import type { Browser } from 'playwright-core';
import { launchChromium, openEditor } from '../support/browser';
import { startServer, ADMIN_PASSWORD, type ServerProcess } from '../support/server';

describe("the editor shows Fieldflow's face, in the real editor", function () {
  this.timeout(60_000);
  let server: ServerProcess;
  let browser: Browser | undefined;
  const problems: string[] = [];

  before(async () => {
    server = await startServer();
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    await server.stop();
  });

  it("shows Fieldflow's logo on the login box and in the header, and no Node-RED logo", async () => {
    const page = await (await browser!.newContext()).newPage();
    await page.goto(server.httpUrl);
    await page.locator('#node-dialog-login-username').waitFor();
    const images = await page.evaluate(() =>
      Array.from(document.querySelectorAll('img')).filter((img) => img.offsetParent !== null).map((img) => img.src),
    );
    assert.ok(images.length >= 2, `the login box and the header show images: ${images.join(', ')}`);
    for (const src of images) {
      const svg = await (await fetch(src)).text();
      assert.match(svg, /<title>Fieldflow<\/title>/, `${src} is Fieldflow's image`);
      assert.doesNotMatch(svg, /node-red/i);
    }
  });

  it('gives each Fieldflow sidebar a visible tab button that opens it', async () => {
    const page = await openEditor(browser!, server.httpUrl, ADMIN_PASSWORD, problems);
    for (const [id, content, name] of [
      ['fieldflow-notifications', '.ff-notif', 'Notifications'],
      ['fieldflow-ota', '.ff-ota', 'OTA'],
      ['fieldflow-packs', '.ff-packs', 'Packs'],
    ]) {
      const button = page.locator(`button[data-tab-id="${id}"]`);
      assert.equal(await button.isVisible(), true, `the ${name} tab button is visible`);
      assert.equal(await button.getAttribute('aria-label'), name);
      await button.click();
      await page.locator(content).waitFor({ state: 'visible', timeout: 10_000 });
    }
    assert.deepEqual(problems, []);
  });
});
