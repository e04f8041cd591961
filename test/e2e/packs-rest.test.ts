import assert from 'node:assert/strict';
import { startServer, ADMIN_PASSWORD, type ServerProcess } from '../support/server';
import { deployFlows, editorToken } from '../support/nodered';
import { waitFor } from '../support/mqtt';
import type { Api } from '../support/http';
import { assertProblem } from '../unit/api/problems';
import { packNodeId } from '../../runtime/packs/ids';

/** A small pack: an http endpoint that answers with the THRESHOLD parameter, through a change node (`${THRESHOLD}`) and a function (`env.get`). */
function pack(version: string, extra: Array<Record<string, unknown>> = []) {
  return {
    manifest: { id: 'com.example.echo', name: 'Echo', version, description: 'answers with its threshold', author: 'tests', requires: { fieldflow: '>=0.1.0', nodes: ['http in', 'change', 'function', 'http response'] } },
    parameters: { type: 'object', properties: { THRESHOLD: { type: 'number', title: 'Threshold', default: 50 } } },
    flows: [
      { id: 't1', type: 'tab', label: 'Echo' },
      { id: 'in', z: 't1', x: 100, y: 40, type: 'http in', url: '/echo', method: 'get', wires: [['chg']] },
      { id: 'chg', z: 't1', x: 260, y: 40, type: 'change', rules: [{ t: 'set', p: 'threshold', pt: 'msg', to: '${THRESHOLD}', tot: 'num' }], wires: [['fn']] },
      { id: 'fn', z: 't1', x: 420, y: 40, type: 'function', func: `msg.payload = { version: '${version}', fromChange: msg.threshold, fromEnv: env.get('THRESHOLD') }; return msg;`, outputs: 1, wires: [['out']] },
      { id: 'out', z: 't1', x: 580, y: 40, type: 'http response', statusCode: '200', wires: [] },
      ...extra,
    ],
  };
}

