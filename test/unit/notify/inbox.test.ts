import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { startPlatform, tempDir } from '../../support/platform';
import { startWebhookReceiver } from '../../support/receivers';

describe('notification inbox', () => {
  it('routes an event left in the inbox by a crash again after the restart, without sending it twice', async () => {
    const dataDir = tempDir();
    const hook = await startWebhookReceiver();
    try {
      let p = await startPlatform({ dataDir, notify: { allowPrivate: ['127.0.0.1'] } });
      const ep = (await p.notify.createEndpoint({ type: 'webhook', name: 'w', config: { url: hook.url } })).endpoint.id;
      const other = (await p.notify.createEndpoint({ type: 'webhook', name: 'w2', config: { url: `${hook.url}?second` } })).endpoint.id;
      await p.notify.createSubscription({ name: 's', events: ['Custom'], endpoints: [ep] });
      const id = p.notify.emitCustom({ name: 'door-open', message: 'door 1' });
      await hook.waitFor(1);
      const [d] = p.notify.listDeliveries({ event: id }, null, 10).items;
      await p.stop();

      // A crash after the deliveries were written and before the inbox let go of the event
      // leaves it in the inbox: put it back as such a crash would.
      const event = { id, type: 'Custom', ts: d.event.ts, device: null, severity: null, key: 'door-open', name: 'door-open', message: 'door 1', data: null };
      const line = JSON.stringify({ key: '0000000000001000000', events: JSON.stringify([event]), _id: '0000000000001000000#1', v: 1 });
      fs.appendFileSync(path.join(dataDir, 'platform', 'notify_inbox.db'), line + '\n');
      // Meanwhile the subscription also sends to a second endpoint: that delivery is new and goes out.
      p = await startPlatform({ dataDir, notify: { allowPrivate: ['127.0.0.1'] } });
      await p.notify.updateSubscription(p.notify.listSubscriptions()[0].id, { endpoints: [ep, other] });
      await p.stop();
      fs.appendFileSync(path.join(dataDir, 'platform', 'notify_inbox.db'), line.replace(/#1/, '#2').replace('"v":1', '"v":2') + '\n');
      p = await startPlatform({ dataDir, notify: { allowPrivate: ['127.0.0.1'] } });
      await hook.waitFor(2);
      await new Promise((r) => setTimeout(r, 300));
      assert.deepEqual(hook.calls.map((c) => c.body.text), ['door 1', 'door 1']);
      assert.deepEqual(new Set(hook.calls.map((c) => c.headers['x-fieldflow-delivery'])).size, 2, 'one delivery per endpoint, the first not repeated');
      assert.equal(p.notify.listDeliveries({ event: id }, null, 10).items.length, 2);
      await p.stop();
    } finally {
      await hook.close();
    }
  });
});
