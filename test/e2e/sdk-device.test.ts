import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import mqttPacket from 'mqtt-packet';
import { FieldflowDevice, ConnectionRefusedError, type DeviceCommand, type DeviceConfig } from '../../sdk';
import { ADMIN_PASSWORD, startServer, type ServerProcess } from '../support/server';
import { tempDir } from '../support/platform';
import { waitFor } from '../support/mqtt';
import { until } from '../support/until';
import { Api } from '../support/http';
import { CuttingProxy, channelMessages, createDevice, range } from '../unit/sdk/support';

const SDK = path.resolve(__dirname, '../../sdk/index.js');

/** Start the server again on the ports (and data) of an earlier one, as a restarted server comes back. */
async function startOnSamePorts(old: ServerProcess): Promise<ServerProcess> {
  const { dataDir, httpPort, mqttPort } = old;
  const s = await startServer({ dataDir, env: { PORT: String(httpPort), MQTT_PORT: String(mqttPort) } });
  const httpUrl = `http://127.0.0.1:${httpPort}`;
  return {
    ...s,
    httpPort,
    mqttPort,
    httpUrl,
    apiUrl: `${httpUrl}/api/v1`,
    mqttUrl: `mqtt://127.0.0.1:${mqttPort}`,
    wsUrl: `ws://127.0.0.1:${httpPort}/mqtt`,
    async admin() {
      const api = new Api(`${httpUrl}/api/v1`);
      await api.login('admin', ADMIN_PASSWORD);
      return api;
    },
  };
}

/**
 * A device process: publishes {seq} from..to on channel `log` through a queue directory, prints
 * "queued <seq>" when each is on disk and "acked <seq>" when the server has it, and exits after
 * the last ack unless told to stay.
 */
function deviceProcess(env: { url: string; id: string; token: string; dir: string; from: number; to: number }): { child: ChildProcess; queued: number[]; acked: number[]; exited: Promise<number | null> } {
  const script = `
    const { FieldflowDevice } = require(${JSON.stringify(SDK)});
    const e = JSON.parse(process.env.DEVICE);
    const device = new FieldflowDevice({ url: e.url, deviceId: e.id, token: e.token, queue: { dir: e.dir }, reconnectPeriodMs: 200 });
    device.on('queued', (m) => process.stdout.write('queued ' + JSON.parse(m.payload).seq + '\\n'));
    device.start().then(async () => {
      const sent = [];
      for (let seq = e.from; seq <= e.to; seq++) sent.push(device.publish('log', { seq }).then(() => process.stdout.write('acked ' + seq + '\\n')));
      await Promise.all(sent);
      await device.close();
    });`;
  const child = spawn(process.execPath, ['-e', script], { env: { ...process.env, DEVICE: JSON.stringify(env) }, stdio: ['ignore', 'pipe', 'inherit'] });
  const queued: number[] = [];
  const acked: number[] = [];
  let buf = '';
  child.stdout!.on('data', (d) => {
    buf += d;
    const lines = buf.split('\n');
    buf = lines.pop()!;
    for (const line of lines) {
      const [what, n] = line.split(' ');
      (what === 'queued' ? queued : acked).push(Number(n));
    }
  });
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  return { child, queued, acked, exited };
}

