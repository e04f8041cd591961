import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { startServer, ADMIN_PASSWORD, type ServerProcess } from '../support/server';
import { editorToken } from '../support/nodered';
import { waitFor } from '../support/mqtt';
import { startWebhookReceiver, type WebhookReceiver } from '../support/receivers';
import type { Api } from '../support/http';
import { assertProblem } from '../unit/api/problems';
import { packResourceId } from '../../runtime/packs/resources';

const PACK_ID = 'com.example.ping';

/** A pack with one of each resource: a webhook endpoint its notify node sends to, a subscription, a stored schedule and a model. */
function pack(version: string, edit: (p: any) => void = () => undefined) {
  const p: any = {
    manifest: { id: PACK_ID, name: 'Ping', version, requires: { fieldflow: '>=0.1.0', nodes: ['http in', 'notify', 'http response', 'schedule'] } },
    parameters: { type: 'object', required: ['HOOK_URL'], properties: { HOOK_URL: { type: 'string', format: 'uri' }, SITE: { type: 'string', default: 'north' } } },
    flows: [
      { id: 'tab', type: 'tab', label: 'Ping' },
      { id: 'in', z: 'tab', x: 100, y: 40, type: 'http in', url: '/pack-ping', method: 'post', wires: [['send']] },
      { id: 'send', z: 'tab', x: 260, y: 40, type: 'notify', name: 'ping the hook', mode: 'endpoints', endpoints: ['hook'], subject: 'ping', body: 'ping from {{site}}', html: '', severity: '', wires: [['out']] },
      { id: 'out', z: 'tab', x: 420, y: 40, type: 'http response', statusCode: '202', wires: [] },
      { id: 'nightly-node', z: 'tab', x: 100, y: 120, type: 'schedule', mode: 'stored', scheduleName: 'pack-nightly', cron: '', timezone: '', payload: '', payloadType: 'date', wires: [[]] },
    ],
    endpoints: [{ id: 'hook', name: 'Ping hook ${SITE}', type: 'webhook', config: { url: '${HOOK_URL}' } }],
    subscriptions: [{ id: 'sub', name: 'Ping events', events: ['Custom'], customNames: ['pack-ping'], endpoints: ['hook'] }],
    schedules: [{ id: 'nightly', name: 'pack-nightly', cron: '0 3 * * *', timezone: 'UTC' }],
    models: [{ id: 'pump', name: 'pack-pump', description: 'A pump', configSchema: { type: 'object', properties: { rate: { type: 'integer' } } } }],
  };
  edit(p);
  return p;
}

