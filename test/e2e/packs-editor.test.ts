import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import type { Browser, Locator, Page } from 'playwright-core';
import { launchChromium, openEditor as openEditorPage } from '../support/browser';
import { startServer, ADMIN_PASSWORD, type ServerProcess } from '../support/server';
import { Api } from '../support/http';
import { deployFlows, editorToken } from '../support/nodered';
import { waitFor } from '../support/mqtt';
import { packNodeId } from '../../runtime/packs/ids';

const PACK_ID = 'com.example.echo';
/** Where the pack's tab and function node are deployed (the ids derive from the pack id). */
const TAB = packNodeId(PACK_ID, 't1');
const FN = packNodeId(PACK_ID, 'fn');

/** A small pack with one parameter of each kind the form handles and a device model; its http endpoint answers with the values its tab got. */
function pack(version: string, parameters: Record<string, unknown> = {}) {
  return {
    manifest: { id: PACK_ID, name: 'Echo', version, description: 'Answers with its parameters', author: 'tests', requires: { fieldflow: '>=0.1.0', nodes: ['http in', 'function', 'http response'] } },
    parameters: {
      type: 'object',
      properties: {
        THRESHOLD: { type: 'number', title: 'Threshold', description: 'Alarm above this level', default: 50, minimum: 0 },
        CONTACT: { type: 'string', title: 'Contact', format: 'email' },
        ENABLED: { type: 'boolean', title: 'Enabled', default: true },
        LEVEL: { type: 'string', title: 'Level', enum: ['low', 'high'], default: 'low' },
        ZONES: { type: 'array', title: 'Zones', items: { type: 'integer' }, default: [1, 2] },
        ...parameters,
      },
      required: ['CONTACT'],
    },
    flows: [
      { id: 't1', type: 'tab', label: 'Echo' },
      { id: 'in', z: 't1', x: 100, y: 40, type: 'http in', url: '/echo', method: 'get', wires: [['fn']] },
      {
        id: 'fn', z: 't1', x: 280, y: 40, type: 'function', outputs: 1, wires: [['out']],
        func: `msg.payload = { version: '${version}', threshold: env.get('THRESHOLD'), contact: env.get('CONTACT'), enabled: env.get('ENABLED'), level: env.get('LEVEL'), zones: env.get('ZONES') }; return msg;`,
      },
      { id: 'out', z: 't1', x: 460, y: 40, type: 'http response', statusCode: '200', wires: [] },
    ],
    models: [{ id: 'sensor', name: 'echo-sensor', description: 'What the echo pack watches', configSchema: { type: 'object', properties: {} } }],
  };
}

const file = (name: string, content: unknown) => ({ name, mimeType: 'application/json', buffer: Buffer.from(typeof content === 'string' ? content : JSON.stringify(content, null, 2)) });

