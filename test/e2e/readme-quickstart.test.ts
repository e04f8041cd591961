import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { startServer, type ServerProcess } from '../support/server';
import { Api } from '../support/http';
import { tempDir } from '../support/platform';
import { waitFor } from '../support/mqtt';
import { deployFlows, editorToken } from '../support/nodered';
import { startPushService, type PushService } from '../support/push-service';

/** The checkout: the README's commands run from it, as the README says (step 7 runs `npx fieldflow-sim`). */
const ROOT = path.resolve(__dirname, '..', '..', '..');

interface Step {
  n: number;
  text: string;
  blocks: string[];
}

/** The quick start's numbered steps, each with its text and its ```sh blocks, read from README.md. */
function quickStart(): Step[] {
  const md = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const start = md.indexOf('\n## Quick start');
  assert.ok(start >= 0, 'README.md has a Quick start section');
  const section = md.slice(start, md.indexOf('\n## ', start + 1));
  const steps: Step[] = [];
  let block: string[] | null = null;
  for (const line of section.split('\n')) {
    if (block) {
      if (line.startsWith('```')) {
        steps.at(-1)!.blocks.push(block.join('\n'));
        block = null;
      } else block.push(line);
      continue;
    }
    const heading = /^\*\*(\d+)\. /.exec(line);
    if (heading) steps.push({ n: Number(heading[1]), text: '', blocks: [] });
    else if (line.startsWith('```sh')) block = [];
    if (steps.length && !line.startsWith('```')) steps.at(-1)!.text += `${line}\n`;
  }
  return steps;
}

/** The top-level JSON values jq printed (pretty, one after another), leaving out the simulator's log lines. */
function printed(output: string): any[] {
  const values: any[] = [];
  let current: string[] | null = null;
  for (const line of output.split('\n')) {
    if (/^\[\d\d:\d\d:\d\d\] /.test(line)) continue;
    if (current === null && (line === '{' || line === '[')) current = [];
    if (current === null) continue;
    current.push(line);
    if (line === '}' || line === ']') {
      values.push(JSON.parse(current.join('\n')));
      current = null;
    }
  }
  return values;
}

/**
 * One bash, fed the README's blocks one at a time, as a user pastes them into one terminal. `set -e -o
 * pipefail` makes a command that fails stop the shell, so a step that does not work as written fails the test.
 */
class Shell {
  readonly child: ChildProcess;
  private out = '';
  private err = '';
  private marks = 0;
  private exited: number | null = null;

  constructor(env: NodeJS.ProcessEnv) {
    this.child = spawn('bash', ['--norc', '--noprofile'], { cwd: ROOT, env, stdio: ['pipe', 'pipe', 'pipe'], detached: true });
    this.child.stdout!.on('data', (d) => (this.out += d));
    this.child.stderr!.on('data', (d) => (this.err += d));
    this.child.once('exit', (code) => (this.exited = code ?? -1));
    this.child.stdin!.write('set -e -o pipefail\n');
  }

  output(): string {
    return `--- stdout ---\n${this.out}\n--- stderr ---\n${this.err}`;
  }

