import assert from 'node:assert/strict';
import { startServer, ADMIN_PASSWORD, type ServerProcess } from '../support/server';
import { deployFlows, editorToken } from '../support/nodered';

describe('editor response headers', function () {
  this.timeout(60_000);
  let server: ServerProcess;
  let token: string;
  const origin = { origin: 'https://elsewhere.example' };

  before(async () => {
    server = await startServer();
    token = await editorToken(server.httpUrl, ADMIN_PASSWORD);
  });
  afterEach(function () {
    if (this.currentTest?.state === 'failed') process.stderr.write(`--- server output ---\n${server.output()}\n`);
  });
  after(() => server.stop());

  it('lets only its own pages frame the editor and its admin API', async () => {
    for (const [pathname, headers] of [
      ['/', origin],
      ['/settings', { ...origin, authorization: `Bearer ${token}` }],
      ['/auth/login', origin],
    ] as const) {
      const res = await fetch(`${server.httpUrl}${pathname}`, { headers });
      assert.equal(res.status, 200, pathname);
      assert.equal(res.headers.get('x-frame-options'), 'SAMEORIGIN', pathname);
      assert.equal(res.headers.get('content-security-policy'), "frame-ancestors 'self'", pathname);
    }
  });

  it('allows no other origin to read the admin API, in a simple request or after a preflight', async () => {
    const read = await fetch(`${server.httpUrl}/flows`, { headers: { ...origin, authorization: `Bearer ${token}` } });
    assert.equal(read.status, 200);
    assert.equal(read.headers.get('access-control-allow-origin'), null);
    const preflight = await fetch(`${server.httpUrl}/flows`, {
      method: 'OPTIONS',
      headers: { ...origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization,content-type' },
    });
    assert.equal(preflight.headers.get('access-control-allow-origin'), null);
    assert.equal(preflight.headers.get('access-control-allow-methods'), null);
    assert.equal(preflight.headers.get('access-control-allow-headers'), null);
    const login = await fetch(`${server.httpUrl}/auth/login`, { headers: origin });
    assert.equal(login.headers.get('access-control-allow-origin'), null);
  });

  it("leaves the framing of flows' own HTTP endpoints to the flow", async () => {
    const tab = 'hdr0000000000001';
    await deployFlows(server.httpUrl, ADMIN_PASSWORD, [
      { id: tab, type: 'tab', label: 'headers' },
      { id: 'hdr0000000000002', z: tab, type: 'http in', url: '/page', method: 'get', wires: [['hdr0000000000003']] },
      { id: 'hdr0000000000003', z: tab, type: 'http response', statusCode: '200', headers: { 'content-type': 'text/html' }, wires: [] },
    ]);
    const res = await fetch(`${server.httpUrl}/page`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('x-frame-options'), null);
    assert.equal(res.headers.get('content-security-policy'), null);
  });
});