describe('SDK device against the real server', function () {
  this.timeout(120_000);
  let server: ServerProcess | undefined;
  let api: Api;
  const open: FieldflowDevice[] = [];
  const children: ChildProcess[] = [];

  const device = (opts: Partial<ConstructorParameters<typeof FieldflowDevice>[0]> & { deviceId: string; token: string }) => {
    const d = new FieldflowDevice({ url: server!.mqttUrl, reconnectPeriodMs: 200, ...opts });
    open.push(d);
    return d;
  };

  beforeEach(async () => {
    server = await startServer();
    api = await server.admin();
  });

  afterEach(async function () {
    for (const c of children.splice(0)) if (c.exitCode === null) c.kill('SIGKILL');
    for (const d of open.splice(0)) await d.close({ drainMs: 0 }).catch(() => undefined);
    if (this.currentTest?.state === 'failed') process.stderr.write(`--- server ---\n${server?.output()}\n`);
    await server?.stop();
  });

  it('publishes to a channel and commits tags, each resolving once the server has stored it', async () => {
    const { id, token } = await createDevice(api, 'sdk-1');
    const d = device({ deviceId: id, token });
    await d.connect();
    const receipts = await Promise.all([d.publish('telemetry', { temp: 21.5 }), d.publish('telemetry', { temp: 22 }), d.publish('telemetry', 7)]);
    assert.deepEqual(receipts.map((r) => r.seq), [1, 2, 3]);
    assert.match(receipts[0].messageId, /^[A-Za-z0-9_]{1,32}-1$/);
    const items = await channelMessages(api, id, 'telemetry');
    assert.deepEqual(items.map((m) => m.data), [{ temp: 21.5 }, { temp: 22 }, 7]);
    await d.commitTags({ firmware: '1.0.0', ok: true });
    const tags = await api.get(`/devices/${id}/tags/device`);
    assert.equal(tags.status, 200, JSON.stringify(tags.body));
    assert.equal(JSON.stringify(tags.body).includes('"firmware":"1.0.0"'), true, JSON.stringify(tags.body));
    assert.deepEqual(d.stats.queued, 0);
    assert.equal(d.stats.acked, 4);
  });

  it('refuses a wrong token with ConnectionRefusedError (return code 4) and stops retrying', async () => {
    const { id } = await createDevice(api, 'sdk-bad');
    const d = device({ deviceId: id, token: 'not-the-token' });
    const errors: Error[] = [];
    d.on('error', (e) => errors.push(e));
    await assert.rejects(d.connect(5000), (err: ConnectionRefusedError) => err instanceof ConnectionRefusedError && err.returnCode === 4 && err.code === 'FF_SDK_CONNECTION_REFUSED');
    await new Promise((r) => setTimeout(r, 600));
    assert.equal(errors.filter((e) => e instanceof ConnectionRefusedError).length, 1, 'one refusal, no retry loop');
  });

  it('queues messages published while the server is down and delivers them in order, exactly once, when it is back', async () => {
    const { id, token } = await createDevice(api, 'sdk-offline');
    const d = device({ deviceId: id, token, queue: { dir: tempDir() } });
    const events: string[] = [];
    d.on('connect', () => events.push('connect'));
    d.on('offline', () => events.push('offline'));
    await d.connect();
    await d.publish('log', { seq: 0 });

    const stopped = server!;
    await stopped.stop();
    await waitFor('offline', () => !d.connected);
    const pending = range(1, 40).map((seq) => d.publish('log', { seq }));
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(d.stats.queued, 40, 'kept while the server is down');
    server = await startOnSamePorts(stopped);
    api = await server.admin();
    await Promise.all(pending);
    const items = await channelMessages(api, id, 'log');
    assert.deepEqual(items.map((m) => m.data.seq), range(0, 40));
    assert.deepEqual(events.slice(0, 3), ['connect', 'offline', 'connect']);
  });

  it('stores every message exactly once, in order, over a link that keeps dropping (resends are de-duplicated)', async () => {
    const { id, token } = await createDevice(api, 'sdk-flaky');
    const proxy = await CuttingProxy.start(server!.mqttPort);
    // Count the PUBLISH packets the device sends, to see that some were sent again.
    const parsers = new Map<number, ReturnType<typeof mqttPacket.parser>>();
    let publishes = 0;
    proxy.tap = (conn, chunk) => {
      let parser = parsers.get(conn);
      if (!parser) {
        parser = mqttPacket.parser({ protocolVersion: 4 });
        parser.on('packet', (p) => p.cmd === 'publish' && publishes++);
        parsers.set(conn, parser);
      }
      parser.parse(chunk);
    };
    try {
      const d = device({ url: `mqtt://127.0.0.1:${proxy.port}`, deviceId: id, token, queue: { dir: tempDir() }, reconnectPeriodMs: 50 });
      await d.connect();
      const all = range(1, 1500).map((seq) => d.publish('log', { seq, pad: 'x'.repeat(100) }));
      let cuts = 0;
      const flaky = setInterval(() => {
        proxy.cutAll();
        cuts++;
      }, 150);
      try {
        await Promise.all(all);
      } finally {
        clearInterval(flaky);
      }
      assert.ok(cuts >= 2, `only ${cuts} cuts happened during the burst`);
      assert.ok(publishes > 1500, `${publishes} PUBLISH packets for 1500 messages: nothing was resent, so de-duplication was not exercised`);
      const seqs = (await channelMessages(api, id, 'log')).map((m) => m.data.seq);
      assert.equal(seqs.length, 1500, `${seqs.length} stored (duplicates or losses)`);
      assert.deepEqual(seqs, range(1, 1500));
    } finally {
      await proxy.close();
    }
  });

  it('keeps its queue across a kill of the device process: a new process on the same directory delivers everything once, in order', async () => {
    const { id, token } = await createDevice(api, 'sdk-restart');
    const dir = tempDir();
    const url = server!.mqttUrl;

    // Phase 1: connected, the first process publishes a burst and is killed while messages are in flight.
    const first = deviceProcess({ url, id, token, dir, from: 1, to: 3000 });
    children.push(first.child);
    await until(async () => first.acked.length, (n) => n >= 300, 30_000);
    first.child.kill('SIGKILL');
    await first.exited;
    assert.ok(first.acked.length < 3000, 'killed mid-burst');

    // Phase 2: the server is down; a second process publishes more, and is killed too.
    const stopped = server!;
    await stopped.stop();
    const second = deviceProcess({ url, id, token, dir, from: 3001, to: 3100 });
    children.push(second.child);
    await until(async () => second.queued.length, (n) => n === 100, 30_000);
    second.child.kill('SIGKILL');
    await second.exited;

    // Phase 3: the server comes back; a third process drains what the first two left, plus its own.
    server = await startOnSamePorts(stopped);
    api = await server.admin();
    const third = deviceProcess({ url, id, token, dir, from: 3101, to: 3110 });
    children.push(third.child);
    assert.equal(await third.exited, 0);
    const seqs = (await channelMessages(api, id, 'log')).map((m) => m.data.seq);
    assert.equal(seqs.length, 3110, `${seqs.length} stored`);
    assert.deepEqual(seqs, range(1, 3110));
  });

  it('receives its configuration (retained, on connect and on change) and commands', async () => {
    const { id, token } = await createDevice(api, 'sdk-config');
    const set = await api.request('PUT', `/devices/${id}/config`, { interval: 10, mode: 'eco' });
    assert.ok(set.status < 300, JSON.stringify(set.body));
    const d = device({ deviceId: id, token });
    const configs: DeviceConfig[] = [];
    const commands: DeviceCommand[] = [];
    d.on('config', (c) => configs.push(c));
    d.on('command', (c) => commands.push(c));
    await d.connect();
    await waitFor('retained config', () => configs.length === 1);
    assert.deepEqual(configs[0], { interval: 10, mode: 'eco' });
    await api.request('PUT', `/devices/${id}/config`, { interval: 5, mode: 'eco' });
    await waitFor('changed config', () => configs.length === 2);
    assert.deepEqual(d.config, { interval: 5, mode: 'eco' });

    const sent = await api.post(`/devices/${id}/commands/reboot`, { args: { delay: 3 } });
    assert.ok(sent.status < 300, JSON.stringify(sent.body));
    await waitFor('command', () => commands.length === 1);
    assert.equal(commands[0].name, 'reboot');
    assert.equal(typeof commands[0].id, 'string');
    assert.deepEqual(commands[0].args, { delay: 3 });
  });
});
