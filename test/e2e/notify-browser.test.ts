import assert from 'node:assert/strict';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { launchChromium } from '../support/browser';
import { startServer, ADMIN_PASSWORD, type ServerProcess } from '../support/server';
import { Api } from '../support/http';
import { waitFor } from '../support/mqtt';

describe('the web push opt-in page, in a browser', function () {
  this.timeout(60_000);
  let server: ServerProcess;
  let browser: Browser | undefined;
  let context: BrowserContext | undefined;
  let pageUrl: string;
  /** Script errors and refusals (a CSP violation is one) in any page; a failed fetch is logged too, and is not one. */
  const problems: string[] = [];

  before(async () => {
    server = await startServer();
    // localhost, not 127.0.0.1: browsers treat it as a secure context, where service workers and push exist.
    pageUrl = `http://localhost:${server.httpPort}/notify/subscribe`;
    browser = await launchChromium();
  });
  afterEach(async function () {
    if (this.currentTest?.state === 'failed') process.stderr.write(`--- server output ---\n${server.output()}\n`);
    await context?.close();
    context = undefined;
  });
  after(async () => {
    await browser?.close();
    const code = await server.stop();
    assert.equal(code, 0, `server did not exit cleanly:\n${server.output()}`);
  });

  async function openPage(permissions: string[] = []): Promise<Page> {
    // An empty list is not neutral: Playwright then reports every permission as denied.
    context = await browser!.newContext(permissions.length > 0 ? { permissions } : {});
    const page = await context.newPage();
    page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
    page.on('console', (msg) => {
      if (msg.type() === 'error' && !/Failed to load resource/.test(msg.text())) problems.push(`console: ${msg.text()}`);
    });
    await page.goto(pageUrl);
    return page;
  }

  async function logIn(page: Page, password: string): Promise<void> {
    await page.locator('#username').fill('admin');
    await page.locator('#password').fill(password);
    await page.locator('#login-button').click();
  }

  it('serves the page, its script, style and service worker with their types, no-cache and a strict CSP', async () => {
    const expected: [string, string][] = [
      ['subscribe', 'text/html; charset=utf-8'],
      ['subscribe.js', 'text/javascript; charset=utf-8'],
      ['subscribe.css', 'text/css; charset=utf-8'],
      ['sw.js', 'text/javascript; charset=utf-8'],
    ];
    for (const [file, type] of expected) {
      const res = await fetch(`${server.httpUrl}/notify/${file}`);
      assert.equal(res.status, 200, file);
      assert.equal(res.headers.get('content-type'), type, file);
      assert.equal(res.headers.get('cache-control'), 'no-cache', file);
      assert.match(res.headers.get('content-security-policy') ?? '', /(^|;\s*)default-src 'self'(;|$)/, file);
      assert.equal(res.headers.get('x-content-type-options'), 'nosniff', file);
    }
    const html = await (await fetch(`${server.httpUrl}/notify/subscribe`)).text();
    assert.doesNotMatch(html, /<script>|<style|\son[a-z]+=|https?:\/\//i, 'the page must work under its own CSP, offline');
  });

  it('answers 404 for anything else under /notify/', async () => {
    for (const path of ['/notify/', '/notify/nope.js', '/notify/subscribe/', '/notify/subscribe.html', '/notify/%2e%2e/package.json']) {
      const res = await fetch(`${server.httpUrl}${path}`);
      assert.equal(res.status, 404, path);
    }
    assert.equal((await fetch(`${server.httpUrl}/notify/subscribe`, { method: 'POST' })).status, 404);
  });

  it("shows the problem's detail and code when the password is wrong, and stays logged out", async () => {
    const page = await openPage();
    await logIn(page, 'not-the-password');
    const error = page.locator('#login-error');
    await error.waitFor({ state: 'visible' });
    assert.equal(await error.textContent(), 'Wrong username or password (FF_AUTH_INVALID)');
    assert.equal(await page.locator('#device').isHidden(), true);
    assert.equal(await page.evaluate(() => sessionStorage.length), 0);
    assert.deepEqual(problems, []);
  });

  it('logs in through the form and registers its service worker with the /notify/ scope', async () => {
    const page = await openPage();
    assert.equal(await page.locator('#login').isVisible(), true);
    await logIn(page, ADMIN_PASSWORD);
    await page.locator('#device').waitFor({ state: 'visible' });
    assert.equal(await page.locator('#user').textContent(), 'admin');
    assert.equal(await page.locator('#push-support').textContent(), 'yes');
    assert.equal(await page.locator('#permission').textContent(), 'not asked yet');
    assert.equal(await page.locator('#enable').isEnabled(), true);

    const registration = await page.evaluate(async () => {
      const ready = await navigator.serviceWorker.ready;
      return { scope: ready.scope, script: ready.active?.scriptURL, state: ready.active?.state };
    });
    assert.equal(registration.scope, `http://localhost:${server.httpPort}/notify/`);
    assert.equal(registration.script, `http://localhost:${server.httpPort}/notify/sw.js`);
    await page.locator('#sw-state', { hasText: 'activated' }).waitFor();

    // The session lives in this tab: a reload keeps it, with a token the REST API takes.
    await page.reload();
    await page.locator('#device').waitFor({ state: 'visible' });
    const token = await page.evaluate(() => JSON.parse(sessionStorage.getItem('fieldflow.notify.session') ?? '{}').token);
    assert.equal((await new Api(server.apiUrl, token).get('/devices')).status, 200);
    assert.deepEqual(problems, []);
  });

  it('shows a pushed JSON message as a notification with its title, body, tag and link, and a text message as the body', async () => {
    const page = await openPage(['notifications']);
    const origin = new URL(pageUrl).origin;
    // DevTools delivers a push event straight to the worker, as the browser does when its push service has one.
    const cdp = await context!.newCDPSession(page);
    const registrations: { registrationId: string; scopeURL: string; isDeleted: boolean }[] = [];
    cdp.on('ServiceWorker.workerRegistrationUpdated', (e) => registrations.push(...e.registrations));
    cdp.on('ServiceWorker.workerErrorReported', (e) => problems.push(`service worker: ${e.errorMessage.errorMessage}`));
    await cdp.send('ServiceWorker.enable');
    await logIn(page, ADMIN_PASSWORD);
    await page.locator('#sw-state', { hasText: 'activated' }).waitFor();
    const registration = registrations.find((r) => r.scopeURL === `${origin}/notify/` && !r.isDeleted);
    assert.ok(registration, JSON.stringify(registrations));
    const deliver = (data: string) => cdp.send('ServiceWorker.deliverPushMessage', { origin, registrationId: registration.registrationId, data });
    let shown: { title: string; body: string; tag: string; url: string }[] = [];
    const showing = (n: number, timeoutMs?: number) =>
      waitFor(
        `${n} notification(s)`,
        async () => {
          shown = await page.evaluate(async () =>
            (await (await navigator.serviceWorker.ready).getNotifications()).map((n) => ({ title: n.title, body: n.body, tag: n.tag, url: n.data?.url })),
          );
          return shown.length === n;
        },
        timeoutMs,
      );
    // DevTools' deliverPushMessage now and then drops a message sent soon after another (1 run in 5, whichever
    // payload is second; the worker reports no error). A push service retries; so does this, once.
    const push = async (data: string, n: number) => {
      await deliver(data);
      if (await showing(n, 3000).then(() => true, () => false)) return;
      await deliver(data);
      await showing(n).catch((err) => {
        throw new Error(`${err.message}; shown: ${JSON.stringify(shown)}; problems: ${JSON.stringify(problems)}`);
      });
    };
    await push(JSON.stringify({ title: 'pump-1: temperature high', body: '92 °C', url: '/alarms/7', tag: 'alarm-7' }), 1);
    await push('plain words', 2);
    assert.deepEqual(
      shown.sort((a, b) => a.title.localeCompare(b.title)),
      [
        { title: 'Fieldflow', body: 'plain words', tag: '', url: `${origin}/` },
        { title: 'pump-1: temperature high', body: '92 °C', tag: 'alarm-7', url: `${origin}/alarms/7` },
      ],
    );
    assert.deepEqual(problems, []);
  });

  it('logs out: the login form is back, the session is gone and its token is revoked', async () => {
    const page = await openPage();
    await logIn(page, ADMIN_PASSWORD);
    await page.locator('#device').waitFor({ state: 'visible' });
    const token = await page.evaluate(() => JSON.parse(sessionStorage.getItem('fieldflow.notify.session') ?? '{}').token);
    await page.locator('#logout').click();
    await page.locator('#login').waitFor({ state: 'visible' });
    assert.equal(await page.evaluate(() => sessionStorage.length), 0);
    const api = new Api(server.apiUrl, token);
    await waitFor('the token to be revoked', async () => (await api.get('/devices')).status === 401);
    assert.deepEqual(problems, []);
  });
});
