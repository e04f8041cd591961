import assert from 'node:assert/strict';
import { startApiServer, type ApiServer } from '../../support/api-server';
import { startWebhookReceiver, verifySignature, type WebhookReceiver } from '../../support/receivers';
import { applyResources } from '../../../runtime/packs/apply-resources';
import { platformResourcePorts } from '../../../runtime/packs/resource-ports';
import type { PackResource } from '../../../runtime/packs/resources';
import { silentLogger } from '../../../runtime/log';

describe('applying pack resources to the platform', () => {
  let s: ApiServer;
  let hook: WebhookReceiver;
  beforeEach(async () => {
    s = await startApiServer({ notify: { allowPrivate: ['127.0.0.1'] } });
    hook = await startWebhookReceiver();
  });
  afterEach(async () => {
    await s.close();
    await hook.close();
  });

  const ports = () => platformResourcePorts({ notify: s.platform.notify, schedules: s.platform.schedules, models: s.platform.models });
  const endpoint = (secret: string): PackResource => ({ kind: 'endpoints', id: '0b6e1d52-3c1e-8a4f-9d2e-5f3a7c1b2e40', localId: 'hook', index: 0, name: 'hook', body: { type: 'webhook', name: 'hook', config: { url: hook.url }, credentials: { secret } } });
  /** Send a test through the endpoint; true if the receiver verified its signature with `secret`. */
  const signsWith = async (id: string, secret: string) => {
    const before = hook.calls.length;
    assert.equal((await s.admin.post(`/notifications/endpoints/${id}/test`)).status, 202);
    const call = (await hook.waitFor(before + 1))[before];
    return verifySignature(secret, call.headers['x-fieldflow-signature'] as string, call.raw);
  };

  it("puts an endpoint's credentials back when a failed deploy undoes the update that changed them", async () => {
    const created = endpoint('the-old-secret-0123456789');
    const undoCreate = await applyResources(ports(), [created], silentLogger);
    assert.equal(await signsWith(created.id, 'the-old-secret-0123456789'), true);

    const undoUpdate = await applyResources(ports(), [endpoint('the-new-secret-9876543210')], silentLogger);
    assert.equal(await signsWith(created.id, 'the-new-secret-9876543210'), true);
    assert.equal(await signsWith(created.id, 'the-old-secret-0123456789'), false, 'the check can tell the two secrets apart');

    await undoUpdate();
    assert.equal(await signsWith(created.id, 'the-old-secret-0123456789'), true, 'the old secret is back');
    assert.equal(s.platform.notify.getEndpoint(created.id).name, 'hook');

    await undoCreate();
    assert.equal(s.platform.notify.listEndpoints().some((e) => e.id === created.id), false, 'undoing a create removes the endpoint');
  });
});
