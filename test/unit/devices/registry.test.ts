import assert from 'node:assert/strict';
import { DeviceRegistry } from '../../../runtime/devices/registry';
import { NedbStore } from '../../../runtime/store';
import { silentLogger } from '../../../runtime/log';
import { tempDir } from '../../support/platform';

async function registryOn(dir: string): Promise<{ registry: DeviceRegistry; store: NedbStore }> {
  const store = new NedbStore({ dir, messageShards: 1 }, silentLogger);
  await store.open();
  const registry = new DeviceRegistry(Date.now, silentLogger);
  await registry.start(store);
  return { registry, store };
}

describe('the device registry', () => {
  it('keeps a rotated token rotated when a status flush races the rotation, across a restart', async () => {
    const dir = tempDir();
    const { registry, store } = await registryOn(dir);
    const { device, token: oldToken } = await registry.create({ name: 'd' });
    registry.markSeen(device);
    const [newToken] = await Promise.all([registry.rotateToken(device.id), registry.flushStatus()]);
    registry.markSeen(device);
    await registry.flushStatus();
    await store.close();
    const reopened = (await registryOn(dir)).registry;
    assert.ok(reopened.authenticate(device.id, newToken), 'the new token must work after a restart');
    assert.equal(reopened.authenticate(device.id, oldToken), null, 'the old token must stay revoked');
  });

  it('applies concurrent changes without losing either', async () => {
    const { registry } = await registryOn(tempDir());
    const { device } = await registry.create({ name: 'd', labels: { a: '1' } });
    const [token] = await Promise.all([registry.rotateToken(device.id), registry.update(device.id, { labels: { b: '2' } })]);
    assert.deepEqual(registry.require(device.id).labels, { a: '1', b: '2' });
    assert.ok(registry.authenticate(device.id, token));
  });

  it('does not let a device token of one device authenticate another', async () => {
    const { registry } = await registryOn(tempDir());
    const a = await registry.create({ name: 'a' });
    const b = await registry.create({ name: 'b' });
    assert.equal(registry.authenticate(b.device.id, a.token), null);
    assert.equal(registry.authenticate(a.device.id, 'not-a-token'), null);
  });
});
