import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import WebSocket from 'ws';
import { startServer, ADMIN_PASSWORD, type ServerProcess } from '../support/server';
import { hashToken } from '../../runtime/devices/tokens';

/** Log in to the editor through Node-RED's admin API, as the editor's login dialog does. */
function editorLogin(server: ServerProcess, password: string, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${server.httpUrl}/auth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams({ client_id: 'node-red-editor', grant_type: 'password', scope: '*', username: 'admin', password }),
  });
}

async function editorToken(server: ServerProcess, password = ADMIN_PASSWORD): Promise<{ access_token: string; expires_in: number; token_type: string }> {
  const res = await editorLogin(server, password);
  assert.equal(res.status, 200, await res.clone().text());
  return res.json();
}

function adminApi(server: ServerProcess, token: string, pathname = '/settings'): Promise<Response> {
  return fetch(`${server.httpUrl}${pathname}`, { headers: { authorization: `Bearer ${token}` } });
}

/** What the editor's comms WebSocket answers to a token (the editor authenticates it this way). */
function commsAuth(server: ServerProcess, token: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${server.httpPort}/comms`);
    const timer = setTimeout(() => (ws.terminate(), reject(new Error('no answer on /comms'))), 5000);
    ws.once('open', () => ws.send(JSON.stringify({ auth: token })));
    ws.once('message', (data) => {
      clearTimeout(timer);
      ws.close();
      resolve(JSON.parse(String(data)).auth);
    });
    ws.once('error', reject);
  });
}

function apiLogin(server: ServerProcess, password: string, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${server.apiUrl}/auth/token`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ username: 'admin', password }) });
}

describe('editor sessions', function () {
  this.timeout(90_000);
  let server: ServerProcess;

  afterEach(async function () {
    if (this.currentTest?.state === 'failed') process.stderr.write(`--- server output ---\n${server.output()}\n`);
    await server.stop();
  });

  it('keeps editor sessions only as hashes in an owner-only file, with the API token lifetime, and across a restart', async () => {
    server = await startServer({ env: { FIELDFLOW_TOKEN_TTL_HOURS: '2' } });
    const login = await editorToken(server);
    assert.equal(login.token_type, 'Bearer');
    assert.equal(login.expires_in, 7200);
    const settings = await adminApi(server, login.access_token);
    assert.equal(settings.status, 200);
    assert.equal((await settings.json()).user.username, 'admin');
    assert.equal(await commsAuth(server, login.access_token), 'ok');

    const sessionsFile = path.join(server.dataDir, 'node-red', '.sessions.json');
    assert.ok(!fs.existsSync(sessionsFile) || !fs.readFileSync(sessionsFile, 'utf8').includes(login.access_token), 'Node-RED keeps no session in clear');
    const tokensFile = path.join(server.dataDir, 'platform', 'tokens.db');
    const stored = fs.readFileSync(tokensFile, 'utf8');
    assert.ok(stored.includes(hashToken(login.access_token)), 'the session is stored as its hash');
    assert.ok(!stored.includes(login.access_token), 'and never in clear');
    assert.equal(fs.statSync(tokensFile).mode & 0o777, 0o600);

    // A session file an earlier version left in clear is not honoured after the upgrade.
    const legacy = 'legacy-clear-session-token';
    fs.writeFileSync(sessionsFile, JSON.stringify({ [legacy]: { user: 'admin', client: 'node-red-editor', scope: '*', accessToken: legacy, expires: Date.now() + 86_400_000 } }));
    await server.stop();
    server = await startServer({ dataDir: server.dataDir, env: { FIELDFLOW_TOKEN_TTL_HOURS: '2' } });
    assert.equal((await adminApi(server, login.access_token)).status, 200, 'still logged in after the restart');
    assert.equal(await commsAuth(server, login.access_token), 'ok');
    assert.equal((await adminApi(server, legacy)).status, 401);
    assert.equal(fs.existsSync(sessionsFile), false);
  });

  it('refuses the old editor and API tokens after a restart with a new admin password', async () => {
    server = await startServer();
    const editor = (await editorToken(server)).access_token;
    const api = ((await (await apiLogin(server, ADMIN_PASSWORD)).json()) as { token: string }).token;
    await server.stop();
    server = await startServer({ dataDir: server.dataDir, env: { FIELDFLOW_ADMIN_PASSWORD: 'a-brand-new-password' } });
    assert.equal((await adminApi(server, editor)).status, 401);
    assert.equal(await commsAuth(server, editor), 'fail');
    assert.equal((await fetch(`${server.apiUrl}/devices`, { headers: { authorization: `Bearer ${api}` } })).status, 401);
    assert.equal((await editorLogin(server, ADMIN_PASSWORD)).status, 403);
    assert.equal((await adminApi(server, (await editorToken(server, 'a-brand-new-password')).access_token)).status, 200);
  });

  it('ends the editor session on logout', async () => {
    server = await startServer();
    const token = (await editorToken(server)).access_token;
    const out = await fetch(`${server.httpUrl}/auth/revoke`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Bearer ${token}` },
      body: new URLSearchParams({ token }),
    });
    assert.equal(out.status, 200);
    assert.equal((await adminApi(server, token)).status, 401);
  });
});

describe('editor and API login limits', function () {
  this.timeout(90_000);
  let server: ServerProcess;

  afterEach(async function () {
    if (this.currentTest?.state === 'failed') process.stderr.write(`--- server output ---\n${server.output()}\n`);
    await server.stop();
  });

  it('locks out a guessing client behind a trusted proxy, but not the admin at another address', async () => {
    server = await startServer({ env: { FIELDFLOW_TRUST_PROXY: 'loopback', FIELDFLOW_MAX_FAILED_LOGINS: '3' } });
    const attacker = { 'x-forwarded-for': '203.0.113.7' };
    const admin = { 'x-forwarded-for': '198.51.100.2' };
    const statuses: number[] = [];
    for (let i = 0; i < 8; i++) statuses.push((await editorLogin(server, `guess-${i}`, attacker)).status);
    assert.deepEqual(statuses, [403, 403, 403, 429, 429, 429, 429, 429]);
    const locked = await editorLogin(server, ADMIN_PASSWORD, attacker);
    assert.equal(locked.status, 429);
    assert.ok(Number(locked.headers.get('retry-after')) > 0);
    // The REST API shares the limiter: the attacker is locked out there too.
    assert.equal((await apiLogin(server, ADMIN_PASSWORD, attacker)).status, 429);

    const real = await editorLogin(server, ADMIN_PASSWORD, admin);
    assert.equal(real.status, 200, await real.clone().text());
    assert.equal((await adminApi(server, ((await real.json()) as { access_token: string }).access_token)).status, 200);
    assert.equal((await apiLogin(server, ADMIN_PASSWORD, admin)).status, 200);
  });

  it('ignores X-Forwarded-For unless FIELDFLOW_TRUST_PROXY trusts the proxy', async () => {
    server = await startServer({ env: { FIELDFLOW_MAX_FAILED_LOGINS: '3' } });
    for (let i = 0; i < 3; i++) assert.equal((await apiLogin(server, `guess-${i}`, { 'x-forwarded-for': `203.0.113.${i}` })).status, 401);
    // Forged addresses do not buy more guesses: every attempt came from the same connection address.
    assert.equal((await apiLogin(server, ADMIN_PASSWORD, { 'x-forwarded-for': '198.51.100.2' })).status, 429);
    assert.equal((await editorLogin(server, ADMIN_PASSWORD, { 'x-forwarded-for': '198.51.100.3' })).status, 429);
  });
});