describe('flow pack resources (models, endpoints, subscriptions, schedules), against the real server', function () {
  this.timeout(60_000);
  let server: ServerProcess;
  let admin: Api;
  let token: string;
  let hook: WebhookReceiver;
  const params = () => ({ HOOK_URL: hook.url });
  const id = (local: string) => packResourceId(PACK_ID, local);

  before(async () => {
    hook = await startWebhookReceiver();
    server = await startServer({ env: { FIELDFLOW_NOTIFY_ALLOW_PRIVATE: '127.0.0.1' } });
    admin = await server.admin();
    token = await editorToken(server.httpUrl, ADMIN_PASSWORD);
  });
  after(async () => {
    await server?.stop();
    await hook?.close();
  });

  const rev = async () => ((await (await fetch(`${server.httpUrl}/flows`, { headers: { authorization: `Bearer ${token}`, 'Node-RED-API-Version': 'v2' } })).json()) as { rev: string }).rev;
  const state = async () => ({
    endpoints: (await admin.get('/notifications/endpoints')).body.items.map((e: any) => `${e.id} ${e.name}`).sort(),
    subscriptions: (await admin.get('/notifications/subscriptions')).body.items.map((s: any) => `${s.id} ${s.name}`).sort(),
    schedules: (await admin.get('/schedules')).body.items.map((s: any) => `${s.id} ${s.name} ${s.cron}`).sort(),
    models: (await admin.get('/models')).body.items.map((m: any) => m.name).sort(),
  });

  it('creates the resources with the pack, points its flows at them, updates them in place on upgrade and deletes the ones a version drops', async () => {
    const dry = await admin.post('/packs/dry-run', { pack: pack('1.0.0'), params: params() });
    assert.equal(dry.status, 200, JSON.stringify(dry.body));
    assert.deepEqual(dry.body.resources.added.map((r: any) => `${r.kind}:${r.name}`), ['models:pack-pump', 'endpoints:Ping hook north', 'schedules:pack-nightly', 'subscriptions:Ping events']);
    assert.deepEqual(await state(), { endpoints: [], subscriptions: [], schedules: [], models: [] }, 'a dry run creates nothing');

    const first = await admin.post('/packs', { pack: pack('1.0.0'), params: params() });
    assert.equal(first.status, 201, JSON.stringify(first.body));
    assert.deepEqual(await state(), {
      endpoints: [`${id('hook')} Ping hook north`],
      subscriptions: [`${id('sub')} Ping events`],
      schedules: [`${id('nightly')} pack-nightly 0 3 * * *`],
      models: ['pack-pump'],
    });
    const sub = (await admin.get(`/notifications/subscriptions/${id('sub')}`)).body;
    assert.deepEqual(sub.endpoints, [id('hook')], "the subscription sends to the pack's endpoint");
    assert.equal((await admin.get(`/notifications/endpoints/${id('hook')}`)).body.config.url, hook.url, 'the parameter reached the endpoint');

    // The pack's notify node sends to the pack's endpoint.
    await waitFor('the pack flow answers', async () => (await fetch(`${server.httpUrl}/pack-ping`, { method: 'POST', signal: AbortSignal.timeout(2000) }).catch(() => null))?.status === 202);
    const [call] = await hook.waitFor(1);
    assert.match(call.raw, /ping/);

    const v2 = pack('2.0.0', (p) => {
      p.schedules[0].cron = '0 4 * * *';
      delete p.subscriptions;
    });
    const plan = await admin.post('/packs/dry-run', { pack: v2, params: params() });
    assert.deepEqual(plan.body.resources, { added: [], changed: [{ kind: 'schedules', name: 'pack-nightly' }], removed: [{ kind: 'subscriptions', name: 'Ping events' }] });
    assert.equal((await admin.post('/packs', { pack: v2, params: params() })).status, 200);
    assert.deepEqual(await state(), { endpoints: [`${id('hook')} Ping hook north`], subscriptions: [], schedules: [`${id('nightly')} pack-nightly 0 4 * * *`], models: ['pack-pump'] });

    const back = await admin.post(`/packs/${PACK_ID}/rollback`, {});
    assert.equal(back.status, 200, JSON.stringify(back.body));
    assert.deepEqual((await state()).subscriptions, [`${id('sub')} Ping events`], 'rollback brings the subscription back with the same id');
    assert.deepEqual((await state()).schedules, [`${id('nightly')} pack-nightly 0 3 * * *`]);
  });

  it('keeps a secret parameter sealed: not in views, tab env, export or the data files, yet the endpoint signs with it, also after an upgrade that does not repeat it', async () => {
    const withSecret = (version: string) =>
      pack(version, (p) => {
        p.manifest.id = 'com.example.secret';
        p.parameters.properties.HOOK_SECRET = { type: 'string', minLength: 8, writeOnly: true };
        p.endpoints[0].name = 'Signed hook';
        p.endpoints[0].credentials = { secret: '${HOOK_SECRET}' };
        p.flows[1].url = '/pack-signed';
        delete p.subscriptions;
        delete p.schedules;
        delete p.models;
        p.flows = p.flows.filter((n: any) => n.type !== 'schedule');
      });
    const secret = 'pack-signing-secret-123';
    const dry = await admin.post('/packs/dry-run', { pack: withSecret('1.0.0'), params: { ...params(), HOOK_SECRET: secret } });
    assert.equal(dry.body.params.HOOK_SECRET, '********');
    const installed = await admin.post('/packs', { pack: withSecret('1.0.0'), params: { ...params(), HOOK_SECRET: secret } });
    assert.equal(installed.status, 201, JSON.stringify(installed.body));
    assert.equal(installed.body.params.HOOK_SECRET, undefined);

    hook.secret = secret;
    const ping = async () => {
      const before = hook.calls.length;
      await waitFor('the signed flow answers', async () => (await fetch(`${server.httpUrl}/pack-signed`, { method: 'POST', signal: AbortSignal.timeout(2000) }).catch(() => null))?.status === 202);
      return (await hook.waitFor(before + 1))[before];
    };
    assert.equal((await ping()).verified, true, 'the endpoint signs with the secret parameter');

    const upgraded = await admin.post('/packs', { pack: withSecret('1.1.0'), params: params() });
    assert.equal(upgraded.status, 200, JSON.stringify(upgraded.body));
    assert.equal((await ping()).verified, true, 'an upgrade without the secret keeps the one it had');

    const flows = await (await fetch(`${server.httpUrl}/flows`, { headers: { authorization: `Bearer ${token}` } })).text();
    assert.doesNotMatch(flows, new RegExp(secret), 'not in the tab env');
    const tab = JSON.parse(flows).find((n: any) => n.type === 'tab' && /com\.example\.secret/.test(n.info ?? ''));
    const exported = await admin.post('/packs/export', { tabs: [tab.id], manifest: { id: 'com.example.copy', name: 'copy', version: '1.0.0' } });
    assert.equal(exported.status, 200, JSON.stringify(exported.body));
    assert.doesNotMatch(JSON.stringify(exported.body), new RegExp(secret), 'not in an export');
    assert.doesNotMatch(JSON.stringify((await admin.get('/packs')).body), new RegExp(secret), 'not in the pack list');
    const files = fs.readdirSync(path.join(server.dataDir, 'platform')).map((f) => path.join(server.dataDir, 'platform', f)).filter((f) => fs.statSync(f).isFile());
    assert.ok(files.some((f) => fs.readFileSync(f, 'utf8').includes('com.example.secret')), 'the pack record is among the files read');
    for (const file of files) assert.doesNotMatch(fs.readFileSync(file, 'utf8'), new RegExp(secret), `not in ${file}`);
    assert.equal((await admin.delete('/packs/com.example.secret')).status, 200);
    hook.secret = '';
  });

  it("counts a node a user added on a pack's tab as an edit, and removes it with the pack", async () => {
    const small = pack('1.0.0', (p) => {
      p.manifest.id = 'com.example.added';
      p.flows[1].url = '/pack-added';
      for (const part of ['endpoints', 'subscriptions', 'schedules', 'models']) delete p[part];
      p.flows = p.flows.filter((n: any) => n.type !== 'schedule' && n.type !== 'notify');
      p.flows[1].wires = [['out']];
    });
    assert.equal((await admin.post('/packs', { pack: small, params: { HOOK_URL: hook.url } })).status, 201);
    const headers = { authorization: `Bearer ${token}`, 'Node-RED-API-Version': 'v2', 'content-type': 'application/json' };
    const current = (await (await fetch(`${server.httpUrl}/flows`, { headers })).json()) as { rev: string; flows: any[] };
    const tab = current.flows.find((n) => n.type === 'tab' && /com\.example\.added/.test(n.info ?? ''));
    const added = { id: 'user-added-1', type: 'debug', z: tab.id, x: 300, y: 300, wires: [] };
    const deployed = await fetch(`${server.httpUrl}/flows`, { method: 'POST', headers, body: JSON.stringify({ rev: current.rev, flows: [...current.flows, added] }) });
    assert.equal(deployed.status, 200);

    const plan = await admin.post('/packs/dry-run', { pack: small, params: { HOOK_URL: hook.url } });
    assert.equal(plan.body.modified, true, 'the added node is an edit');
    assertProblem(await admin.post('/packs', { pack: small, params: { HOOK_URL: hook.url } }), 409, 'FF_PACK_MODIFIED');

    assert.equal((await admin.delete('/packs/com.example.added')).status, 200);
    const after = (await (await fetch(`${server.httpUrl}/flows`, { headers })).json()) as { flows: any[] };
    assert.equal(after.flows.some((n) => n.id === 'user-added-1' || n.z === tab.id), false, 'nothing is left on the removed tab');
  });

  it('refuses resources its services refuse, an endpoint whose type changes, and names taken by resources it does not own, before anything changes', async () => {
    const mine = await admin.post('/schedules', { name: 'users-own', cron: '0 1 * * *', timezone: 'UTC' });
    assert.equal(mine.status, 201);
    const before = { rev: await rev(), state: await state() };

    const badUrl = await admin.post('/packs', { pack: pack('3.0.0', (p) => (p.endpoints[0].config.url = 'not a url')), params: params() });
    assertProblem(badUrl, 400, 'FF_INVALID_PACK');
    assert.ok(badUrl.body.errors.some((e: any) => e.path.startsWith('/endpoints/0/config')), JSON.stringify(badUrl.body.errors));

    const badSchema = await admin.post('/packs', { pack: pack('3.0.0', (p) => (p.models[0].configSchema = { type: 'no-such-type' })), params: params() });
    assertProblem(badSchema, 400, 'FF_INVALID_PACK');
    assert.ok(badSchema.body.errors.some((e: any) => e.path.startsWith('/models/0')), JSON.stringify(badSchema.body.errors));

    const retyped = await admin.post('/packs/dry-run', { pack: pack('3.0.0', (p) => (p.endpoints[0] = { id: 'hook', name: 'Ping mail', type: 'email', config: { to: ['ops@example.com'] } })), params: params() });
    assertProblem(retyped, 400, 'FF_INVALID_PACK');
    assert.ok(retyped.body.errors.some((e: any) => e.path === '/endpoints/0/type' && /webhook/.test(e.message)), JSON.stringify(retyped.body.errors));

    const taken = await admin.post('/packs', { pack: pack('3.0.0', (p) => p.schedules.push({ id: 'other', name: 'users-own', cron: '0 2 * * *', timezone: 'UTC' })), params: params() });
    assertProblem(taken, 409, 'FF_PACK_ID_CONFLICT');
    assert.deepEqual(taken.body.errors.map((e: any) => e.path), ['/schedules/1/name']);

    assert.deepEqual({ rev: await rev(), state: await state() }, before, 'nothing was deployed or written');
  });

  it('exports its tab with the resources it uses under their pack-local ids, and removing it deletes them, keeping a model devices use', async () => {
    const exported = await admin.post('/packs/export', { tabs: ['Ping'], manifest: { id: 'com.example.ping-copy', name: 'Ping copy', version: '1.0.0' } });
    assert.equal(exported.status, 200, JSON.stringify(exported.body));
    const file = exported.body;
    const notify = file.flows.find((n: any) => n.type === 'notify');
    assert.equal(notify.id, 'send', 'nodes get their ids in the pack file back');
    assert.deepEqual(notify.endpoints, ['hook'], 'and point at the pack-local endpoint id');
    assert.deepEqual(file.endpoints.map((e: any) => [e.id, e.name, e.config.url]), [['hook', 'Ping hook north', hook.url]]);
    assert.deepEqual(file.schedules.map((s: any) => [s.id, s.name]), [['nightly', 'pack-nightly']]);
    assert.deepEqual(Object.keys(file.parameters.properties).sort(), ['HOOK_URL', 'SITE']);
    const tab = file.flows.find((n: any) => n.type === 'tab');
    assert.equal(tab.fieldflowPack, undefined);
    assert.doesNotMatch(tab.info ?? '', /Fieldflow pack/);

    const unknownTab = await admin.post('/packs/export', { tabs: ['No such tab'], manifest: { id: 'com.example.x', name: 'x', version: '1.0.0' } });
    assertProblem(unknownTab, 400, 'FF_VALIDATION');
    const badVersion = await admin.post('/packs/export', { tabs: ['Ping'], manifest: { id: 'com.example.x', name: 'x', version: 'one' } });
    assertProblem(badVersion, 400, 'FF_VALIDATION');
    assert.deepEqual(badVersion.body.errors, [{ path: '/manifest/version', message: 'must be a semantic version, such as 1.2.0' }]);

    const device = await admin.post('/devices', { name: 'pump-1', model: 'pack-pump' });
    assert.equal(device.status, 201, JSON.stringify(device.body));
    const removed = await admin.request('DELETE', `/packs/${PACK_ID}`);
    assert.equal(removed.status, 200, JSON.stringify(removed.body));
    assert.deepEqual(removed.body.kept.map((k: any) => `${k.kind}:${k.name}`), ['models:pack-pump']);
    const after = await state();
    assert.deepEqual([after.endpoints, after.subscriptions, after.schedules.filter((s: string) => s.includes('pack-')), after.models], [[], [], [], ['pack-pump']]);
  });
});
