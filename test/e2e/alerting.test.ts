import assert from 'node:assert/strict';
import type { MqttClient } from 'mqtt';
import { startServer, type ServerProcess } from '../support/server';
import type { Api } from '../support/http';
import { connect, waitFor } from '../support/mqtt';

describe('alerting end to end: a real MQTT device, a trigger, its alarm, and a backtest', function () {
  this.timeout(60_000);
  let server: ServerProcess;
  let api: Api;
  let device: { id: string; token: string };
  let client: MqttClient;

  before(async () => {
    server = await startServer();
    api = await server.admin();
    const created = await api.post('/devices', { name: 'tank-1', labels: { site: 'north' } });
    device = { id: created.body.id, token: created.body.token };
    client = await connect(server.mqttUrl, { username: device.id, password: device.token, clientId: device.id });
  });
  afterEach(function () {
    if (this.currentTest?.state === 'failed') process.stderr.write(`--- server output ---\n${server.output()}\n`);
  });
  after(async () => {
    await client?.endAsync();
    const code = await server.stop();
    assert.equal(code, 0, `server did not exit cleanly:\n${server.output()}`);
  });

  it('commits tags over MQTT, and drops a commit of the wrong type, counting it on the device', async () => {
    await api.patch('/tags/meta/types', { firmware: 'string', fill: 'number' });
    await client.publishAsync(`devices/${device.id}/tags/meta`, JSON.stringify({ firmware: '1.0.3', fill: 40 }), { qos: 1 });
    await client.publishAsync(`devices/${device.id}/tags/meta`, JSON.stringify({ firmware: 2, fill: 41 }), { qos: 1 });
    const tags = await api.get(`/devices/${device.id}/tags/meta`);
    assert.deepEqual(tags.body.values, { firmware: '1.0.3', fill: 40 });
    const d = (await api.get(`/devices/${device.id}`)).body;
    assert.equal(d.ingestErrors.FF_TAG_TYPE_MISMATCH, 1);
    assert.equal(d.lastIngestError.channel, 'tags/meta');
  });

  it('raises an alarm when the level crosses 80% and holds, lets a person acknowledge it, clears it below 75%, and the backtest matches', async () => {
    const spec = { name: 'tank high', selector: 'site=north', channel: 'level', path: 'pct', kind: 'cross', threshold: 80, deadband: 5, forSeconds: 0.3, alarm: { severity: 'critical' } };
    const trigger = (await api.post('/triggers', spec)).body;
    const from = new Date().toISOString();
    const send = (pct: number) => client.publishAsync(`devices/${device.id}/channels/level`, JSON.stringify({ pct }), { qos: 1 });
    const activeAlarm = async () => (await api.get(`/alarms?device=${device.id}&type=tank%20high&status=active`)).body.items[0];

    await send(50);
    await send(85);
    await send(72); // back below 75 before the hold ends: no alarm
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(await activeAlarm(), undefined);
    await send(83);
    const alarm = await waitFor('the alarm', activeAlarm);
    assert.equal(alarm.severity, 'critical');
    assert.deepEqual(alarm.source, { kind: 'trigger', id: trigger.id });
    assert.equal(alarm.details.value, 83);

    const acked = await api.post(`/alarms/${alarm.id}/ack`, { comment: 'pump crew on the way' });
    assert.deepEqual([acked.body.acknowledged, acked.body.ackedBy, acked.body.status], [true, 'user:admin', 'active']);

    await send(77); // inside the deadband: still active
    await new Promise((r) => setTimeout(r, 200));
    assert.equal((await api.get(`/alarms/${alarm.id}`)).body.status, 'active');
    await send(70);
    const cleared = await waitFor('the clear', async () => {
      const a = (await api.get(`/alarms/${alarm.id}`)).body;
      return a.status === 'cleared' && a;
    });
    assert.deepEqual([cleared.acknowledged, cleared.clearedBy], [true, `trigger:${trigger.id}`]);

    await send(90);
    await new Promise((r) => setTimeout(r, 600));
    const events = (await api.get(`/devices/${device.id}/channels/events/messages?order=asc`)).body.items.map((m: any) => m.data);
    assert.equal(events.length, 2);
    assert.deepEqual(events.map((e: any) => [e.type, e.value, e.edge]), [['TriggerFired', 83, 'rising'], ['TriggerFired', 90, 'rising']]);

    const backtest = (await api.post(`/triggers/${trigger.id}/backtest`, { from })).body;
    assert.deepEqual(
      backtest.fires.map((f: any) => [Date.parse(f.ts), f.value, f.messageId]),
      events.map((e: any) => [e.ts, e.value, e.messageId]),
    );
    assert.equal(backtest.scanned, 7);
  });
});
