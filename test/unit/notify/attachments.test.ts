import assert from 'node:assert/strict';
import { startApiServer, type ApiServer } from '../../support/api-server';
import { tempDir } from '../../support/platform';
import { startSmtpReceiver, startWebhookReceiver, type SmtpReceiver, type WebhookReceiver } from '../../support/receivers';
import { until } from '../../support/until';
import { isFieldflowError } from '../../../runtime/errors';
import { MAX_ATTACHMENT_BYTES } from '../../../runtime/notify/attachments';

const CSV = 'time,device,temp\n2026-11-21T10:00:00.000Z,boiler-7,21.5\n';
/** Bytes that are not text: a PNG signature and a NUL. */
const BINARY = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0xff]);

describe('notification attachments', () => {
  let smtp: SmtpReceiver;
  let hook: WebhookReceiver;
  let s: ApiServer | null = null;
  let dataDir: string;

  const start = async () => {
    s = await startApiServer({
      dataDir,
      notify: {
        smtp: { host: smtp.host, port: smtp.port, secure: false, requireTls: false, rejectUnauthorized: false, from: 'Fieldflow <reports@fieldflow.test>', timeoutMs: 2000 },
        backoffBaseMs: 20,
        backoffMaxMs: 50,
        maxAttempts: 2,
        allowPrivate: ['127.0.0.1'],
      },
    });
    return s;
  };

  beforeEach(async () => {
    dataDir = tempDir('fieldflow-attachments-');
    [smtp, hook] = await Promise.all([startSmtpReceiver(), startWebhookReceiver()]);
  });
  afterEach(async () => {
    await s?.close();
    s = null;
    await Promise.all([smtp.close(), hook.close()]);
  });

  it('emails text and binary attachments as MIME parts, while a webhook of the same send gets the text alone', async () => {
    const { admin, platform } = await start();
    const mail = await admin.post('/notifications/endpoints', { type: 'email', name: 'reports', config: { to: ['ops@example.com'] } });
    const web = await admin.post('/notifications/endpoints', { type: 'webhook', name: 'hook', config: { url: hook.url } });
    const deliveries = await platform.notify.send({
      endpoints: [mail.body.id, web.body.id],
      subject: 'Daily report',
      body: 'Attached.',
      attachments: [
        { filename: 'report.csv', contentType: 'text/csv', content: CSV },
        { filename: 'logo.png', content: BINARY.toString('base64'), encoding: 'base64' },
      ],
    });
    const [received] = await smtp.waitFor(1);
    assert.equal(received.mail.subject, 'Daily report');
    assert.deepEqual(
      received.mail.attachments.map((a) => [a.filename, a.contentType, a.content.toString('base64')]),
      [
        ['report.csv', 'text/csv', Buffer.from(CSV).toString('base64')],
        ['logo.png', 'image/png', BINARY.toString('base64')],
      ],
    );
    const [call] = await hook.waitFor(1);
    assert.equal(call.body.text, 'Attached.');
    assert.ok(!call.raw.includes(BINARY.toString('base64')) && !('attachments' in call.body), 'the webhook carries no files');
    const byType = Object.fromEntries(deliveries.map((d) => [d.endpointType, d]));
    const view = await until(() => admin.get(`/notifications/deliveries/${byType.email.key}`), (r) => r.body.status === 'sent');
    assert.deepEqual(view.body.attachments, [
      { filename: 'report.csv', contentType: 'text/csv', size: Buffer.byteLength(CSV) },
      { filename: 'logo.png', contentType: null, size: BINARY.length },
    ]);
    assert.ok(!JSON.stringify(view.body).includes(BINARY.toString('base64')), 'views never show the content');
    assert.deepEqual((await admin.get(`/notifications/deliveries/${byType.webhook.key}`)).body.attachments, []);
  });

  it('keeps the files of a dead-lettered email across a restart, sends them on resend, and then keeps only their names and sizes', async () => {
    await smtp.close();
    let { admin } = await start();
    const ep = await admin.post('/notifications/endpoints', { type: 'email', name: 'reports', config: { to: ['ops@example.com'] } });
    const sent = await admin.post('/notifications/send', { endpoints: [ep.body.id], subject: 'report', body: 'see attached', attachments: [{ filename: 'a.csv', content: CSV }] });
    assert.equal(sent.status, 202, JSON.stringify(sent.body));
    const id = sent.body.items[0].id;
    await until(() => admin.get(`/notifications/deliveries/${id}`), (r) => r.body.status === 'dead');
    await s!.close();

    smtp = await startSmtpReceiver(smtp.port);
    ({ admin } = await start());
    assert.equal((await admin.post(`/notifications/deliveries/${id}/resend`)).status, 202);
    const [received] = await smtp.waitFor(1);
    assert.deepEqual(received.mail.attachments.map((a) => [a.filename, a.content.toString('utf8')]), [['a.csv', CSV]]);
    await until(() => admin.get(`/notifications/deliveries/${id}`), (r) => r.body.status === 'sent');
    await until(async () => s!.platform.notify.getDelivery(id).message.attachments?.[0].content, (content) => content === null);
    await s!.close();

    ({ admin } = await start());
    const stored = s!.platform.notify.getDelivery(id).message.attachments;
    assert.deepEqual(stored, [{ filename: 'a.csv', contentType: null, size: Buffer.byteLength(CSV), content: null }], 'the content is gone from disk too');
    assert.deepEqual((await admin.get(`/notifications/deliveries/${id}`)).body.attachments, [{ filename: 'a.csv', contentType: null, size: Buffer.byteLength(CSV) }]);
  });

  it('refuses attachments over the size limit with FF_ATTACHMENT_TOO_LARGE and queues nothing', async () => {
    const { admin, platform } = await start();
    const ep = await admin.post('/notifications/endpoints', { type: 'email', name: 'reports', config: { to: ['ops@example.com'] } });
    const half = Buffer.alloc(MAX_ATTACHMENT_BYTES / 2 + 1, 0x61);
    await assert.rejects(
      platform.notify.send({ endpoints: [ep.body.id], body: 'too big', attachments: [{ filename: 'a.bin', content: half }, { filename: 'b.bin', content: half }] }),
      (err: unknown) => isFieldflowError(err) && err.code === 'FF_ATTACHMENT_TOO_LARGE' && err.status === 413 && err.errors?.[0].path === '/attachments',
    );
    assert.deepEqual((await admin.get('/notifications/deliveries')).body.items, []);
  });

  it('refuses malformed attachments with FF_INVALID_NOTIFICATION naming each problem, and queues nothing', async () => {
    const { admin } = await start();
    const ep = await admin.post('/notifications/endpoints', { type: 'email', name: 'reports', config: { to: ['ops@example.com'] } });
    const r = await admin.post('/notifications/send', {
      endpoints: [ep.body.id],
      body: 'x',
      attachments: [
        { filename: '../etc/passwd', content: 'x' },
        { filename: 'b.bin', content: 'not base64!', encoding: 'base64' },
        { filename: 'c.txt', content: 42, contentType: 'text' },
        { filename: 'd.txt', content: 'x', encoding: 'latin1', extra: true },
        'e.txt',
      ],
    });
    assert.equal(r.status, 400);
    assert.equal(r.body.code, 'FF_INVALID_NOTIFICATION');
    assert.deepEqual(
      r.body.errors.map((e: { path: string }) => e.path),
      ['/attachments/0/filename', '/attachments/1/content', '/attachments/2/contentType', '/attachments/2/content', '/attachments/3/extra', '/attachments/3/encoding', '/attachments/4'],
    );
    const many = await admin.post('/notifications/send', { endpoints: [ep.body.id], body: 'x', attachments: Array.from({ length: 11 }, (_, i) => ({ filename: `${i}.txt`, content: 'x' })) });
    assert.deepEqual([many.status, many.body.code, many.body.errors[0].path], [400, 'FF_INVALID_NOTIFICATION', '/attachments']);
    assert.equal((await admin.post('/notifications/send', { endpoints: [ep.body.id], body: 'x', attachments: { filename: 'a' } })).body.code, 'FF_INVALID_NOTIFICATION');
    assert.deepEqual((await admin.get('/notifications/deliveries')).body.items, []);
  });
});
