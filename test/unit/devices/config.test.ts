import assert from 'node:assert/strict';
import fs from 'node:fs';
import type { Platform } from '../../../runtime';
import type { DevicePublisher } from '../../../runtime/devices/config';
import { startPlatform, tempDir } from '../../support/platform';

interface Published {
  deviceId: string;
  subtopic: string;
  payload: string;
  retain: boolean;
  qos: 0 | 1;
}

/** Stands in for the broker: records what would be published. */
class Recorder implements DevicePublisher {
  readonly sent: Published[] = [];
  async publishToDevice(deviceId: string, subtopic: string, payload: string, options: { retain: boolean; qos: 0 | 1 }): Promise<void> {
    this.sent.push({ deviceId, subtopic, payload, ...options });
  }
}

async function rejectsWith(p: Promise<unknown> | (() => unknown), code: string): Promise<void> {
  await assert.rejects(async () => (typeof p === 'function' ? p() : p), (err: { code?: string }) => {
    assert.equal(err.code, code);
    return true;
  });
}

describe('device configuration and commands', () => {
  let platform: Platform;
  let recorder: Recorder;
  let deviceId: string;
  let dataDir: string;

  beforeEach(async () => {
    dataDir = tempDir();
    platform = await startPlatform({ dataDir });
    recorder = new Recorder();
    platform.deviceConfig.attach(recorder);
    deviceId = (await platform.devices.create({ name: 'pump-1' })).device.id;
  });
  afterEach(async () => {
    await platform.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  describe('configuration', () => {
    it('has none until one is set', () => {
      assert.equal(platform.deviceConfig.get(deviceId), null);
    });

    it('stores a configuration and publishes it retained on devices/{id}/config', async () => {
      const stored = await platform.deviceConfig.set(deviceId, { interval: 30, thresholds: { high: 80 } });
      assert.deepEqual(stored.config, { interval: 30, thresholds: { high: 80 } });
      assert.deepEqual(platform.deviceConfig.get(deviceId), stored);
      assert.deepEqual(recorder.sent, [{ deviceId, subtopic: 'config', payload: '{"interval":30,"thresholds":{"high":80}}', retain: true, qos: 1 }]);
    });

    it('replaces the whole configuration on a second set', async () => {
      await platform.deviceConfig.set(deviceId, { interval: 30, mode: 'eco' });
      const second = await platform.deviceConfig.set(deviceId, { interval: 10 });
      assert.deepEqual(platform.deviceConfig.get(deviceId)?.config, { interval: 10 });
      assert.deepEqual(second.config, { interval: 10 });
      assert.deepEqual(recorder.sent.map((p) => p.payload), ['{"interval":30,"mode":"eco"}', '{"interval":10}']);
    });

    it('keeps keys NeDB would refuse as field names ($ and .)', async () => {
      await platform.deviceConfig.set(deviceId, { $schema: 'v1', 'mqtt.host': 'h', nested: { '$x.y': 1 } });
      await platform.stop();
      platform = await startPlatform({ dataDir });
      assert.deepEqual(platform.deviceConfig.get(deviceId)?.config, { $schema: 'v1', 'mqtt.host': 'h', nested: { '$x.y': 1 } });
    });

    it('stores the values JSON can hold and nothing else (a Date becomes its string)', async () => {
      const at = new Date('2026-01-02T03:04:05.000Z');
      const stored = await platform.deviceConfig.set(deviceId, { at, skip: undefined });
      assert.deepEqual(stored.config, { at: '2026-01-02T03:04:05.000Z' });
    });

    it('refuses what is not a JSON object within the limits, and keeps the stored configuration', async () => {
      await platform.deviceConfig.set(deviceId, { interval: 30 });
      const before = platform.deviceConfig.get(deviceId);
      recorder.sent.length = 0;
      const { maxPayloadBytes, maxDepth } = platform.options.ingest;
      let deep: Record<string, unknown> = {};
      for (let i = 0; i < maxDepth + 1; i++) deep = { d: deep };
      for (const bad of [[1, 2], 'text', 42, true, null, undefined, { big: 'x'.repeat(maxPayloadBytes) }, deep, { n: 10n }]) {
        await rejectsWith(platform.deviceConfig.set(deviceId, bad), 'FF_INVALID_CONFIG');
      }
      assert.deepEqual(platform.deviceConfig.get(deviceId), before);
      assert.deepEqual(recorder.sent, []);
    });

    it('answers FF_DEVICE_NOT_FOUND for an unknown device and stores nothing', async () => {
      await rejectsWith(() => platform.deviceConfig.get('nope'), 'FF_DEVICE_NOT_FOUND');
      await rejectsWith(platform.deviceConfig.set('nope', { a: 1 }), 'FF_DEVICE_NOT_FOUND');
      assert.deepEqual(recorder.sent, []);
    });

    it('applies concurrent sets one at a time, in order, the first of them inserting', async () => {
      const results = await Promise.all([1, 2, 3, 4, 5].map((n) => platform.deviceConfig.set(deviceId, { n })));
      assert.deepEqual(results.map((r) => r.config.n), [1, 2, 3, 4, 5]);
      assert.deepEqual(platform.deviceConfig.get(deviceId)?.config, { n: 5 });
      assert.deepEqual(recorder.sent.map((p) => p.payload), ['{"n":1}', '{"n":2}', '{"n":3}', '{"n":4}', '{"n":5}']);
      await platform.stop();
      platform = await startPlatform({ dataDir });
      assert.deepEqual(platform.deviceConfig.get(deviceId)?.config, { n: 5 });
    });

    it('publishes every stored configuration again, retained, when attached to a new broker after a restart', async () => {
      const other = (await platform.devices.create({ name: 'pump-2' })).device.id;
      await platform.deviceConfig.set(deviceId, { interval: 30 });
      await platform.deviceConfig.set(other, { interval: 60 });
      await platform.stop();
      platform = await startPlatform({ dataDir });
      const after = new Recorder();
      platform.deviceConfig.attach(after);
      assert.deepEqual(
        after.sent.sort((a, b) => a.payload.localeCompare(b.payload)),
        [
          { deviceId, subtopic: 'config', payload: '{"interval":30}', retain: true, qos: 1 },
          { deviceId: other, subtopic: 'config', payload: '{"interval":60}', retain: true, qos: 1 },
        ],
      );
    });

    it('forgets the configuration of a deleted device and clears its retained message', async () => {
      await platform.deviceConfig.set(deviceId, { interval: 30 });
      recorder.sent.length = 0;
      await platform.devices.remove(deviceId);
      assert.deepEqual(recorder.sent, [{ deviceId, subtopic: 'config', payload: '', retain: true, qos: 0 }]);
      await platform.stop();
      platform = await startPlatform({ dataDir });
      const after = new Recorder();
      platform.deviceConfig.attach(after);
      assert.deepEqual(after.sent, []);
    });

    it('still stores the configuration when the publish fails', async () => {
      platform.deviceConfig.attach({ publishToDevice: () => Promise.reject(new Error('broker down')) });
      const stored = await platform.deviceConfig.set(deviceId, { interval: 5 });
      assert.deepEqual(platform.deviceConfig.get(deviceId), stored);
    });
  });

  describe('commands', () => {
    it('publishes {id, args, sentAt} with QoS 1, not retained, on devices/{id}/commands/{name}', async () => {
      const sent = await platform.deviceConfig.send(deviceId, 'reboot', { delay: 5 });
      assert.match(sent.id, /^[0-9a-f-]{36}$/);
      assert.equal(sent.name, 'reboot');
      assert.equal(sent.delivered, false, 'the device is not connected');
      assert.equal(recorder.sent.length, 1);
      const [p] = recorder.sent;
      assert.deepEqual({ ...p, payload: undefined }, { deviceId, subtopic: 'commands/reboot', payload: undefined, retain: false, qos: 1 });
      assert.deepEqual(JSON.parse(p.payload), { id: sent.id, args: { delay: 5 }, sentAt: new Date(sent.sentAt).toISOString() });
    });

    it('gives every command its own id and {} arguments by default', async () => {
      const a = await platform.deviceConfig.send(deviceId, 'ping');
      const b = await platform.deviceConfig.send(deviceId, 'ping');
      assert.notEqual(a.id, b.id);
      assert.deepEqual(recorder.sent.map((p) => JSON.parse(p.payload).args), [{}, {}]);
    });

    it('accepts names of 1-64 letters, digits, "_", "." and "-" that start with a letter or digit', async () => {
      for (const name of ['a', '0', 'set.led-1_on', 'A'.repeat(64)]) await platform.deviceConfig.send(deviceId, name);
      assert.equal(recorder.sent.length, 4);
    });

    it('refuses other names and arguments that are not a JSON object within the limits, and publishes nothing', async () => {
      for (const name of ['', '_x', '.x', '-x', 'a/b', 'a+', '#', 'a b', 'é', 'A'.repeat(65), 42, null]) {
        await rejectsWith(platform.deviceConfig.send(deviceId, name), 'FF_INVALID_COMMAND');
      }
      const { maxPayloadBytes } = platform.options.ingest;
      for (const args of [[1], 'x', 3, null, { big: 'x'.repeat(maxPayloadBytes) }]) {
        await rejectsWith(platform.deviceConfig.send(deviceId, 'ok', args), 'FF_INVALID_COMMAND');
      }
      assert.deepEqual(recorder.sent, []);
    });

    it('answers FF_DEVICE_NOT_FOUND for an unknown device', async () => {
      await rejectsWith(platform.deviceConfig.send('nope', 'reboot'), 'FF_DEVICE_NOT_FOUND');
      assert.deepEqual(recorder.sent, []);
    });
  });
});