describe('the Packs sidebar in the real editor', function () {
  this.timeout(60_000);
  let server: ServerProcess;
  let editor: Api;
  let token: string;
  let browser: Browser | undefined;
  /** The editor pages a test opened: closed after it, so an old page cannot report into the next test. */
  const pages: Page[] = [];
  /** The user's own tab, which no pack operation may touch. */
  let mineIds: string[];
  /** Script errors in the editor page (a refused request is logged too, and is not one). */
  const problems: string[] = [];

  before(async () => {
    server = await startServer();
    token = await editorToken(server.httpUrl, ADMIN_PASSWORD);
    editor = new Api(server.httpUrl, token);
    await deployFlows(server.httpUrl, ADMIN_PASSWORD, [{ id: 'mine', type: 'tab', label: 'Mine' }]);
    mineIds = (await flows()).flows.map((n) => n.id).sort();
  });
  afterEach(async function () {
    if (this.currentTest?.state === 'failed') process.stderr.write(`--- server output ---\n${server.output()}\nproblems: ${JSON.stringify(problems)}\n`);
    for (const page of pages.splice(0)) await page.context().close();
    problems.length = 0;
  });
  after(async () => {
    await browser?.close();
    const code = await server.stop();
    assert.equal(code, 0, `server did not exit cleanly:\n${server.output()}`);
  });

  const flows = async () => (await (await fetch(`${server.httpUrl}/flows`, { headers: { authorization: `Bearer ${token}`, 'Node-RED-API-Version': 'v2' } })).json()) as { rev: string; flows: any[] };
  const echo = () =>
    waitFor('the pack flow answers', async () => {
      const r = await fetch(`${server.httpUrl}/echo`, { signal: AbortSignal.timeout(2000) }).catch(() => null);
      return r?.status === 200 && ((await r.json()) as any);
    });

  async function openSidebar(): Promise<{ page: Page; sidebar: Locator }> {
    browser ??= await launchChromium();
    const page = await openEditorPage(browser, server.httpUrl, ADMIN_PASSWORD, problems);
    pages.push(page);
    await page.evaluate(() => (window as any).RED.actions.invoke('fieldflow:show-packs-tab'));
    const sidebar = page.locator('.ff-packs');
    await sidebar.waitFor();
    return { page, sidebar };
  }

  /** What the workspace shows: its tabs (id, label) in order, the active one, and whether it holds undeployed changes. */
  const workspace = (page: Page) =>
    page.evaluate(() => {
      const RED = (window as any).RED;
      const tabs: Array<[string, string]> = [];
      RED.nodes.eachWorkspace((ws: any) => void tabs.push([ws.id, ws.label]));
      return { tabs, active: RED.workspaces.active(), dirty: RED.nodes.dirty(), rev: RED.nodes.version(), tabBar: $('#red-ui-workspace-tabs li.red-ui-tab').length };
    });

  /** The import form, open, with `content` chosen in its file input. */
  async function chooseFile(sidebar: Locator, name: string, content: unknown): Promise<Locator> {
    const form = sidebar.locator('.ff-packs-import');
    if (!(await form.isVisible())) await sidebar.locator('h3').getByRole('button', { name: 'import' }).click();
    await form.getByLabel('Pack file').setInputFiles(file(name, content));
    return form;
  }

  it('loads the Packs plugin, keeps its routes behind the editor login, and refuses bad bodies with the pack codes', async () => {
    const sets = (await editor.get('/plugins', { accept: 'application/json' })).body;
    const packs = sets.find((s: any) => s.module === '@fieldflow/nodes' && s.name === 'fieldflow-packs');
    assert.deepEqual([packs?.enabled, packs?.err ?? null, packs?.plugins.map((p: any) => p.id)], [true, null, ['fieldflow-packs']]);

    const anonymous = new Api(server.httpUrl);
    assert.equal((await anonymous.get('/fieldflow/packs')).status, 401);
    assert.equal((await anonymous.post('/fieldflow/packs', { pack: pack('1.0.0') })).status, 401);
    assert.equal((await anonymous.post('/fieldflow/packs/dry-run', { pack: pack('1.0.0') })).status, 401);
    assert.equal((await anonymous.delete(`/fieldflow/packs/${PACK_ID}`)).status, 401);
    assert.deepEqual((await editor.get('/fieldflow/packs')).body, { items: [], maxBytes: 5 * 1024 * 1024 });

    const before = (await flows()).rev;
    // The type the sidebar sends: Node-RED's admin API leaves it to the pack routes, which apply the pack size limit.
    const refused = async (body: unknown, status: number, code: string) => {
      const r = await editor.post('/fieldflow/packs', body, { 'content-type': 'application/vnd.fieldflow.pack-import+json' });
      assert.deepEqual([r.status, r.body.code], [status, code], JSON.stringify(r.body));
      return r.body;
    };
    await refused('{"pack": ', 400, 'FF_MALFORMED_JSON');
    await refused({ pack: pack('1.0.0'), padding: 'x'.repeat(6 * 1024 * 1024) }, 413, 'FF_PACK_TOO_LARGE');
    const envelope = await refused({ pack: 5, params: [], force: 'yes' }, 400, 'FF_VALIDATION');
    assert.deepEqual(envelope.errors.map((e: any) => e.path).sort(), ['/force', '/pack', '/params']);
    const params = await refused({ pack: pack('1.0.0'), params: { THRESHOLD: 'lots' } }, 400, 'FF_INVALID_PACK_PARAMETERS');
    assert.deepEqual(params.errors.map((e: any) => `${e.path} ${e.message}`).sort(), ['/parameters/CONTACT is required', '/parameters/THRESHOLD must be number']);
    assert.equal((await editor.post(`/fieldflow/packs/${PACK_ID}/rollback`, {})).body.code, 'FF_PACK_NOT_FOUND');
    // A plain application/json body, which Node-RED parsed itself, is taken too.
    const dry = await editor.post('/fieldflow/packs/dry-run', { pack: pack('1.0.0'), params: { CONTACT: 'ops@example.com' } });
    assert.deepEqual([dry.status, dry.body.from, dry.body.to, dry.body.diff.tabs.added, dry.body.resources.added], [200, null, '1.0.0', ['Echo'], [{ kind: 'models', name: 'echo-sensor' }]]);
    assert.equal((await flows()).rev, before, 'nothing was deployed');
  });

  it('imports a pack file through the Packs tab with a parameter from its form, after showing the dry run, and shows its tab in the workspace', async () => {
    const { page, sidebar } = await openSidebar();
    await sidebar.locator('li', { hasText: 'No packs installed.' }).waitFor();
    const form = await chooseFile(sidebar, 'echo-1.0.0.json', pack('1.0.0'));

    // ---- the form, generated from the parameters schema
    await form.getByLabel('Threshold').waitFor();
    assert.match((await form.locator('.ff-packs-summary').textContent())!, /^Echo 1\.0\.0com\.example\.echo - by testsAnswers with its parameters$/);
    const field = (name: string) => form.locator(`.ff-packs-param[data-param="${name}"]`);
    assert.deepEqual(
      await form.locator('.ff-packs-param').evaluateAll((rows) =>
        rows.map((r) => {
          const input = r.querySelector('input, select') as HTMLInputElement;
          return [r.getAttribute('data-param'), input.tagName.toLowerCase(), input.type, input.type === 'checkbox' ? input.checked : input.value, input.getAttribute('aria-required')];
        }),
      ),
      [
        ['THRESHOLD', 'input', 'number', '50', null],
        ['CONTACT', 'input', 'email', '', 'true'],
        ['ENABLED', 'input', 'checkbox', true, null],
        ['LEVEL', 'select', 'select-one', '0', null],
        ['ZONES', 'input', 'text', '1, 2', null],
      ],
    );
    assert.equal(await field('THRESHOLD').locator('.ff-packs-help').textContent(), 'Alarm above this level');
    assert.equal(await field('CONTACT').locator('.ff-packs-required').count(), 1);
    assert.deepEqual(await field('LEVEL').locator('option').allTextContents(), ['not set', 'low', 'high']);

    await form.getByLabel('Threshold').fill('80');
    await form.getByLabel('Contact').fill('ops@example.com');
    await form.getByLabel('Level').selectOption({ label: 'high' });
    await form.getByLabel('Zones').fill('3, 4');

    // ---- the dry run deploys nothing
    const before = await flows();
    await form.getByRole('button', { name: 'preview' }).click();
    const plan = form.locator('.ff-packs-plan');
    await plan.waitFor();
    assert.equal(await plan.locator('.ff-packs-plan-title').textContent(), 'Installs Echo 1.0.0:');
    assert.equal(await plan.locator('.ff-packs-tabs-added').textContent(), 'Tabs added: Echo');
    assert.equal(await plan.locator('.ff-packs-nodes').textContent(), 'Nodes: 3 added, 0 changed, 0 removed, 0 unchanged');
    assert.equal(await plan.locator('.ff-packs-resources-added').textContent(), 'Resources added: model echo-sensor');
    assert.match((await plan.textContent())!, /with THRESHOLD=80, CONTACT="ops@example\.com", ENABLED=true, LEVEL="high", ZONES=3, 4/);
    assert.equal((await flows()).rev, before.rev, 'a dry run deploys nothing');

    // ---- import: the pack is listed, and its tab is in the workspace, shown, with nothing left to deploy
    await form.getByRole('button', { name: 'import', exact: true }).click();
    const row = sidebar.locator(`li.ff-packs-pack[data-id="${PACK_ID}"]`);
    await row.waitFor();
    await page.waitForFunction((tab) => (window as any).RED.nodes.workspace(tab) && (window as any).RED.workspaces.active() === tab, TAB);
    assert.equal(await row.locator('.ff-packs-version').textContent(), '1.0.0');
    assert.match((await row.textContent())!, /installed .* by user:admin/);
    assert.equal(await row.locator('.ff-packs-history').textContent(), 'no previous version');
    assert.equal(await row.locator('.ff-packs-tabs').textContent(), 'tabs: Echo');
    assert.equal(await row.locator('.ff-packs-resources').textContent(), 'resources: model echo-sensor');
    assert.equal(await sidebar.locator('.ff-packs-done').textContent(), 'Imported Echo 1.0.0.');
    assert.equal(await form.isVisible(), false);
    const deployed = await flows();
    const shown = await workspace(page);
    assert.deepEqual(shown.tabs, [['mine', 'Mine'], [TAB, 'Echo']]);
    assert.deepEqual([shown.active, shown.dirty, shown.rev, shown.tabBar], [TAB, false, deployed.rev, 2]);
    assert.equal(await page.locator(`#red-ui-tab-${TAB}`).count(), 1, 'the tab bar shows the pack tab');
    assert.equal(await page.locator('.red-ui-notification', { hasText: 'The flows on the server have been updated.' }).count(), 0, 'no offer to review the flows the sidebar deployed');
    assert.deepEqual(await echo(), { version: '1.0.0', threshold: 80, contact: 'ops@example.com', enabled: true, level: 'high', zones: [3, 4] });
    const installed = (await editor.get(`/fieldflow/packs/${PACK_ID}`)).body;
    assert.deepEqual([installed.version, installed.params, installed.installedBy], ['1.0.0', { THRESHOLD: 80, CONTACT: 'ops@example.com', ENABLED: true, LEVEL: 'high', ZONES: [3, 4] }, 'user:admin']);
    assert.deepEqual(problems, []);
  });

  it('upgrades the pack to a newer file from its row, in place, starting from the values it runs with', async () => {
    const { page, sidebar } = await openSidebar();
    const row = sidebar.locator(`li.ff-packs-pack[data-id="${PACK_ID}"]`);
    await row.getByRole('button', { name: 'upgrade' }).click();
    const form = sidebar.locator('.ff-packs-import');
    assert.equal(await form.locator('.ff-packs-target').textContent(), `Upgrade Echo 1.0.0: choose a newer file of ${PACK_ID}.`);
    await form.getByLabel('Pack file').setInputFiles(file('echo-1.1.0.json', pack('1.1.0')));
    await form.getByLabel('Threshold').waitFor();
    assert.deepEqual([await form.getByLabel('Threshold').inputValue(), await form.getByLabel('Contact').inputValue(), await form.getByLabel('Zones').inputValue()], ['80', 'ops@example.com', '3, 4']);
    assert.match((await form.locator('.ff-packs-summary').textContent())!, /1\.0\.0 is installed: importing replaces it in place\./);

    await form.getByRole('button', { name: 'preview' }).click();
    await form.locator('.ff-packs-plan').waitFor();
    assert.equal(await form.locator('.ff-packs-plan-title').textContent(), 'Replaces Echo 1.0.0 with 1.1.0:');
    assert.equal(await form.locator('.ff-packs-tabs-changed').textContent(), 'Tabs changed: Echo');
    assert.equal(await form.locator('.ff-packs-nodes').textContent(), 'Nodes: 0 added, 1 changed, 0 removed, 2 unchanged');
    assert.equal(await form.locator('.ff-packs-warning').count(), 0);
    assert.equal(await form.locator('[class*="ff-packs-resources-"]').count(), 0, 'the model is the same in both versions');

    await form.getByRole('button', { name: 'import', exact: true }).click();
    await row.locator('.ff-packs-version', { hasText: '1.1.0' }).waitFor();
    await page.waitForFunction((fn) => /1\.1\.0/.test((window as any).RED.nodes.node(fn)?.func ?? ''), FN);
    assert.match((await row.locator('.ff-packs-history').textContent())!, /^previous: 1\.0\.0 \(/);
    const shown = await workspace(page);
    assert.deepEqual(shown.tabs, [['mine', 'Mine'], [TAB, 'Echo']], 'the same tab, and no second one');
    assert.deepEqual([shown.dirty, shown.rev], [false, (await flows()).rev]);
    assert.equal((await echo()).version, '1.1.0');
    assert.equal((await echo()).threshold, 80);
    assert.deepEqual(problems, []);
  });

  it("warns that the pack's tabs were edited, and upgrades only once 'overwrite my edits' is ticked", async () => {
    const { page, sidebar } = await openSidebar();
    // A user edits a node in the pack's tab from another editor: this one is offered to review the change.
    const current = await flows();
    const edited = current.flows.map((n) => (n.id === FN ? { ...n, name: 'my tweak' } : n));
    const deploy = await fetch(`${server.httpUrl}/flows`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, 'Node-RED-API-Version': 'v2', 'Node-RED-Deployment-Type': 'full' }, body: JSON.stringify({ rev: current.rev, flows: edited }) });
    assert.equal(deploy.status, 200);
    await page.locator('.red-ui-notification', { hasText: 'The flows on the server have been updated.' }).waitFor();

    const row = sidebar.locator(`li.ff-packs-pack[data-id="${PACK_ID}"]`);
    await row.getByRole('button', { name: 'upgrade' }).click();
    const form = sidebar.locator('.ff-packs-import');
    await form.getByLabel('Pack file').setInputFiles(file('echo-1.2.0.json', pack('1.2.0')));
    await form.getByLabel('Threshold').waitFor();
    const force = form.getByLabel('Overwrite my edits');
    assert.equal(await force.isVisible(), false, 'the choice is offered only when it matters');
    await form.getByRole('button', { name: 'preview' }).click();
    await form.locator('.ff-packs-warning').waitFor();
    assert.equal(await form.locator('.ff-packs-warning').textContent(), 'The tabs of Echo were edited since 1.1.0 was installed. Importing replaces those edits: tick "Overwrite my edits" to import anyway.');
    assert.equal(await force.isVisible(), true);
    assert.equal(await force.isChecked(), false);

    await form.getByRole('button', { name: 'import', exact: true }).click();
    await form.locator('.ff-packs-error-code').waitFor();
    assert.match((await form.locator('.ff-packs-error-code').textContent())!, /^FF_PACK_MODIFIED: The tabs of com\.example\.echo were edited since 1\.1\.0 was installed/);
    assert.equal((await echo()).version, '1.1.0', 'refused: still running what was there');
    assert.equal(await row.locator('.ff-packs-version').textContent(), '1.1.0');

    await force.check();
    await form.getByRole('button', { name: 'import', exact: true }).click();
    await row.locator('.ff-packs-version', { hasText: '1.2.0' }).waitFor();
    await page.waitForFunction((fn) => /1\.2\.0/.test((window as any).RED.nodes.node(fn)?.func ?? ''), FN);
    assert.equal(await page.evaluate((fn) => (window as any).RED.nodes.node(fn).name ?? '', FN), '', 'the edit was overwritten, in the workspace too');
    assert.equal((await echo()).version, '1.2.0');
    await page.locator('.red-ui-notification', { hasText: 'The flows on the server have been updated.' }).waitFor({ state: 'detached' });
    assert.deepEqual(problems, []);
  });

  it('rolls back to the previous version after a confirm, and removing the pack takes its tab out of the workspace', async () => {
    const { page, sidebar } = await openSidebar();
    const row = sidebar.locator(`li.ff-packs-pack[data-id="${PACK_ID}"]`);
    await row.getByRole('button', { name: 'roll back' }).click();
    await row.getByRole('button', { name: 'confirm roll back to 1.1.0' }).click();
    await row.locator('.ff-packs-version', { hasText: '1.1.0' }).waitFor();
    await page.waitForFunction((fn) => /1\.1\.0/.test((window as any).RED.nodes.node(fn)?.func ?? ''), FN);
    assert.equal(await sidebar.locator('.ff-packs-done').textContent(), 'Rolled Echo back to 1.1.0.');
    assert.match((await row.locator('.ff-packs-history').textContent())!, /^previous: 1\.0\.0 \(/);
    assert.deepEqual([(await echo()).version, (await echo()).threshold], ['1.1.0', 80]);

    await row.getByRole('button', { name: 'remove' }).click();
    await row.getByRole('button', { name: 'confirm remove' }).click();
    await sidebar.locator('li', { hasText: 'No packs installed.' }).waitFor();
    await page.waitForFunction((tab) => !(window as any).RED.nodes.workspace(tab), TAB);
    const shown = await workspace(page);
    assert.deepEqual(shown.tabs, [['mine', 'Mine']]);
    assert.deepEqual([shown.active, shown.dirty, shown.tabBar], ['mine', false, 1]);
    assert.deepEqual((await flows()).flows.map((n) => n.id).sort(), mineIds, 'only the user flow is left');
    assert.deepEqual(problems, []);
  });

  it('imports while the editor holds undeployed changes, merging the pack in without losing them', async () => {
    const { page, sidebar } = await openSidebar();
    await page.evaluate(() => {
      (window as any).RED.view.importNodes([{ id: 'e2e0000000000c01', type: 'comment', name: 'not deployed yet', z: 'mine', x: 100, y: 100, wires: [] }], { applyNodeDefaults: true, notify: false });
    });
    // Imported nodes follow the mouse until a click drops them, as when pasting.
    await page.locator('#red-ui-workspace-chart').click({ position: { x: 200, y: 200 } });
    assert.equal((await workspace(page)).dirty, true);
    const form = await chooseFile(sidebar, 'echo.json', pack('1.0.0'));
    await form.getByLabel('Contact').fill('ops@example.com');
    await form.getByRole('button', { name: 'import', exact: true }).click();
    await page.waitForFunction((tab) => (window as any).RED.nodes.workspace(tab), TAB);
    const shown = await workspace(page);
    assert.deepEqual(shown.tabs, [['mine', 'Mine'], [TAB, 'Echo']]);
    assert.equal(shown.dirty, true, 'the local change is still there to deploy');
    assert.equal(await page.evaluate(() => (window as any).RED.nodes.node('e2e0000000000c01')?.name), 'not deployed yet');
    assert.equal((await echo()).version, '1.0.0');
    assert.deepEqual(problems, []);
  });

  it('shows why a bad file is refused, next to the field when a parameter is at fault, and deploys nothing', async () => {
    const { sidebar } = await openSidebar();
    const before = await flows();
    const installedBefore = (await editor.get('/fieldflow/packs')).body.items;

    // ---- not JSON: the server says so as soon as the file is chosen
    let form = await chooseFile(sidebar, 'notes.json', 'this is { not JSON');
    await form.locator('.ff-packs-error-code').waitFor();
    assert.match((await form.locator('.ff-packs-error-code').textContent())!, /^FF_MALFORMED_JSON: The pack file is not JSON: /);
    assert.equal(await form.locator('.ff-packs-param').count(), 0);

    // ---- a parameter whose default has the wrong type: the file is refused, at the parameter
    form = await chooseFile(sidebar, 'bad-default.json', pack('2.0.0', { THRESHOLD: { type: 'number', title: 'Threshold', default: 'high' } }));
    await form.getByLabel('Threshold').waitFor();
    await form.getByLabel('Contact').fill('ops@example.com');
    await form.getByRole('button', { name: 'preview' }).click();
    await form.locator('.ff-packs-error-code').waitFor();
    assert.match((await form.locator('.ff-packs-error-code').textContent())!, /^FF_INVALID_PACK: /);
    assert.deepEqual(await form.locator('.ff-packs-errors li').allTextContents(), ['/parameters/properties/THRESHOLD/default must be number']);
    assert.equal(await form.locator('.ff-packs-param[data-param="THRESHOLD"] .ff-packs-field-error').textContent(), 'default must be number');
    assert.equal(await form.locator('.ff-packs-plan').isVisible(), false);

    // ---- values the parameters refuse: each error next to its field, and the import refused
    form = await chooseFile(sidebar, 'echo-2.0.0.json', pack('2.0.0'));
    await form.getByLabel('Zones').fill('5, lots');
    await form.getByLabel('Contact').fill('not-an-email');
    await form.getByRole('button', { name: 'import', exact: true }).click();
    await form.locator('.ff-packs-error-code').waitFor();
    assert.match((await form.locator('.ff-packs-error-code').textContent())!, /^FF_INVALID_PACK_PARAMETERS: /);
    assert.deepEqual((await form.locator('.ff-packs-errors li').allTextContents()).sort(), ['/parameters/CONTACT must match format "email"', '/parameters/ZONES/1 must be integer']);
    assert.equal(await form.locator('.ff-packs-param[data-param="ZONES"] .ff-packs-field-error').textContent(), '1 must be integer');
    assert.equal(await form.locator('.ff-packs-param[data-param="CONTACT"] .ff-packs-field-error').textContent(), 'must match format "email"');
    assert.equal(await form.locator('.ff-packs-param.ff-packs-invalid').count(), 2);

    // ---- an older version than the installed one: offered only with the downgrade box ticked
    form = await chooseFile(sidebar, 'echo-0.9.0.json', pack('0.9.0'));
    await form.getByLabel('Contact').fill('ops@example.com');
    await form.getByRole('button', { name: 'preview' }).click();
    await form.locator('.ff-packs-error-code').waitFor();
    assert.match((await form.locator('.ff-packs-error-code').textContent())!, /^FF_PACK_DOWNGRADE: com\.example\.echo 1\.0\.0 is installed; 0\.9\.0 is older/);
    assert.equal(await form.getByLabel('Allow installing an older version').isVisible(), true);

    assert.equal((await flows()).rev, before.rev, 'nothing was deployed');
    assert.deepEqual((await editor.get('/fieldflow/packs')).body.items, installedBefore);

    await form.getByLabel('Allow installing an older version').check();
    await form.getByRole('button', { name: 'preview' }).click();
    await form.locator('.ff-packs-plan-title', { hasText: 'Replaces Echo 1.0.0 with 0.9.0:' }).waitFor();
    assert.deepEqual(problems, []);
  });

  it('exports chosen workspace tabs as a pack file, which imports again by drag and drop with the values it ran with as defaults', async () => {
    const { page, sidebar } = await openSidebar();
    await sidebar.locator('h3').getByRole('button', { name: 'export' }).click();
    const form = sidebar.locator('.ff-packs-export');
    assert.deepEqual(await form.locator('.ff-packs-export-tabs label').allTextContents(), ['Mine', 'Echo']);

    // ---- refused: no tab chosen and a version that is not semver, each at its path
    await form.getByLabel('Pack id').fill('com.example.echo-copy');
    await form.getByLabel('Name').fill('Echo copy');
    await form.getByLabel('Version').fill('one');
    await form.getByRole('button', { name: 'download' }).click();
    await form.locator('.ff-packs-error-code').waitFor();
    assert.match((await form.locator('.ff-packs-error-code').textContent())!, /^FF_VALIDATION: /);
    const listed = (await form.locator('.ff-packs-errors li code').allTextContents()).sort();
    assert.deepEqual(listed, ['/manifest/version', '/tabs']);

    // ---- the Echo tab, downloaded as a file
    await form.getByLabel('Echo').check();
    await form.getByLabel('Version').fill('1.0.0');
    await form.getByLabel('Description').fill('A copy of echo');
    const [download] = await Promise.all([page.waitForEvent('download'), form.getByRole('button', { name: 'download' }).click()]);
    assert.equal(download.suggestedFilename(), 'com.example.echo-copy-1.0.0.json');
    const text = await readFile((await download.path())!, 'utf8');
    const exported = JSON.parse(text);
    assert.deepEqual(exported.manifest, { id: 'com.example.echo-copy', name: 'Echo copy', version: '1.0.0', description: 'A copy of echo', requires: exported.manifest.requires });
    assert.deepEqual(exported.flows.map((n: any) => n.id).sort(), ['fn', 'in', 'out', 't1'], 'the ids of the pack file it came from');
    assert.equal(exported.parameters.properties.CONTACT.default, 'ops@example.com', 'the value it ran with');
    assert.equal(await form.locator('.ff-packs-error').count(), 0);

    // ---- dropped onto the import form, it is a new pack
    await sidebar.locator('h3').getByRole('button', { name: 'import' }).click();
    const importer = sidebar.locator('.ff-packs-import');
    await importer.locator('.ff-packs-drop').evaluate((zone, content) => {
      const data = new DataTransfer();
      data.items.add(new File([content], 'com.example.echo-copy-1.0.0.json', { type: 'application/json' }));
      zone.dispatchEvent(new DragEvent('drop', { dataTransfer: data, bubbles: true, cancelable: true }));
    }, text);
    await importer.getByLabel('Contact').waitFor();
    assert.equal(await importer.getByLabel('Contact').inputValue(), 'ops@example.com');
    await importer.getByRole('button', { name: 'preview' }).click();
    await importer.locator('.ff-packs-plan').waitFor();
    assert.equal(await importer.locator('.ff-packs-plan-title').textContent(), 'Installs Echo copy 1.0.0:');
    assert.equal(await importer.locator('.ff-packs-tabs-added').textContent(), 'Tabs added: Echo');
    assert.deepEqual(problems, []);
  });

  it('offers the built-in packs the server ships, and fills the form from the one chosen', async () => {
    const shipped = (await editor.get('/fieldflow/packs/builtin')).body.items;
    const telemetry = shipped.find((b: any) => b.id === 'com.fieldflow.telemetry-alarm');
    assert.ok(telemetry, `telemetry-alarm is shipped in flows/ (the server lists ${JSON.stringify(shipped.map((b: any) => b.file))})`);
    const file = (await editor.get(`/fieldflow/packs/builtin/${encodeURIComponent(telemetry.file)}`)).body;

    const { sidebar } = await openSidebar();
    await sidebar.locator('h3').getByRole('button', { name: 'import' }).click();
    const form = sidebar.locator('.ff-packs-import');
    const select = form.getByLabel('Built-in pack');
    await select.locator('option', { hasText: telemetry.name }).waitFor({ state: 'attached' });
    assert.deepEqual(await select.locator('option').evaluateAll((os) => os.map((o) => (o as HTMLOptionElement).value)), ['', ...shipped.map((b: any) => b.file)]);
    await select.selectOption(telemetry.file);
    await form.locator('.ff-packs-summary', { hasText: telemetry.id }).waitFor();
    assert.deepEqual(await form.locator('.ff-packs-param').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-param'))), Object.keys(file.parameters?.properties ?? {}));
    assert.deepEqual(problems, []);
  });
});
