import assert from 'node:assert/strict';
import { startApiServer, type ApiServer } from '../../support/api-server';
import { Api } from '../../support/http';
import { assertProblem } from './problems';

describe('REST API tags', () => {
  let s: ApiServer;
  let id: string;
  let device: Api;
  beforeEach(async () => {
    s = await startApiServer();
    const { body } = await s.admin.post('/devices', { name: 'pump-1' });
    id = body.id;
    device = new Api(s.url, body.token);
  });
  afterEach(() => s.close());
  const tags = (appKey = 'pump') => `/devices/${id}/tags/${appKey}`;

  it('commits several tags as one message on tag_values, merges later commits, and deletes a tag with null', async () => {
    const a = await s.admin.patch(tags(), { level: 80, running: true, mode: 'auto' });
    assert.equal(a.status, 200);
    assert.deepEqual(a.body.values, { level: 80, running: true, mode: 'auto' });
    const b = await device.patch(tags(), { level: 75, mode: null });
    assert.deepEqual(b.body.values, { level: 75, running: true });
    assert.deepEqual((await s.admin.get(tags())).body.values, { level: 75, running: true });
    const history = await s.admin.get(`/devices/${id}/channels/tag_values/messages?order=asc`);
    assert.deepEqual(history.body.items.map((m: any) => m.data), [{ pump: { level: 80, running: true, mode: 'auto' } }, { pump: { level: 75, mode: null } }]);
    assert.deepEqual(history.body.items.map((m: any) => m.id), [a.body.messageId, b.body.messageId]);
    await s.admin.patch(tags('other'), { x: 'y' });
    assert.deepEqual((await s.admin.get(`/devices/${id}/tags`)).body, { pump: { level: 75, running: true }, other: { x: 'y' } });
  });

  it('answers an app key with no tags with empty values', async () => {
    const r = await s.admin.get(tags('nothing'));
    assert.deepEqual(r.body, { appKey: 'nothing', values: {}, types: {}, updatedAt: null });
  });

  it('refuses a value of the declared type with FF_TAG_TYPE_MISMATCH and stores none of the commit', async () => {
    const declared = await s.admin.patch('/tags/pump/types', { level: 'number', running: 'boolean' });
    assert.deepEqual(declared.body.types, { level: 'number', running: 'boolean' });
    await s.admin.patch(tags(), { level: 10 });
    const r = await s.admin.patch(tags(), { level: 'high', running: true, note: 'x' });
    assertProblem(r, 400, 'FF_TAG_TYPE_MISMATCH');
    assert.deepEqual(r.body.errors, [{ path: '/pump/level', message: 'is declared number; got string' }]);
    assert.deepEqual((await s.admin.get(tags())).body.values, { level: 10 });
    assert.equal((await s.admin.get(`/devices/${id}/channels/tag_values`)).body.messageCount, 1);
  });

  it('refuses malformed tag commits with specific codes', async () => {
    assertProblem(await s.admin.patch(tags(), { nested: { a: 1 } }), 400, 'FF_INVALID_TAG');
    assertProblem(await s.admin.patch(tags(), [1, 2]), 400, 'FF_INVALID_TAG');
    assertProblem(await s.admin.patch(tags(), {}), 400, 'FF_INVALID_TAG');
    assertProblem(await s.admin.patch(tags(), { 'bad.name': 1 }), 400, 'FF_INVALID_TAG');
    assertProblem(await s.admin.patch(tags('bad.key'), { a: 1 }), 400, 'FF_INVALID_TAG');
    assertProblem(await s.admin.patch(tags(), '{"level": ', { 'content-type': 'application/json' }), 400, 'FF_MALFORMED_JSON');
    assertProblem(await s.admin.patch('/tags/pump/types', { level: 'integer' }), 400, 'FF_VALIDATION');
    assertProblem(await s.admin.patch(`/devices/00000000-0000-4000-8000-000000000000/tags/pump`, { a: 1 }), 404, 'FF_DEVICE_NOT_FOUND');
    assertProblem(await s.anonymous.patch(tags(), { a: 1 }), 401, 'FF_AUTH_REQUIRED');
    assert.deepEqual((await s.admin.get(tags())).body.values, {});
  });

  it('keeps tag_values for the tags API: publishing to it as a channel is refused with FF_RESERVED_CHANNEL', async () => {
    assertProblem(await device.post(`/devices/${id}/channels/tag_values/messages`, { pump: { level: 'x' } }), 409, 'FF_RESERVED_CHANNEL');
    assertProblem(await s.admin.patch(`/devices/${id}/channels/tag_values/aggregate`, { pump: null }, { 'content-type': 'application/merge-patch+json' }), 409, 'FF_RESERVED_CHANNEL');
    await assert.rejects(s.platform.channels.publish(id, 'tag_values', { a: 1 }), { code: 'FF_RESERVED_CHANNEL' });
    assertProblem(await device.post(`/devices/${id}/channels/events/messages`, { type: 'TriggerFired', id: 'forged' }), 409, 'FF_RESERVED_CHANNEL');
  });

  it('accepts tag names that are also names of object methods', async () => {
    await s.admin.patch('/tags/pump/types', { level: 'number' });
    const r = await s.admin.patch(tags(), { toString: 1, constructor: 'x', hasOwnProperty: true });
    assert.equal(r.status, 200);
    assert.deepEqual(r.body.values, { toString: 1, constructor: 'x', hasOwnProperty: true });
  });
});