describe('flow packs over REST, against the real server and its Node-RED', function () {
  this.timeout(60_000);
  let server: ServerProcess;
  let admin: Api;
  let token: string;
  /** The user's own flow as deployed before any pack (with the deploy helper's sentinel nodes). */
  let mineIds: string[];

  before(async () => {
    server = await startServer();
    admin = await server.admin();
    token = await editorToken(server.httpUrl, ADMIN_PASSWORD);
    // A flow of the user's own, which no pack operation may touch.
    await deployFlows(server.httpUrl, ADMIN_PASSWORD, [
      { id: 'mine', type: 'tab', label: 'Mine' },
      { id: 'mine-in', z: 'mine', type: 'http in', url: '/mine', method: 'get', wires: [['mine-out']] },
      { id: 'mine-out', z: 'mine', type: 'http response', statusCode: '204', wires: [] },
    ]);
    mineIds = await mine();
  });
  after(() => server?.stop());

  const flows = async () => (await (await fetch(`${server.httpUrl}/flows`, { headers: { authorization: `Bearer ${token}`, 'Node-RED-API-Version': 'v2' } })).json()) as { rev: string; flows: any[] };
  const echo = () =>
    waitFor('the pack flow answers', async () => {
      const r = await fetch(`${server.httpUrl}/echo`, { signal: AbortSignal.timeout(2000) }).catch(() => null);
      return r?.status === 200 && ((await r.json()) as any);
    });
  const mine = () => flows().then((f) => f.flows.filter((n) => n.id === 'mine' || n.z === 'mine').map((n) => n.id).sort());

  it('imports, upgrades in place, refuses to overwrite edits without force, rolls back and removes, leaving other flows alone', async () => {
    const dry = await admin.post('/packs/dry-run', { pack: pack('1.0.0'), params: { THRESHOLD: '80' } });
    assert.equal(dry.status, 200, JSON.stringify(dry.body));
    assert.deepEqual([dry.body.from, dry.body.to, dry.body.diff.tabs.added, dry.body.diff.nodes.added], [null, '1.0.0', ['Echo'], 4]);
    assert.equal((await flows()).flows.filter((n) => n.type === 'tab').length, 1, 'a dry run deploys nothing');

    const first = await admin.post('/packs', { pack: pack('1.0.0'), params: { THRESHOLD: '80' } });
    assert.equal(first.status, 201, JSON.stringify(first.body));
    assert.deepEqual([first.body.version, first.body.params, first.body.nodes], ['1.0.0', { THRESHOLD: 80 }, 5]);
    assert.deepEqual(await echo(), { version: '1.0.0', fromChange: 80, fromEnv: 80 });
    const ids1 = (await flows()).flows.filter((n) => !mineIds.includes(n.id)).map((n) => n.id).sort();
    assert.equal(ids1.length, 5);

    const upgraded = await admin.post('/packs', { pack: pack('1.1.0'), params: { THRESHOLD: 90 } });
    assert.equal(upgraded.status, 200, JSON.stringify(upgraded.body));
    await waitFor('1.1.0 runs', async () => (await echo()).version === '1.1.0');
    const after = await flows();
    const ids2 = after.flows.filter((n) => !mineIds.includes(n.id)).map((n) => n.id).sort();
    assert.deepEqual(ids2, ids1, 'the same node ids, no more: upgraded in place');
    assert.equal(after.flows.filter((n) => n.type === 'tab').length, 2, 'no duplicate tab');
    assert.deepEqual(await mine(), mineIds);

    // A user edits a node inside the pack's tab, as the editor would.
    const edited = after.flows.map((n) => (n.type === 'function' ? { ...n, name: 'my tweak' } : n));
    const deploy = await fetch(`${server.httpUrl}/flows`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, 'Node-RED-API-Version': 'v2', 'Node-RED-Deployment-Type': 'full' }, body: JSON.stringify({ rev: after.rev, flows: edited }) });
    assert.equal(deploy.status, 200);
    const plan = await admin.post('/packs/dry-run', { pack: pack('1.2.0') });
    assert.equal(plan.body.modified, true);
    assertProblem(await admin.post('/packs', { pack: pack('1.2.0') }), 409, 'FF_PACK_MODIFIED');
    assert.equal((await echo()).version, '1.1.0', 'refused: still running what was there');
    const forced = await admin.post('/packs', { pack: pack('1.2.0'), force: true });
    assert.equal(forced.status, 200, JSON.stringify(forced.body));
    await waitFor('1.2.0 runs', async () => (await echo()).version === '1.2.0');
    assert.equal((await echo()).fromEnv, 50, 'the default, as no parameters were given');

    assertProblem(await admin.post('/packs', { pack: pack('1.0.5') }), 409, 'FF_PACK_DOWNGRADE');
    const rolled = await admin.post('/packs/com.example.echo/rollback');
    assert.equal(rolled.status, 200, JSON.stringify(rolled.body));
    assert.deepEqual([rolled.body.version, rolled.body.params], ['1.1.0', { THRESHOLD: 90 }]);
    await waitFor('1.1.0 runs again', async () => (await echo()).version === '1.1.0');
    assert.deepEqual((await admin.get('/packs')).body.items.map((p: any) => [p.id, p.version]), [['com.example.echo', '1.1.0']]);

    const removed = await admin.delete('/packs/com.example.echo');
    assert.deepEqual([removed.status, removed.body], [200, { id: 'com.example.echo', kept: [] }]);
    const gone = await flows();
    assert.deepEqual(gone.flows.map((n) => n.id).sort(), mineIds, 'only the user flow is left');
    assertProblem(await admin.get('/packs/com.example.echo'), 404, 'FF_PACK_NOT_FOUND');
  });

  it('refuses bad packs with a specific error, and the running flows stay exactly as they were', async () => {
    const before = await flows();
    const post = (body: unknown, raw = false) => (raw ? admin.post('/packs', body as string) : admin.post('/packs', body));
    assertProblem(await post('{"pack": ', true), 400, 'FF_MALFORMED_JSON');
    const bad = pack('1.0.0') as any;
    bad.manifest.version = 'one';
    assertProblem(await post({ pack: bad }), 400, 'FF_INVALID_PACK');
    assertProblem(await post({ pack: pack('1.0.0'), params: { THRESHOLD: 'lots' } }), 400, 'FF_INVALID_PACK_PARAMETERS');
    const missing = await post({ pack: pack('1.0.0', [{ id: 'x', z: 't1', x: 1, y: 1, type: 'no-such-node', wires: [] }]) });
    assertProblem(missing, 422, 'FF_MISSING_NODE_TYPES');
    assert.match(missing.body.detail, /no-such-node/);
    assertProblem(await post({ pack: pack('1.0.0', [{ id: 'fn', z: 't1', x: 1, y: 1, type: 'comment' }]) }), 400, 'FF_DUPLICATE_NODE_ID');
    assertProblem(await post({ pack: { ...pack('1.0.0'), padding: 'x'.repeat(6 * 1024 * 1024) } }), 413, 'FF_PACK_TOO_LARGE');
    const after = await flows();
    assert.equal(after.rev, before.rev, 'nothing was deployed');
    assert.deepEqual((await admin.get('/packs')).body.items, []);
  });

  it('refuses a pack whose node ids would land on nodes that are not its own', async () => {
    // A user node that happens to have the id the pack's function node derives to.
    const taken = packNodeId('com.example.echo', 'fn');
    const current = await flows();
    const withClash = [...current.flows, { id: taken, z: 'mine', type: 'comment', name: 'not the pack', x: 10, y: 10, wires: [] }];
    const deploy = await fetch(`${server.httpUrl}/flows`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, 'Node-RED-API-Version': 'v2', 'Node-RED-Deployment-Type': 'full' }, body: JSON.stringify({ rev: current.rev, flows: withClash }) });
    assert.equal(deploy.status, 200);
    const before = await flows();
    const refused = await admin.post('/packs', { pack: pack('1.0.0') });
    assertProblem(refused, 409, 'FF_PACK_ID_CONFLICT');
    assert.match(refused.body.detail, new RegExp(taken));
    assert.equal((await flows()).rev, before.rev, 'nothing was deployed');
    assert.equal((await flows()).flows.find((n) => n.id === taken).name, 'not the pack');
  });
});
