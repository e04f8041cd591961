import assert from 'node:assert/strict';
import { helper } from '../support/node-helper';
import type { Platform } from '../../runtime';
import { waitFor } from '../support/mqtt';
import { startWebhookReceiver, type WebhookReceiver } from '../support/receivers';
import notifyNode from '../../nodes/notify/notify';
import notifyIn from '../../nodes/notify-in/notify-in';
import notificationsPlugin from '../../nodes/plugins/notifications/notifications';
import { calls, failures, inject, received, type Msg, usePalette } from './flow';

helper.init(require.resolve('node-red'));

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
type Status = { fill?: string; shape?: string; text?: string };
const statuses = (id: string) => calls(id, 'status').map((c) => c[0] as Status);

interface Answer {
  status: number;
  body: Msg;
}
interface Call extends Promise<Answer> {
  send(body: unknown): Call;
  expect(status: number): Promise<Answer>;
}
/** supertest on the helper's httpAdmin (its typings in test/support/node-helper.ts leave it out). */
const admin = () => (helper as unknown as { request(): { get(url: string): Call; post(url: string): Call; delete(url: string): Call } }).request();
const BASE = '/fieldflow/notifications';

describe('notifications in Node-RED', () => {
  let platform: Platform;
  let north: string;
  let receiver: WebhookReceiver;
  let hook: string;

  // The receivers listen on 127.0.0.1, which notifications reach only when it is allowed.
  const fixture = usePalette({ notify: { allowPrivate: ['127.0.0.1'] } });
  beforeEach(async () => {
    ({ platform, north } = fixture);
    receiver = await startWebhookReceiver();
    const { endpoint, generatedSecret } = await platform.notify.createEndpoint({ type: 'webhook', name: 'ops hook', config: { url: receiver.url } });
    hook = endpoint.id;
    receiver.secret = generatedSecret!;
  });
  afterEach(() => receiver.close());

  const notify = (extra: Record<string, unknown> = {}) => ({
    id: 'n',
    type: 'notify',
    mode: 'endpoints',
    endpoints: [hook],
    subscription: '',
    eventName: '',
    subject: '',
    body: '',
    html: '',
    severity: '',
    wires: [['out']],
    ...extra,
  });

  describe('notify', () => {
    it('renders its templates with msg.payload as data, sends to its endpoint, passes the queued deliveries on and shows queued then sent', async () => {
      await helper.load(notifyNode, [notify({ subject: 'Tank low on {{device.name}}', body: 'Level {{data.level}}% ({{severity}})' }), { id: 'out', type: 'helper' }]);
      const msgs = received('out');
      await inject('n', { payload: { level: 7 }, deviceId: north, severity: 'warning', keep: 'me' });
      const [call] = await receiver.waitFor(1);
      assert.equal(call.verified, true);
      assert.deepEqual([call.body.subject, call.body.text, call.body.data.data, call.body.data.device.id, call.body.event.device], ['Tank low on north-1', 'Level 7% (warning)', { level: 7 }, north, north]);
      await waitFor('the msg', () => msgs.length === 1);
      const [d] = msgs[0].deliveries;
      assert.equal(msgs[0].deliveries.length, 1);
      assert.equal(msgs[0].keep, 'me');
      assert.deepEqual([d.id, d.endpoint, d.endpointType, d.source, d.subject], [call.headers['x-fieldflow-delivery'], hook, 'webhook', 'flow', 'Tank low on north-1']);
      assert.ok(['queued', 'sending'].includes(d.status), d.status);
      await waitFor('sent', () => statuses('n').at(-1)?.text === 'sent');
      assert.deepEqual(statuses('n'), [
        { fill: 'yellow', shape: 'ring', text: 'queued' },
        { fill: 'green', shape: 'dot', text: 'sent' },
      ]);
      assert.equal(platform.notify.getDelivery(d.id).status, 'sent');
    });

    it('sends to msg.endpoints instead of its own, with msg.topic as the subject taken as text, not as a template', async () => {
      const other = await startWebhookReceiver();
      try {
        const { endpoint } = await platform.notify.createEndpoint({ type: 'webhook', name: 'other', config: { url: other.url } });
        await helper.load(notifyNode, [notify(), { id: 'out', type: 'helper' }]);
        const msgs = received('out');
        await inject('n', { payload: 'pump 2 stopped', topic: 'Pump {{oops', endpoints: [endpoint.id] });
        const [call] = await other.waitFor(1);
        assert.deepEqual([call.body.subject, call.body.text], ['Pump {{oops', 'pump 2 stopped']);
        assert.deepEqual(msgs[0].deliveries.map((d: Msg) => d.endpoint), [endpoint.id]);
        await sleep(50);
        assert.equal(receiver.calls.length, 0, "the node's own endpoint is not used");
      } finally {
        await other.close();
      }
    });

    it('refuses a template that does not compile at deploy with FF_INVALID_TEMPLATE, reports it for every msg and sends nothing', async () => {
      await helper.load(notifyNode, [
        { id: 't', type: 'tab' },
        { ...notify({ body: 'Level {{data.level' }), z: 't' },
        { id: 'catcher', type: 'catch', z: 't', scope: null, uncaught: false, wires: [['caught']] },
        { id: 'caught', type: 'helper', z: 't' },
        { id: 'out', type: 'helper', z: 't' },
      ]);
      assert.equal(calls('n', 'error').length, 1);
      assert.match(String(calls('n', 'error')[0][0]), /^\/body: Unclosed tag at \d+$/);
      assert.deepEqual(statuses('n').at(-1), { fill: 'red', shape: 'ring', text: 'FF_INVALID_TEMPLATE' });
      const caught = received('caught');
      await inject('n', { payload: 1 });
      await waitFor('the catch node', () => caught.length === 1);
      assert.equal(caught[0].error.source.id, 'n');
      assert.match(caught[0].error.message, /Unclosed tag/);
      assert.deepEqual(platform.notify.listDeliveries({}, null, 10).items, []);
    });

    it('passes an unknown endpoint in msg.endpoints to Catch nodes as FF_ENDPOINT_NOT_FOUND and sends nothing', async () => {
      await helper.load(notifyNode, [
        { id: 't', type: 'tab' },
        { ...notify(), z: 't' },
        { id: 'catcher', type: 'catch', z: 't', scope: ['n'], uncaught: false, wires: [['caught']] },
        { id: 'caught', type: 'helper', z: 't' },
        { id: 'out', type: 'helper', z: 't' },
      ]);
      const msgs = received('out');
      const caught = received('caught');
      const errs = failures('n');
      await inject('n', { payload: 1, endpoints: [hook, '00000000-0000-0000-0000-000000000000'] });
      await waitFor('the catch node', () => caught.length === 1);
      assert.equal((errs[0] as { code?: string }).code, 'FF_ENDPOINT_NOT_FOUND');
      assert.match(caught[0].error.message, /No notification endpoint has id "00000000-0000-0000-0000-000000000000"/);
      assert.deepEqual(caught[0].endpoints, [hook, '00000000-0000-0000-0000-000000000000']);
      assert.deepEqual(statuses('n').at(-1), { fill: 'red', shape: 'ring', text: 'FF_ENDPOINT_NOT_FOUND' });
      await sleep(50);
      assert.equal(msgs.length, 0);
      assert.equal(receiver.calls.length, 0, 'no endpoint gets part of a refused notification');
    });

    it('passes data that is not JSON to Catch nodes as FF_INVALID_NOTIFICATION, sending to endpoints or as an event', async () => {
      await helper.load(notifyNode, [notify(), notify({ id: 'ev', mode: 'event', endpoints: [], eventName: 'loop', body: 'got {{dataText}}' }), { id: 'out', type: 'helper' }]);
      const direct = failures('n');
      const event = failures('ev');
      const cyclic: Msg = { a: 1 };
      cyclic.self = cyclic;
      await inject('n', { payload: cyclic });
      await inject('ev', { payload: cyclic });
      await inject('ev', { payload: 10n });
      await waitFor('three errors', () => direct.length === 1 && event.length === 2);
      assert.deepEqual([...direct, ...event].map((e) => (e as { code?: string }).code), ['FF_INVALID_NOTIFICATION', 'FF_INVALID_NOTIFICATION', 'FF_INVALID_NOTIFICATION']);
      assert.match(String(direct[0]), /\/data must be JSON/);
      assert.equal(receiver.calls.length, 0);
    });

    it('hands msg.attachments to the platform, which refuses a malformed list, and refuses files in event mode', async () => {
      await helper.load(notifyNode, [notify(), notify({ id: 'ev', mode: 'event', endpoints: [], eventName: 'report' }), { id: 'out', type: 'helper' }]);
      const msgs = received('out');
      const direct = failures('n');
      const event = failures('ev');
      await inject('n', { payload: 1, attachments: [{ filename: 'a/b.csv', content: Buffer.from('x') }] });
      await inject('ev', { payload: 1, attachments: [{ filename: 'a.csv', content: 'x' }] });
      await waitFor('two errors', () => direct.length === 1 && event.length === 1);
      assert.deepEqual([direct[0], event[0]].map((e) => (e as { code?: string }).code), ['FF_INVALID_NOTIFICATION', 'FF_INVALID_NOTIFICATION']);
      assert.match(String(direct[0]), /\/attachments\/0\/filename/);
      assert.match(String(event[0]), /not as an event/);
      await inject('n', { payload: 1, attachments: [{ filename: 'a.csv', content: Buffer.from('x') }] });
      await waitFor('the msg', () => msgs.length === 1);
      assert.deepEqual(msgs[0].deliveries.map((d: Msg) => [d.endpointType, d.attachments]), [['webhook', []]], 'a webhook gets the text alone');
      await waitFor('one webhook call', () => receiver.calls.length === 1);
      assert.equal('attachments' in receiver.calls[0].body, false);
    });

    it('sends through a subscription with its template, and announces an event that a matching subscription sends', async () => {
      const sub = await platform.notify.createSubscription({ name: 'doors', events: ['Custom'], customNames: ['door-open'], endpoints: [hook], template: { subject: 'Door on {{device.name}}', body: '{{message}}' } });
      await helper.load(notifyNode, [
        notify({ id: 'via', mode: 'subscription', endpoints: [], subscription: sub.id, body: 'Door {{data.door}} (direct)' }),
        notify({ id: 'door', mode: 'event', endpoints: [], eventName: 'door-open', body: 'Door {{data.door}} open on {{device.name}}' }),
        notify({ id: 'window', mode: 'event', endpoints: [], eventName: 'window-open' }),
        { id: 'out', type: 'helper' },
      ]);
      const msgs = received('out');
      await inject('via', { payload: { door: 1 }, device: { id: north, name: 'north-1' } });
      await receiver.waitFor(1);
      await inject('door', { payload: { door: 2 }, deviceId: north });
      await inject('window', { payload: { window: 3 }, deviceId: north });
      const calls2 = await receiver.waitFor(2);
      await sleep(50);
      assert.equal(receiver.calls.length, 2, 'no subscription matches window-open');
      assert.deepEqual(
        calls2.map((c) => [c.body.subject, c.body.text, c.body.subscription]),
        [
          ['Door on north-1', 'Door 1 (direct)', sub.id],
          ['Door on north-1', 'Door 2 open on north-1', sub.id],
        ],
      );
      assert.equal(typeof msgs[1].eventId, 'string');
      assert.equal(calls2[1].body.event.id, msgs[1].eventId);
      assert.equal(msgs[1].deliveries, undefined, 'an event is routed after the msg has left');
      await waitFor('both sent', () => statuses('via').at(-1)?.text === 'sent' && statuses('door').at(-1)?.text === 'sent');
      assert.deepEqual(statuses('door')[0], { fill: 'grey', shape: 'dot', text: 'event door-open' });
      assert.deepEqual(statuses('window'), [{ fill: 'grey', shape: 'dot', text: 'event window-open' }]);
    });

    it('stops following deliveries when the flow stops', async () => {
      await helper.load([notifyNode, notifyIn], [notify(), { id: 'in', type: 'notify in', statuses: ['sent'], endpoint: '', subscription: '', wires: [] }]);
      assert.equal(platform.events.has('NotificationDelivery'), true);
      await helper.unload();
      assert.equal(platform.events.has('NotificationDelivery'), false);
    });
  });

  describe('notify in', () => {
    it('emits a dead delivery, with the code and error of its last attempt, when the receiver refuses it with a 400', async () => {
      receiver.status = 400;
      await helper.load(
        [notifyNode, notifyIn],
        [
          notify({ wires: [['sink']] }),
          // No statuses set: the defaults, dead and sent.
          { id: 'in', type: 'notify in', endpoint: '', subscription: '', wires: [['out']] },
          { id: 'out', type: 'helper' },
          { id: 'sink', type: 'helper' },
        ],
      );
      const msgs = received('out');
      await inject('n', { payload: 'valve stuck', topic: 'Valve' });
      await waitFor('the dead delivery', () => msgs.length === 1);
      await sleep(50);
      assert.equal(msgs.length, 1, 'queued and sending are not emitted by default');
      const [m] = msgs;
      assert.deepEqual([m.topic, m.event, m.payload.status, m.payload.endpoint, m.payload.subject, m.payload.tries], ['dead', 'NotificationDelivery', 'dead', hook, 'Valve', 1]);
      assert.equal(m.payload.attempts.length, 1);
      assert.deepEqual([m.payload.attempts[0].ok, m.payload.attempts[0].code, m.payload.attempts[0].status], [false, 'FF_PROVIDER_REJECTED', 400]);
      assert.match(m.payload.attempts[0].error, /answered 400/);
      assert.equal(receiver.calls.length, 1, 'a 400 is not retried');
      assert.deepEqual(statuses('n').at(-1), { fill: 'red', shape: 'dot', text: 'dead: FF_PROVIDER_REJECTED' });
      m.payload.attempts.length = 0;
      assert.equal(platform.notify.getDelivery(m.payload.id).attempts.length, 1, "the flow's copy is its own");
    });

    it('emits a failed attempt of one endpoint as "failed", queued for its retry, and ignores other endpoints', async () => {
      const ok = await startWebhookReceiver();
      try {
        const { endpoint } = await platform.notify.createEndpoint({ type: 'webhook', name: 'fine', config: { url: ok.url } });
        receiver.status = 503;
        await helper.load(
          [notifyNode, notifyIn],
          [
            notify({ endpoints: [hook, endpoint.id], wires: [['sink']] }),
            { id: 'in', type: 'notify in', statuses: ['failed', 'sent', 'dead'], endpoint: hook, subscription: '', wires: [['out']] },
            { id: 'out', type: 'helper' },
            { id: 'sink', type: 'helper' },
          ],
        );
        const msgs = received('out');
        await inject('n', { payload: 'level low' });
        await waitFor('the failed attempt', () => msgs.length === 1);
        await ok.waitFor(1);
        await sleep(50);
        assert.equal(msgs.length, 1, "the other endpoint's sent delivery is filtered out");
        const [m] = msgs;
        assert.deepEqual([m.topic, m.payload.status, m.payload.tries, m.payload.attempts.at(-1).status], ['failed', 'queued', 1, 503]);
        assert.ok(Date.parse(m.payload.nextAttemptAt) > Date.now() - 1000);
        await waitFor('the status', () => statuses('n').at(-1)?.text === 'retrying: FF_PROVIDER_REJECTED (1/2)');
        assert.deepEqual(statuses('n').at(-1), { fill: 'yellow', shape: 'ring', text: 'retrying: FF_PROVIDER_REJECTED (1/2)' });
      } finally {
        await ok.close();
      }
    });

    it('reports statuses it does not know as a node error and listens to nothing', async () => {
      await helper.load(notifyIn, [{ id: 'in', type: 'notify in', statuses: ['dead', 'lost'], endpoint: '', subscription: '', wires: [] }]);
      assert.equal(calls('in', 'error').length, 1);
      assert.match(String(calls('in', 'error')[0][0]), /got \["lost"\]/);
      assert.equal(platform.events.has('NotificationDelivery'), false);
    });
  });

  describe('the Notifications sidebar routes', () => {
    it('lists, creates and deletes endpoints, showing a generated webhook secret only in the answer to its creation', async () => {
      await helper.load(notificationsPlugin as never, []);
      const created = await admin().post(`${BASE}/endpoints`).send({ type: 'webhook', name: 'receiver', config: { url: receiver.url } }).expect(201);
      assert.match(created.body.secret, /^whsec_/);
      assert.deepEqual(created.body.credentials, { secret: true });
      const listed = await admin().get(`${BASE}/endpoints`).expect(200);
      assert.deepEqual(listed.body.items.map((e: Msg) => [e.name, e.type, e.enabled]), [
        ['ops hook', 'webhook', true],
        ['receiver', 'webhook', true],
      ]);
      assert.ok(!JSON.stringify(listed.body).includes(created.body.secret), 'the secret is never listed');
      await admin().delete(`${BASE}/endpoints/${created.body.id}`).expect(204);
      const gone = await admin().delete(`${BASE}/endpoints/${created.body.id}`).expect(404);
      assert.equal(gone.body.code, 'FF_ENDPOINT_NOT_FOUND');
      assert.deepEqual((await admin().get(`${BASE}/endpoints`).expect(200)).body.items.map((e: Msg) => e.id), [hook]);
    });

    it('answers platform errors with their status, code, detail and failing fields', async () => {
      await platform.notify.createSubscription({ name: 'all alarms', events: ['AlarmRaised'], endpoints: [hook] });
      await helper.load(notificationsPlugin as never, []);
      const bad = await admin().post(`${BASE}/endpoints`).send({ type: 'sms', name: 'pager', config: { provider: 'twilio', accountSid: 'AC1', from: '+14155550199', to: ['555-0100'] } }).expect(400);
      assert.equal(bad.body.code, 'FF_INVALID_PHONE');
      assert.deepEqual(bad.body.errors.map((e: Msg) => e.path).sort(), ['/config/to/0', '/credentials/authToken']);
      assert.match(bad.body.detail, /is not an E\.164 number/);
      const used = await admin().delete(`${BASE}/endpoints/${hook}`).expect(409);
      assert.deepEqual([used.body.code, used.body.detail], ['FF_CONFLICT', 'Subscriptions send to this endpoint: all alarms; remove it from them first']);
      const query = await admin().get(`${BASE}/deliveries?status=dead,lost&limit=0`).expect(400);
      assert.deepEqual([query.body.code, query.body.errors.map((e: Msg) => e.path)], ['FF_INVALID_QUERY', ['/status', '/limit']]);
      const subs = await admin().get(`${BASE}/subscriptions`).expect(200);
      assert.deepEqual(subs.body.items.map((s: Msg) => [s.name, s.endpoints]), [['all alarms', [hook]]]);
    });

    it('lists dead letters and resends one, which the receiver then gets, as notify in sees', async () => {
      receiver.status = 400;
      await helper.load(
        [notifyNode, notifyIn, notificationsPlugin as never],
        [
          notify({ wires: [['sink']] }),
          { id: 'in', type: 'notify in', statuses: ['queued', 'failed', 'sent', 'dead'], endpoint: '', subscription: '', wires: [['out']] },
          { id: 'out', type: 'helper' },
          { id: 'sink', type: 'helper' },
        ],
      );
      const msgs = received('out');
      await inject('n', { payload: 'tank 3 empty', topic: 'Tank 3' });
      await waitFor('dead', () => msgs.some((m) => m.topic === 'dead'));
      const dead = await admin().get(`${BASE}/deliveries?status=dead`).expect(200);
      assert.deepEqual(dead.body.items.map((d: Msg) => [d.subject, d.endpoint, d.attempts.at(-1).code]), [['Tank 3', hook, 'FF_PROVIDER_REJECTED']]);
      assert.equal(dead.body.next, null);
      receiver.status = 200;
      const resent = await admin().post(`${BASE}/deliveries/${dead.body.items[0].id}/resend`).send({}).expect(202);
      // resend() answers with the live delivery, which its first attempt may already have picked up.
      assert.ok(['queued', 'sending'].includes(resent.body.status), resent.body.status);
      await receiver.waitFor(2);
      await waitFor('sent', () => msgs.some((m) => m.topic === 'sent'));
      assert.deepEqual(msgs.map((m) => m.topic), ['queued', 'dead', 'queued', 'sent'], 'a resend is queued, not a failed attempt');
      assert.deepEqual((await admin().get(`${BASE}/deliveries?status=dead`).expect(200)).body.items, []);
      const again = await admin().post(`${BASE}/deliveries/${dead.body.items[0].id}/resend`).send({}).expect(409);
      assert.equal(again.body.code, 'FF_CONFLICT');
      assert.deepEqual(statuses('n').at(-1), { fill: 'green', shape: 'dot', text: 'sent' }, 'the node follows its delivery through the resend');
    });
  });
});
