import { chromium, type Browser, type Page } from 'playwright-core';

/** Debian's chromium: playwright-core downloads no browser, and .ci/run installs this one. */
export const CHROMIUM = '/usr/bin/chromium';

/** The browser is part of a browser test's setup: without it the test fails, it never skips. */
export async function launchChromium(): Promise<Browser> {
  try {
    return await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'] });
  } catch (err) {
    throw new Error(`Could not launch Chromium at ${CHROMIUM}. Install Debian's chromium (apt-get install -y chromium; .ci/run does this in CI).\n${(err as Error).message}`);
  }
}

/**
 * A new page with the Node-RED editor of `httpUrl`, logged in, once the Fieldflow palette is
 * loaded. Script errors on the page are pushed to `problems`.
 */
export async function openEditor(browser: Browser, httpUrl: string, password: string, problems: string[]): Promise<Page> {
  const page = await (await browser.newContext()).newPage();
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  page.on('console', (msg) => {
    // A refused request is logged as an error too, and is not a script error.
    if (msg.type() === 'error' && !/Failed to load resource/.test(msg.text())) problems.push(`console: ${msg.text()}`);
  });
  await page.goto(httpUrl);
  await page.locator('#node-dialog-login-username').fill('admin');
  await page.locator('#node-dialog-login-password').fill(password);
  await page.getByRole('button', { name: 'Login' }).click();
  await page.waitForFunction(() => {
    const RED = (window as any).RED;
    return RED?.nodes?.getType('notify in') && RED.workspaces.active();
  });
  return page;
}
