import assert from 'node:assert/strict';
import type { MqttClient } from 'mqtt';
import { startServer, type ServerProcess } from '../../support/server';
import type { Api } from '../../support/http';
import { connect, waitFor } from '../../support/mqtt';
import { startSmtpReceiver, type SmtpReceiver } from '../../support/receivers';
import { importBuiltin, removeBuiltin } from './support';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('the built-in telemetry-alarm pack, imported from flows/ into the real server', function () {
  this.timeout(60_000);
  let smtp: SmtpReceiver;
  let server: ServerProcess;
  let admin: Api;
  const clients: MqttClient[] = [];

  before(async () => {
    smtp = await startSmtpReceiver();
    server = await startServer({ env: { FIELDFLOW_SMTP_HOST: smtp.host, FIELDFLOW_SMTP_PORT: String(smtp.port), FIELDFLOW_SMTP_FROM: 'Fieldflow <alarms@fieldflow.test>' } });
    admin = await server.admin();
  });
  afterEach(function () {
    if (this.currentTest?.state === 'failed') process.stderr.write(`--- server output ---\n${server.output()}\n`);
  });
  after(async () => {
    for (const c of clients) await c.endAsync();
    await server?.stop();
    await smtp?.close();
  });

  it('raises an alarm and emails the device and the value when a device crosses the threshold, and does nothing below it', async () => {
    const watched = (await admin.post('/devices', { name: 'boiler-7', labels: { site: 'north' } })).body;
    const elsewhere = (await admin.post('/devices', { name: 'boiler-9', labels: { site: 'south' } })).body;
    const { installed } = await importBuiltin(
      server,
      admin,
      'telemetry-alarm',
      { THRESHOLD: 30, CHANNEL: 'telemetry', FIELD: 'boiler.temp', SELECTOR: 'site=north', ALARM_TYPE: 'boiler-hot', SEVERITY: 'critical', EMAIL_TO: ['ops@example.com', 'oncall@example.com'] },
      { nodes: 4, types: ['comment', 'device trigger', 'function', 'notify'] },
    );
    assert.deepEqual(installed.resources.map((r) => [r.kind, r.name]), [['endpoints', 'Telemetry alarm: email']]);
    const endpoint = (await admin.get(`/notifications/endpoints/${installed.resources[0].id}`)).body;
    assert.deepEqual([endpoint.type, endpoint.config.to], ['email', ['ops@example.com', 'oncall@example.com']]);
    await waitFor('the trigger running', async () => (await admin.get('/triggers')).body.items.find((t: any) => t.owner === 'flow' && t.threshold === 30 && t.selector === 'site=north'));

    const publish = async (device: { id: string; token: string }, temp: number) => {
      let client = clients.find((c) => c.options.username === device.id);
      if (!client) clients.push((client = await connect(server.mqttUrl, { username: device.id, password: device.token, clientId: device.id })));
      await client.publishAsync(`devices/${device.id}/channels/telemetry`, JSON.stringify({ boiler: { temp } }), { qos: 1 });
    };
    const alarms = async (device: string) => (await admin.get(`/alarms?device=${device}&type=boiler-hot`)).body.items as any[];

    await publish(watched, 20);
    await publish(watched, 29.5);
    await publish(elsewhere, 20);
    await publish(elsewhere, 50);
    await sleep(1000);
    assert.deepEqual(await alarms(watched.id), [], 'values below the threshold raise nothing');
    assert.deepEqual(await alarms(elsewhere.id), [], 'a device the selector leaves out is not watched');
    assert.equal(smtp.messages.length, 0, 'and email nobody');

    await publish(watched, 31.5);
    const [alarm] = await waitFor('the alarm', async () => {
      const list = await alarms(watched.id);
      return list.length > 0 && list;
    });
    assert.deepEqual([alarm.status, alarm.severity, alarm.details.value], ['active', 'critical', 31.5]);
    const [mail] = await smtp.waitFor(1);
    assert.deepEqual(mail.envelope.to.sort(), ['oncall@example.com', 'ops@example.com']);
    assert.equal(mail.mail.subject, '[critical] boiler.temp is 31.5 on boiler-7');
    const text = mail.mail.text ?? '';
    assert.match(text, /^boiler-7 reported boiler\.temp = 31\.5 on channel telemetry at \d{4}-\d\d-\d\dT[\d:.]+Z: at or above the threshold of 30\./);
    assert.ok(text.includes(watched.id), 'the email names the device id');
    assert.ok(text.includes('An alarm of type boiler-hot is raised'));

    // Back below the threshold: the alarm clears, and nobody is emailed again.
    await publish(watched, 25);
    await waitFor('the alarm cleared', async () => (await alarms(watched.id))[0]?.status === 'cleared');
    await sleep(500);
    assert.equal(smtp.messages.length, 1);

    await removeBuiltin(server, admin, installed);
    assert.equal((await admin.get('/triggers')).body.items.filter((t: any) => t.owner === 'flow').length, 0, 'the trigger went with its node');
  });
});
