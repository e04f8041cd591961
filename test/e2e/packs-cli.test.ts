import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { startServer, ADMIN_PASSWORD, type ServerProcess } from '../support/server';
import { deployFlows, editorToken } from '../support/nodered';
import { waitFor } from '../support/mqtt';
import { freePort } from '../support/ports';
import { tempDir } from '../support/platform';
import { packNodeId } from '../../runtime/packs/ids';
import { USER_TOKEN_PREFIX } from '../../runtime/auth/service';

const BIN = path.resolve(__dirname, '..', '..', '..', 'bin', 'fieldflow.js');
const PACK_ID = 'com.example.cli-echo';

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** A pack with one THRESHOLD parameter: an http endpoint answering with it, through a change node (`${THRESHOLD}`) and a function (`env.get`). */
function pack(version: string) {
  return {
    manifest: { id: PACK_ID, name: 'Echo', version, requires: { fieldflow: '>=0.1.0', nodes: ['http in', 'change', 'function', 'http response'] } },
    parameters: { type: 'object', properties: { THRESHOLD: { type: 'number', title: 'Threshold', default: 50 } } },
    flows: [
      { id: 't1', type: 'tab', label: 'Echo' },
      { id: 'in', z: 't1', x: 100, y: 40, type: 'http in', url: '/cli-echo', method: 'get', wires: [['chg']] },
      { id: 'chg', z: 't1', x: 260, y: 40, type: 'change', rules: [{ t: 'set', p: 'threshold', pt: 'msg', to: '${THRESHOLD}', tot: 'num' }], wires: [['fn']] },
      { id: 'fn', z: 't1', x: 420, y: 40, type: 'function', func: `msg.payload = { version: '${version}', fromChange: msg.threshold, fromEnv: env.get('THRESHOLD') }; return msg;`, outputs: 1, wires: [['out']] },
      { id: 'out', z: 't1', x: 580, y: 40, type: 'http response', statusCode: '200', wires: [] },
    ],
  };
}

