import assert from 'node:assert/strict';
import { startServer, type ServerProcess } from '../../support/server';
import type { Api } from '../../support/http';
import { startSmtpReceiver, type SmtpReceiver } from '../../support/receivers';
import { cronAt, importBuiltin, parseCsv, removeBuiltin } from './support';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
/** UTC+5 all year: "yesterday" there is easy to work out here, and is not the UTC day. */
const TIMEZONE = 'Etc/GMT-5';
const OFFSET = 5 * HOUR;
const iso = (ms: number) => new Date(ms).toISOString();

describe('the built-in daily-report pack, imported from flows/ into the real server', function () {
  this.timeout(60_000);
  let smtp: SmtpReceiver;
  let server: ServerProcess;
  let admin: Api;

  before(async () => {
    smtp = await startSmtpReceiver();
    server = await startServer({ env: { FIELDFLOW_SMTP_HOST: smtp.host, FIELDFLOW_SMTP_PORT: String(smtp.port), FIELDFLOW_SMTP_FROM: 'Fieldflow <reports@fieldflow.test>' } });
    admin = await server.admin();
  });
  afterEach(function () {
    if (this.currentTest?.state === 'failed') process.stderr.write(`--- server output ---\n${server.output()}\n`);
  });
  after(async () => {
    await server?.stop();
    await smtp?.close();
  });

  it("emails, when its schedule runs, a CSV of yesterday's messages of the selected devices, by device time", async () => {
    // The run, a few seconds from now; the report covers the day before it, in the pack's timezone.
    const runAt = Math.ceil((Date.now() + 8000) / 1000) * 1000;
    const local = runAt + OFFSET;
    const today = local - (local % DAY) - OFFSET;
    const start = today - DAY;
    const date = iso(start + OFFSET).slice(0, 10);

    const device = async (name: string, labels: Record<string, string>) => (await admin.post('/devices', { name, labels })).body as { id: string; name: string };
    const [m1, m2, m3] = [await device('meter-1', { report: 'daily' }), await device('meter-2', { report: 'daily' }), await device('meter-3', { report: 'none' })];
    const publish = async (d: { id: string }, data: unknown) => {
      const r = await admin.post(`/devices/${d.id}/channels/telemetry/messages`, data);
      assert.equal(r.status, 201, JSON.stringify(r.body));
      return r.body as { id: string; ts: string };
    };
    // Device times (the `ts` field) as ISO text, milliseconds and seconds; the messages themselves arrive today.
    const first = await publish(m1, { ts: iso(start), temp: 20.5, hum: 40 });
    await publish(m1, { ts: start - 1, temp: 10 });
    const noon = await publish(m1, { ts: start + 12 * HOUR, temp: 21, note: 'a,b "c"\nd' });
    await publish(m3, { ts: iso(start + HOUR), temp: 99 });
    const seconds = await publish(m2, { ts: (start + 13 * HOUR) / 1000, temp: -3 });
    await publish(m2, { ts: iso(today), temp: 30 });
    await publish(m2, { temp: 5 });
    const last = await publish(m1, { ts: iso(today - 1), temp: 22, name: '=cmd()' });

    const { installed } = await importBuiltin(
      server,
      admin,
      'daily-report',
      { CHANNEL: 'telemetry', SELECTOR: 'report=daily', EMAIL_TO: ['reports@example.com'], CRON: cronAt(runAt, TIMEZONE), TIMEZONE },
      { nodes: 10, types: ['comment', 'schedule', 'function', 'history', 'notify', 'catch'] },
    );
    const schedule = (await admin.get('/schedules')).body.items.find((s: any) => s.name === 'Daily report (com.fieldflow.daily-report)');
    assert.deepEqual([schedule?.id, schedule?.timezone, Date.parse(schedule?.nextRunAt)], [installed.resources.find((r) => r.kind === 'schedules')!.id, TIMEZONE, runAt]);

    const [mail] = await smtp.waitFor(1, 20_000);
    assert.deepEqual(mail.envelope.to, ['reports@example.com']);
    assert.equal(mail.mail.subject, `Daily report: telemetry on ${date}`);
    assert.equal(mail.mail.text?.trim(), `4 messages from 2 devices on the channel telemetry, ${date} (${TIMEZONE}). The CSV is attached.`);
    assert.equal(mail.mail.attachments.length, 1);
    const [file] = mail.mail.attachments;
    assert.deepEqual([file.filename, file.contentType], [`telemetry-${date}.csv`, 'text/csv']);
    const rows = parseCsv(file.content.toString('utf8'));
    const received = (m: { ts: string }) => iso(Date.parse(m.ts));
    assert.deepEqual(rows, [
      ['time', 'received', 'device', 'device_id', 'message_id', 'temp', 'hum', 'note', 'name'],
      [iso(start), received(first), 'meter-1', m1.id, first.id, '20.5', '40', '', ''],
      [iso(start + 12 * HOUR), received(noon), 'meter-1', m1.id, noon.id, '21', '', 'a,b "c"\nd', ''],
      [iso(start + 13 * HOUR), received(seconds), 'meter-2', m2.id, seconds.id, '-3', '', '', ''],
      [iso(today - 1), received(last), 'meter-1', m1.id, last.id, '22', '', '', "'=cmd()"],
    ]);

    await removeBuiltin(server, admin, installed);
  });
});
