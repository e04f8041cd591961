import assert from 'node:assert/strict';
import type { Pack } from '../../../runtime/packs/model';
import { derivePackFlows } from '../../../runtime/packs/ids';
import { derivePackResources, packResourceId, substitute } from '../../../runtime/packs/resources';
import { samplePack } from './fixtures';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

function alertingPack(): Pack {
  const pack = samplePack();
  pack.endpoints = [
    { id: 'mail', name: 'Ops mail ${SITE}', type: 'email', config: { to: '${EMAILS}' } },
    { id: 'hook', name: 'hook', type: 'webhook', config: { url: 'https://example.com/${SITE}/hook', timeoutMs: '${TIMEOUT}' } },
  ];
  pack.subscriptions = [{ id: 'sub', name: 'mail', events: ['AlarmRaised'], endpoints: ['mail', '${EXTRA}'], template: { subject: 'mail' } }];
  pack.flows.push({ id: 'orig-notify', type: 'notify', z: 'orig-tab-b', mode: 'endpoints', endpoints: ['mail', 'hook'], subscription: 'sub', name: 'mail', x: 500, y: 60, wires: [] });
  return pack;
}

const params = { SITE: 'north', EMAILS: ['a@example.com', 'b@example.com'], TIMEOUT: 5000, EXTRA: ['11111111-1111-4111-8111-111111111111'] };

describe('pack resources', () => {
  it('derive UUID-shaped ids from the pack id and the local id, the same for every version', () => {
    const id = packResourceId('com.example.alerts', 'mail');
    assert.match(id, UUID);
    assert.equal(packResourceId('com.example.alerts', 'mail'), id);
    assert.notEqual(packResourceId('com.example.other', 'mail'), id);
    assert.notEqual(packResourceId('com.example.alerts', 'hook'), id);
  });

  it('substitute parameters with their types, splice array parameters into arrays and replace inner text', () => {
    const [models, mail, hook, , sub] = derivePackResources(alertingPack(), 'com.example.alerts', params);
    assert.equal(models.kind, 'models');
    assert.equal(mail.name, 'Ops mail north');
    assert.deepEqual(mail.body.config, { to: ['a@example.com', 'b@example.com'] });
    assert.deepEqual(hook.body.config, { url: 'https://example.com/north/hook', timeoutMs: 5000 });
    assert.deepEqual(sub.body.endpoints, [packResourceId('com.example.alerts', 'mail'), '11111111-1111-4111-8111-111111111111']);
    assert.equal(sub.body.name, 'mail', 'a name equal to a local id is text, not a reference');
    assert.deepEqual(sub.body.template, { subject: 'mail' });
  });

  it('apply models first and subscriptions after the endpoints they send to', () => {
    const kinds = derivePackResources(alertingPack(), 'com.example.alerts', params).map((r) => r.kind);
    assert.deepEqual(kinds, ['models', 'endpoints', 'endpoints', 'schedules', 'subscriptions']);
  });

  it('give a model its name as its id', () => {
    const [model] = derivePackResources(alertingPack(), 'com.example.alerts', params);
    assert.equal(model.id, 'tank-sensor');
    assert.equal(model.localId, 'orig-model');
    assert.equal('id' in model.body, false);
  });

  it('point flow properties that name a resource at the deployed resource', () => {
    const nodes = derivePackFlows(alertingPack(), 'com.example.alerts', params);
    const notify = nodes.find((n) => n.type === 'notify')!;
    assert.deepEqual(notify.endpoints, [packResourceId('com.example.alerts', 'mail'), packResourceId('com.example.alerts', 'hook')]);
    assert.equal(notify.subscription, packResourceId('com.example.alerts', 'sub'));
    assert.equal(notify.name, 'mail');
  });

  it('leave a name with no parameter value as it is', () => {
    assert.deepEqual(substitute({ a: '${NOPE}', b: 'x ${NOPE}', c: ['${NOPE}'] }, {}), { a: '${NOPE}', b: 'x ${NOPE}', c: ['${NOPE}'] });
  });
});
