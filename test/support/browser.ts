import { chromium, type Browser } from 'playwright-core';

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
