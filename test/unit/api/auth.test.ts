import assert from 'node:assert/strict';
import { startApiServer, type ApiServer } from '../../support/api-server';
import { Api } from '../../support/http';
import { assertProblem } from './problems';

describe('REST API authentication', () => {
  let s: ApiServer;
  beforeEach(async () => (s = await startApiServer({ auth: { maxFailedLogins: 3, loginWindowSeconds: 60 } })));
  afterEach(() => s.close());

  it('closes every endpoint but health, errors and OpenAPI to anonymous callers', async () => {
    assertProblem(await s.anonymous.get('/devices'), 401, 'FF_AUTH_REQUIRED');
    assertProblem(await s.anonymous.post('/devices', { name: 'x' }), 401, 'FF_AUTH_REQUIRED');
    assertProblem(await s.anonymous.get('/devices/x/channels/y/messages'), 401, 'FF_AUTH_REQUIRED');
    assertProblem(await s.anonymous.get('/no/such/route'), 404, 'FF_NOT_FOUND');
    for (const path of ['/health', '/errors', '/openapi.json']) assert.equal((await s.anonymous.get(path)).status, 200, path);
  });

  it('issues a token for the right password and refuses a wrong one', async () => {
    const ok = await s.anonymous.post('/auth/token', { username: 'admin', password: 'test-admin-password' });
    assert.equal(ok.status, 200);
    assert.match(ok.body.token, /^ffu_/);
    assert.ok(Date.parse(ok.body.expiresAt) > Date.now());
    assertProblem(await s.anonymous.post('/auth/token', { username: 'admin', password: 'nope' }), 401, 'FF_AUTH_INVALID');
    assertProblem(await s.anonymous.post('/auth/token', { username: 'root', password: 'nope' }), 401, 'FF_AUTH_INVALID');
    assertProblem(await s.anonymous.post('/auth/token', { username: 'admin' }), 400, 'FF_VALIDATION');
  });

  it('stops a client after repeated failed logins with 429 and Retry-After', async () => {
    for (let i = 0; i < 3; i++) await s.anonymous.post('/auth/token', { username: 'admin', password: `wrong${i}` });
    const r = await s.anonymous.post('/auth/token', { username: 'admin', password: 'test-admin-password' });
    assertProblem(r, 429, 'FF_TOO_MANY_ATTEMPTS');
    assert.ok(Number(r.headers.get('retry-after')) > 0);
  });

  it('rejects unknown, malformed and revoked tokens', async () => {
    assertProblem(await new Api(s.url, 'ffu_made-up').get('/devices'), 401, 'FF_AUTH_INVALID');
    assertProblem(await s.anonymous.get('/devices', { authorization: 'Basic YWRtaW46eA==' }), 401, 'FF_AUTH_INVALID');
    const api = new Api(s.url);
    await api.login('admin', 'test-admin-password');
    assert.equal((await api.get('/devices')).status, 200);
    assert.equal((await api.delete('/auth/token')).status, 204);
    assertProblem(await api.get('/devices'), 401, 'FF_AUTH_INVALID');
  });

  it('revokes every session of the caller with DELETE /auth/tokens, editor sessions included', async () => {
    const other = new Api(s.url);
    await other.login('admin', 'test-admin-password');
    const editor = (await s.platform.auth.login('admin', 'test-admin-password', '127.0.0.1', 'node-red-editor')).token;
    const r = await other.delete('/auth/tokens');
    assert.equal(r.status, 200);
    assert.equal(r.body.revoked, 3);
    assertProblem(await other.get('/devices'), 401, 'FF_AUTH_INVALID');
    assertProblem(await s.admin.get('/devices'), 401, 'FF_AUTH_INVALID');
    assert.equal(s.platform.auth.verifyToken(editor), null);
    assertProblem(await other.delete('/auth/tokens'), 401, 'FF_AUTH_INVALID');
  });

  it('does not accept a device token where a user token is needed', async () => {
    const created = await s.admin.post('/devices', { name: 'd' });
    assertProblem(await new Api(s.url, created.body.token).get('/devices'), 403, 'FF_FORBIDDEN');
  });
});