  /** Run `code`; resolves with what it printed to stdout and stderr. */
  async run(code: string, timeoutMs = 60_000): Promise<{ stdout: string; stderr: string }> {
    const mark = `@@ff-quickstart-${++this.marks}@@`;
    const from = { out: this.out.length, err: this.err.length };
    this.child.stdin!.write(`${code}\nprintf '\\n%s\\n' '${mark}'\n`);
    const deadline = Date.now() + timeoutMs;
    while (!this.out.includes(`\n${mark}\n`)) {
      if (this.exited !== null) throw new Error(`bash stopped (exit ${this.exited}) while running:\n${code}\n${this.output()}`);
      if (Date.now() > deadline) throw new Error(`still running after ${timeoutMs} ms:\n${code}\n${this.output()}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    return { stdout: this.out.slice(from.out, this.out.indexOf(`\n${mark}\n`, from.out)), stderr: this.err.slice(from.err) };
  }

  /** The values of shell variables the README set. */
  async vars(...names: string[]): Promise<Record<string, string>> {
    const { stdout } = await this.run(names.map((n) => `printf '@@var %s=%s\\n' ${n} "\${${n}-}"`).join('\n'));
    return Object.fromEntries([...stdout.matchAll(/^@@var (\w+)=(.*)$/gm)].map((m) => [m[1], m[2]]));
  }

  /** Stop bash and whatever it left running in the background (the simulator), and wait for them. */
  async close(): Promise<void> {
    const group = -this.child.pid!;
    const alive = () => {
      try {
        process.kill(group, 0);
        return true;
      } catch {
        return false;
      }
    };
    if (alive()) process.kill(group, 'SIGTERM');
    const deadline = Date.now() + 10_000;
    while (alive() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    if (alive()) process.kill(group, 'SIGKILL');
  }
}

/** Every file in the checkout except what git, npm and the build own (and .node/, where scripts/ensure-node.sh puts Node), with its modification time. */
function checkoutFiles(): Map<string, number> {
  const files = new Map<string, number>();
  const walk = (dir: string) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const file = path.join(dir, entry.name);
      if (dir === ROOT && ['.git', 'node_modules', 'dist', '.node'].includes(entry.name)) continue;
      if (entry.isDirectory()) walk(file);
      else files.set(path.relative(ROOT, file), fs.statSync(file).mtimeMs);
    }
  };
  walk(ROOT);
  return files;
}

describe("the README's quick start, run as written", function () {
  this.timeout(300_000);
  const steps = quickStart();
  const step = (n: number) => {
    const s = steps.find((x) => x.n === n);
    assert.ok(s, `the quick start has a step ${n}`);
    return s;
  };
  let server: ServerProcess;
  let push: PushService;
  let shell: Shell;
  let api: Api;
  let password: string;
  let untouched: Map<string, number>;
  const stateHome = tempDir('fieldflow-quickstart-state-');

  before(async () => {
    // The tools are part of the test's setup, as the browser is for the browser tests: without them it fails, never skips.
    const missing = ['curl', 'jq', 'mosquitto_pub'].filter((tool) => spawnSync('bash', ['-c', `command -v ${tool}`]).status !== 0);
    assert.deepEqual(missing, [], 'the quick start uses curl, jq and mosquitto_pub: apt-get install -y curl jq mosquitto-clients (CI installs them)');
    push = await startPushService();
    // A fresh server on ports that are not the defaults, with the password generated and printed at its first
    // start. The local push service stands in for the browser's (step 6), so the server trusts it and may reach it.
    server = await startServer({
      env: { FIELDFLOW_ADMIN_PASSWORD: '', FIELDFLOW_CREDENTIAL_SECRET: '', NODE_EXTRA_CA_CERTS: push.caFile, FIELDFLOW_NOTIFY_ALLOW_PRIVATE: '127.0.0.1' },
    });
    password = /Login +admin \/ (\S+)/.exec(server.output())?.[1] ?? '';
    assert.ok(password, server.output());
    api = new Api(server.apiUrl);
    await api.login('admin', password);
    untouched = checkoutFiles();
    const env: NodeJS.ProcessEnv = {};
    for (const [k, v] of Object.entries(process.env)) if (!/^(PORT|MQTT_PORT|FF|FIELDFLOW_.*|XDG_STATE_HOME)$/.test(k)) env[k] = v;
    // What the README asks of a user who started the server on other ports; the simulator's state goes to a
    // per-user folder, here a temporary one. npx must find the simulator in the checkout, never fetch it.
    Object.assign(env, { PORT: String(server.httpPort), MQTT_PORT: String(server.mqttPort), XDG_STATE_HOME: stateHome, npm_config_offline: 'true', npm_config_update_notifier: 'false' });
    shell = new Shell(env);
  });
  afterEach(function () {
    if (this.currentTest?.state === 'failed') process.stderr.write(`${shell?.output()}\n--- server output ---\n${server.output()}\n`);
  });
  after(async () => {
    await shell?.close();
    await push?.close();
    const code = await server?.stop();
    assert.equal(code, 0, `server did not exit cleanly:\n${server.output()}`);
  });

  it('takes its ports from PORT and MQTT_PORT, which default to those of a default start', () => {
    for (const s of steps) for (const code of s.blocks) assert.doesNotMatch(code.replace(/\$\{PORT:-1880\}|\$\{MQTT_PORT:-1883\}/g, ''), /1880|1883/, code);
    const exports = step(1).blocks[0].split('\n').filter((l) => l.startsWith('export '));
    const env = { PATH: process.env.PATH };
    const r = spawnSync('bash', ['--norc', '-c', `${exports.join('\n')}\nprintf '%s\\n' "$FF" "$FIELDFLOW_MQTT_URL"`], { env, encoding: 'utf8' });
    assert.deepEqual(r.stdout.split('\n').slice(0, 2), ['http://localhost:1880/api/v1', 'mqtt://localhost:1883']);
  });

  it('1. logs in with the printed password and creates pump-1', async () => {
    const [code] = step(1).blocks;
    assert.ok(code.includes("'<the password>'"), 'the user puts the password in place of <the password>');
    const { stdout, stderr } = await shell.run(code.replace("'<the password>'", `'${password}'`));
    assert.equal(stderr, '');
    const [device] = printed(stdout);
    const { DEVICE, DEVICE_TOKEN } = await shell.vars('DEVICE', 'DEVICE_TOKEN');
    assert.deepEqual([device.id, device.token, device.name, device.labels, device.model], [DEVICE, DEVICE_TOKEN, 'pump-1', { site: 'north' }, null]);
    assert.equal((await api.get(`/devices/${DEVICE}`)).body.name, 'pump-1');
  });

  it("2. (the editor part, done through the editor's admin API) imports and deploys the example it names", async () => {
    const name = /Examples > @fieldflow\/nodes > ([^*]+)\*/.exec(step(2).text.replace(/\s+/g, ' '))?.[1];
    assert.equal(name, 'channel in - convert and store');
    const token = await editorToken(server.httpUrl, password);
    const example = await (await fetch(`${server.httpUrl}/library/examples/flows/@fieldflow/nodes/${encodeURIComponent(name!)}`, { headers: { authorization: `Bearer ${token}` } })).json();
    await deployFlows(server.httpUrl, password, [{ id: 'quickstart000001', type: 'tab', label: 'quick start' }, ...example.map((n: any) => ({ ...n, z: 'quickstart000001' }))]);
  });

  it('3. publishes over MQTT and HTTP; the example flow converts each temperature', async () => {
    const [mqtt, http] = step(3).blocks;
    assert.equal((await shell.run(mqtt)).stderr, '');
    assert.equal((await shell.run(http)).stderr, '');
    const { DEVICE } = await shell.vars('DEVICE');
    const history = (await api.get(`/devices/${DEVICE}/channels/telemetry/messages?order=asc`)).body.items.map((m: any) => m.data);
    assert.deepEqual(history, [{ temp: 21.5, pump: { rpm: 1200 } }, { temp: 22 }]);
    const converted = await waitFor('the converted temperatures', async () => {
      const r = await api.get(`/devices/${DEVICE}/channels/temperature_f/messages?order=asc`);
      return r.status === 200 && r.body.items.length === 2 && r.body.items.map((m: any) => m.data);
    });
    assert.deepEqual(converted, [{ fahrenheit: 70.7 }, { fahrenheit: 71.6 }]);
  });

  it('4. prints the history, newest first, and the merged aggregate', async () => {
    const { stdout, stderr } = await shell.run(step(4).blocks[0]);
    assert.equal(stderr, '');
    const [history, aggregate] = printed(stdout);
    assert.deepEqual(history.items.map((m: any) => m.data), [{ temp: 22 }, { temp: 21.5, pump: { rpm: 1200 } }]);
    assert.deepEqual(aggregate.data, { temp: 22, pump: { rpm: 1200 } });
  });

  it('5. creates the trigger, backtests it and lists the alarms', async () => {
    const { stdout, stderr } = await shell.run(step(5).blocks[0]);
    assert.equal(stderr, '');
    const [trigger, backtest, alarms] = printed(stdout);
    assert.deepEqual([trigger.name, trigger.channel, trigger.path, trigger.threshold], ['too warm', 'telemetry', 'temp', 30]);
    assert.deepEqual((await api.get('/triggers')).body.items.map((t: any) => t.id), [trigger.id]);
    assert.deepEqual(backtest, { count: 0, fires: [] }, 'neither 21.5 nor 22 crosses 25');
    assert.deepEqual(alarms.items, []);
  });

  it('6. routes alarms to the web push endpoint the opt-in page registered', async () => {
    // The browser part is done here the way the page does it, with a local push service in place of the
    // browser's: headless Chromium has no push service to subscribe with (Chrome's is Google's, on the internet).
    const { publicKey } = (await api.get('/notifications/push/key')).body;
    const endpoint = await api.post('/notifications/push/subscriptions', { subscription: push.subscribe({ applicationServerKey: publicKey }), name: 'my browser' });
    assert.equal(endpoint.status, 201, JSON.stringify(endpoint.body));
    const { stdout, stderr } = await shell.run(step(6).blocks[0]);
    assert.equal(stderr, '');
    const [subscription] = printed(stdout);
    assert.equal((await shell.vars('PUSH')).PUSH, endpoint.body.id);
    assert.deepEqual([subscription.name, subscription.events, subscription.endpoints], ['alarms to my browser', ['AlarmRaised'], [endpoint.body.id]]);
    assert.equal((await api.get(`/notifications/subscriptions/${subscription.id}`)).status, 200);
  });

  it('7. waits for the simulated pumps, rolls out to them, leaves pump-1 out, and the failing pump fails as planned', async () => {
    const { stdout, stderr } = await shell.run(step(7).blocks[0], 120_000);
    assert.doesNotMatch(stderr, /jq: error|curl: \(/);
    const { DEVICE, ROLLOUT } = await shell.vars('DEVICE', 'ROLLOUT');
    const status = printed(stdout).at(-1);
    assert.ok(['running', 'halted', 'completed'].includes(status.status), `the rollout's own status, not an error's: ${JSON.stringify(status)}`);
    assert.deepEqual([status.waves, status.devices, status.skipped], [3, 8, { count: 1, devices: [{ id: DEVICE, model: null }] }]);

    const sim = JSON.parse(fs.readFileSync(path.join(stateHome, 'fieldflow', 'sim', `localhost-${server.httpPort}.json`), 'utf8'));
    assert.equal(sim.devices.length, 8);
    const failing = sim.devices[0].id;
    const ended = await waitFor('the rollout to end', async () => {
      const r = (await api.get(`/ota/rollouts/${ROLLOUT}`)).body;
      return ['completed', 'halted'].includes(r.status) && r;
    }, 120_000);
    const updates = (await api.get(`/ota/rollouts/${ROLLOUT}/updates?limit=100`)).body.items as any[];
    const failed = updates.find((u) => u.deviceId === failing);
    assert.deepEqual([failed.state, failed.reason], ['failed', 'install_failed']);
    if (failed.wave === 0) {
      assert.deepEqual([ended.status, ended.haltReason], ['halted', 'canary_failed']);
    } else {
      assert.deepEqual([ended.status, ended.progress.succeeded, ended.progress.failed], ['completed', 7, 1]);
    }
  });

  it('leaves nothing in the checkout', () => {
    const after = checkoutFiles();
    const changed = [...after].filter(([file, mtime]) => untouched.get(file) !== mtime).map(([file]) => file);
    assert.deepEqual(changed, []);
  });
});