describe('the fieldflow command line for flow packs, against the real server', function () {
  this.timeout(120_000);
  let server: ServerProcess;
  let token: string;
  let work: string;
  /** The user's own flows as deployed before any pack (with the deploy helper's sentinel nodes). */
  let mineIds: string[];

  before(async () => {
    server = await startServer();
    token = await editorToken(server.httpUrl, ADMIN_PASSWORD);
    work = tempDir('fieldflow-cli-');
    // Flows of the user's own, which no pack operation may touch; "Notes" is exported below.
    await deployFlows(server.httpUrl, ADMIN_PASSWORD, [
      { id: 'mine', type: 'tab', label: 'Mine' },
      { id: 'mine-in', z: 'mine', type: 'http in', url: '/mine', method: 'get', x: 100, y: 40, wires: [['mine-out']] },
      { id: 'mine-out', z: 'mine', type: 'http response', statusCode: '204', x: 300, y: 40, wires: [] },
      { id: 'notes', type: 'tab', label: 'Notes' },
      { id: 'notes-inject', z: 'notes', type: 'inject', name: 'tick', props: [{ p: 'payload' }], payload: '1', payloadType: 'num', repeat: '', once: false, x: 100, y: 40, wires: [['notes-fn']] },
      { id: 'notes-fn', z: 'notes', type: 'function', name: 'double', func: 'msg.payload *= 2;\nreturn msg;', outputs: 1, x: 260, y: 40, wires: [[]] },
    ]);
    mineIds = (await flows()).flows.map((n) => n.id).sort();
  });
  after(() => server?.stop());

  const flows = async () => (await (await fetch(`${server.httpUrl}/flows`, { headers: { authorization: `Bearer ${token}`, 'Node-RED-API-Version': 'v2' } })).json()) as { rev: string; flows: any[] };
  const packIds = async () => (await flows()).flows.filter((n) => !mineIds.includes(n.id)).map((n) => n.id).sort();
  const echo = () =>
    waitFor('the pack flow answers', async () => {
      const r = await fetch(`${server.httpUrl}/cli-echo`, { signal: AbortSignal.timeout(2000) }).catch(() => null);
      return r?.status === 200 && ((await r.json()) as any);
    });
  const write = (name: string, content: unknown) => {
    const file = path.join(work, name);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content, null, 2));
    return file;
  };

  /** Run `node bin/fieldflow.js ...args` as a user would, with stdin that is not a terminal. Secrets must never show in its output. */
  function cli(args: string[], env: Record<string, string> = {}): Promise<Run> {
    const child = spawn(process.execPath, [BIN, ...args], {
      env: { PATH: process.env.PATH ?? '', FIELDFLOW_URL: server.httpUrl, FIELDFLOW_PASSWORD: ADMIN_PASSWORD, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    return new Promise((resolve, reject) => {
      child.once('error', reject);
      child.once('close', (code) => {
        for (const secret of [ADMIN_PASSWORD, USER_TOKEN_PREFIX, env.FIELDFLOW_PASSWORD].filter(Boolean)) {
          assert.ok(!stdout.includes(secret!) && !stderr.includes(secret!), `fieldflow ${args.join(' ')} printed a secret:\n${stdout}\n${stderr}`);
        }
        resolve({ code, stdout, stderr });
      });
    });
  }
  const ok = (run: Run) => {
    assert.equal(run.code, 0, `exit ${run.code}\n${run.stdout}\n${run.stderr}`);
    return run;
  };

  it('imports with --param threshold=80, upgrades in place, refuses to overwrite edits without --force, lists, rolls back and removes', async () => {
    const v100 = write('echo-1.0.0.json', pack('1.0.0'));
    const dry = ok(await cli(['pack', 'import', v100, '--param', 'threshold=80', '--dry-run']));
    assert.match(dry.stdout, /Pack com\.example\.cli-echo \(Echo\): install 1\.0\.0/);
    assert.match(dry.stdout, /tabs added\s+Echo/);
    assert.match(dry.stdout, /nodes\s+4 added, 0 changed, 0 removed, 0 unchanged/);
    assert.match(dry.stdout, /parameters\s+THRESHOLD=80/);
    assert.deepEqual(await packIds(), [], 'a dry run deploys nothing');

    const first = ok(await cli(['pack', 'import', v100, '--param', 'threshold=80', '--yes']));
    assert.match(first.stdout, /Imported com\.example\.cli-echo 1\.0\.0: 5 nodes; parameters THRESHOLD=80\./);
    assert.deepEqual(await echo(), { version: '1.0.0', fromChange: 80, fromEnv: 80 }, 'the parameter reached the tab env');
    const ids1 = await packIds();
    assert.deepEqual(ids1, ['t1', 'in', 'chg', 'fn', 'out'].map((id) => packNodeId(PACK_ID, id)).sort());

    const upgrade = ok(await cli(['pack', 'import', write('echo-1.1.0.json', pack('1.1.0')), '--param', 'THRESHOLD=90', '-y']));
    assert.match(upgrade.stdout, /upgrade 1\.0\.0 -> 1\.1\.0/);
    assert.match(upgrade.stdout, /tabs changed\s+Echo/);
    assert.match(upgrade.stdout, /Imported com\.example\.cli-echo 1\.1\.0 \(was 1\.0\.0\): 5 nodes/);
    await waitFor('1.1.0 runs', async () => (await echo()).version === '1.1.0');
    assert.deepEqual(await packIds(), ids1, 'the same node ids, no more: upgraded in place');
    assert.equal((await flows()).flows.filter((n) => n.type === 'tab').length, 3, 'Mine, Notes and one Echo');

    // A user edits a node inside the pack's tab, as the editor would.
    const current = await flows();
    const edited = current.flows.map((n) => (n.type === 'function' && n.z === packNodeId(PACK_ID, 't1') ? { ...n, name: 'my tweak' } : n));
    const deploy = await fetch(`${server.httpUrl}/flows`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, 'Node-RED-API-Version': 'v2', 'Node-RED-Deployment-Type': 'full' }, body: JSON.stringify({ rev: current.rev, flows: edited }) });
    assert.equal(deploy.status, 200);
    const revEdited = (await flows()).rev;
    const v120 = write('echo-1.2.0.json', pack('1.2.0'));
    const refused = await cli(['pack', 'import', v120, '--yes']);
    assert.equal(refused.code, 1, refused.stderr);
    assert.match(refused.stderr, /warning: the tabs of com\.example\.cli-echo were edited since 1\.1\.0 was installed; importing overwrites those edits, and needs --force/);
    assert.match(refused.stderr, /FF_PACK_MODIFIED/);
    assert.match(refused.stderr, /Pass --force/);
    assert.equal((await flows()).rev, revEdited, 'refused: nothing deployed');
    assert.equal((await echo()).version, '1.1.0');
    ok(await cli(['pack', 'import', v120, '--force', '--yes']));
    await waitFor('1.2.0 runs', async () => (await echo()).version === '1.2.0');
    assert.equal((await echo()).fromEnv, 50, 'the default, as no parameters were given');
    assert.deepEqual(await packIds(), ids1);

    const table = ok(await cli(['pack', 'list'])).stdout.trimEnd().split('\n');
    assert.match(table[0], /^ID\s+NAME\s+VERSION\s+INSTALLED AT\s+BY\s+PREVIOUS VERSIONS$/);
    assert.match(table[1], /^com\.example\.cli-echo\s+Echo\s+1\.2\.0\s+\d{4}-\d\d-\d\dT[\d:.]+Z\s+user:admin\s+1\.1\.0, 1\.0\.0$/);
    const listed = JSON.parse(ok(await cli(['pack', 'list', '--json'])).stdout);
    assert.deepEqual(listed.map((p: any) => [p.id, p.version, p.params, p.history.map((h: any) => h.version)]), [[PACK_ID, '1.2.0', { THRESHOLD: 50 }, ['1.1.0', '1.0.0']]]);

    const rolled = ok(await cli(['pack', 'rollback', PACK_ID]));
    assert.match(rolled.stdout, /Rolled back com\.example\.cli-echo to 1\.1\.0: 5 nodes; parameters THRESHOLD=90\./);
    await waitFor('1.1.0 runs again', async () => (await echo()).version === '1.1.0');
    assert.equal((await echo()).fromEnv, 90, 'with the parameters 1.1.0 had');

    const unasked = await cli(['pack', 'remove', PACK_ID]);
    assert.equal(unasked.code, 2, 'no terminal to confirm on, and no --yes');
    assert.match(unasked.stderr, /pass --yes/);
    assert.deepEqual(await packIds(), ids1, 'not removed');
    assert.match(ok(await cli(['pack', 'remove', PACK_ID, '--yes'])).stdout, /Removed com\.example\.cli-echo 1\.1\.0: its 5 nodes\./);
    assert.deepEqual((await flows()).flows.map((n) => n.id).sort(), mineIds, 'only the user flows are left');
    assert.equal(ok(await cli(['pack', 'list'])).stdout.trim(), 'No packs are installed.');
  });

  it('exports a tab to a file and imports that file again as a new pack', async () => {
    const file = path.join(work, 'notes-pack.json');
    const args = ['pack', 'export', '--tab', 'Notes', '--id', 'com.example.notes', '--name', 'Notes', '--version', '1.0.0', '--description', 'the notes tab'];
    const exported = ok(await cli([...args, '-o', file]));
    assert.match(exported.stdout, /Exported com\.example\.notes 1\.0\.0 \(1 tab, 3 nodes\) to .*notes-pack\.json\./);
    const written = JSON.parse(fs.readFileSync(file, 'utf8'));
    assert.deepEqual(JSON.parse(ok(await cli(args)).stdout), written, 'without -o the same pack goes to stdout');
    assert.deepEqual([written.manifest.id, written.manifest.name, written.manifest.version, written.manifest.description], ['com.example.notes', 'Notes', '1.0.0', 'the notes tab']);
    assert.deepEqual(written.flows.map((n: any) => n.type).sort(), ['function', 'inject', 'tab']);

    const imported = ok(await cli(['pack', 'import', file, '--yes']));
    assert.match(imported.stdout, /tabs added\s+Notes/);
    const deployed = (await flows()).flows;
    const copies = written.flows.map((n: any) => deployed.find((d) => d.id === packNodeId('com.example.notes', n.id)));
    assert.ok(copies.every(Boolean), 'every exported node is deployed under the new pack id');
    assert.equal(copies.find((n: any) => n.type === 'function').func, 'msg.payload *= 2;\nreturn msg;');
    assert.deepEqual(deployed.filter((n) => mineIds.includes(n.id)).map((n) => n.id).sort(), mineIds, 'the original tab is still there');
    ok(await cli(['pack', 'remove', 'com.example.notes', '--yes']));
  });

  it('imports a folder whose pack.json names flows.json, and a function node whose code is a .js file, with values from a params file and a list parameter', async () => {
    const dir = path.join(work, 'greeter');
    write('greeter/pack.json', {
      manifest: { id: 'com.example.greeter', name: 'Greeter', version: '1.0.0', requires: { fieldflow: '>=0.1.0' } },
      parameters: { type: 'object', properties: { GREETING: { type: 'string', default: 'hello' }, TO: { type: 'array', items: { type: 'string' }, default: ['you'] } } },
      flows: 'flows.json',
    });
    write('greeter/flows.json', [
      { id: 'tab', type: 'tab', label: 'Greeter' },
      { id: 'in', z: 'tab', x: 100, y: 40, type: 'http in', url: '/cli-greet', method: 'get', wires: [['fn']] },
      { id: 'fn', z: 'tab', x: 260, y: 40, type: 'function', func: { file: 'functions/greet.js' }, outputs: 1, wires: [['out']] },
      { id: 'out', z: 'tab', x: 420, y: 40, type: 'http response', statusCode: '200', wires: [] },
    ]);
    write('greeter/functions/greet.js', "// Plain JavaScript, as the function node runs it.\nmsg.payload = `${env.get('GREETING')}, ${env.get('TO').join(' and ')}`;\nreturn msg;\n");
    const values = write('greeter-values.json', { greeting: 'bonjour', TO: ['nobody'] });
    const dry = ok(await cli(['pack', 'import', dir, '--params-file', values, '--param', 'to=Ada,Grace', '--dry-run']));
    assert.match(dry.stdout, /parameters\s+GREETING="bonjour", TO=\["Ada","Grace"\]/, 'a comma list, and --param wins over the file');
    ok(await cli(['pack', 'import', dir, '--params-file', values, '--param', 'to=["Ada, Countess","Grace"]', '--yes']));
    const answer = await waitFor('the folder pack answers', async () => {
      const r = await fetch(`${server.httpUrl}/cli-greet`, { signal: AbortSignal.timeout(2000) }).catch(() => null);
      return r?.status === 200 && (await r.text());
    });
    assert.equal(answer, 'bonjour, Ada, Countess and Grace');
    ok(await cli(['pack', 'remove', 'com.example.greeter', '--yes']));
  });

  it('refuses bad input with its code and a non-zero exit, and the flows stay exactly as they were', async () => {
    const before = await flows();
    const good = write('good.json', pack('1.0.0'));

    const notJson = await cli(['pack', 'import', write('bad.json', '{"manifest": '), '--yes']);
    assert.equal(notJson.code, 1);
    assert.match(notJson.stderr, /FF_MALFORMED_JSON: The pack file is not JSON/);
    assert.match(notJson.stderr, /at \/: /);

    const tooBig = await cli(['pack', 'import', write('big.json', JSON.stringify({ ...pack('1.0.0'), padding: 'x'.repeat(5 * 1024 * 1024) })), '--yes']);
    assert.equal(tooBig.code, 1);
    assert.match(tooBig.stderr, /FF_PACK_TOO_LARGE: The pack file is \d+ bytes; the limit is 5242880/);

    // A name with a terminal escape sequence (clear the screen) must not reach the terminal as one.
    const escaping = pack('1.0.0');
    escaping.manifest.name = 'Echo\u001b[2J\u001b[Hall is well';
    const dry = ok(await cli(['pack', 'import', write('escaping.json', escaping), '--dry-run']));
    assert.ok(!dry.stdout.includes('\u001b') && !dry.stderr.includes('\u001b'), JSON.stringify(dry.stdout));
    assert.match(dry.stdout, /Echo\[2J\[Hall is well/);

    const wrongType = await cli(['pack', 'import', good, '--param', 'threshold=lots', '--yes']);
    assert.equal(wrongType.code, 1);
    assert.match(wrongType.stderr, /FF_INVALID_PACK_PARAMETERS/);
    assert.match(wrongType.stderr, /at \/parameters\/THRESHOLD: must be number/);

    const unknown = await cli(['pack', 'import', good, '--param', 'limit=3', '--yes']);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /at \/parameters\/limit: is not a parameter of this pack; its parameters are THRESHOLD/);

    write('escape/pack.json', { ...pack('1.0.0'), flows: '../good.json' });
    const escape = await cli(['pack', 'import', path.join(work, 'escape'), '--yes']);
    assert.equal(escape.code, 1);
    assert.match(escape.stderr, /FF_INVALID_PACK/);
    assert.match(escape.stderr, /at \/flows: "\.\.\/good\.json" leads outside the pack folder/);

    const wrongPassword = await cli(['pack', 'import', good, '--yes'], { FIELDFLOW_PASSWORD: 'not-the-password' });
    assert.equal(wrongPassword.code, 1);
    assert.match(wrongPassword.stderr, /FF_AUTH_INVALID: Wrong username or password/);
    assert.match(wrongPassword.stderr, /FIELDFLOW_PASSWORD/);

    const noCredentials = await cli(['pack', 'list'], { FIELDFLOW_PASSWORD: '' });
    assert.equal(noCredentials.code, 2);
    assert.match(noCredentials.stderr, /no credentials: set FIELDFLOW_PASSWORD/);

    const nowhere = `http://127.0.0.1:${await freePort()}`;
    const down = await cli(['pack', 'import', good, '--yes'], { FIELDFLOW_URL: nowhere });
    assert.equal(down.code, 3);
    assert.match(down.stderr, new RegExp(`Cannot reach Fieldflow at ${nowhere.replace(/\./g, '\\.')}: connection refused`));

    const usage = await cli(['pack', 'import', good, '--frobnicate']);
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /Unknown option '--frobnicate'[\s\S]*Run fieldflow pack import --help/);
    assert.equal((await cli(['pack', 'import', path.join(work, 'missing.json')])).code, 2);

    const after = await flows();
    assert.equal(after.rev, before.rev, 'nothing was deployed');
    assert.equal(ok(await cli(['pack', 'list'])).stdout.trim(), 'No packs are installed.');
  });

  it('prints help for each command and its version without needing a server or credentials', async () => {
    const env = { FIELDFLOW_URL: 'http://127.0.0.1:9', FIELDFLOW_PASSWORD: '' };
    assert.match(ok(await cli(['--help'], env)).stdout, /Exit codes:\n\s+0\s+done/);
    for (const command of ['import', 'list', 'rollback', 'remove', 'export']) {
      assert.match(ok(await cli(['pack', command, '--help'], env)).stdout, new RegExp(`^Usage: fieldflow pack ${command}`));
    }
    assert.match(ok(await cli(['--version'], env)).stdout, /^\d+\.\d+\.\d+/);
  });
});
