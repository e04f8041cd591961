import assert from 'node:assert/strict';
import fs from 'node:fs';
import type { Platform } from '../../../runtime';
import type { DevicePublisher } from '../../../runtime/devices/config';
import type { FieldError } from '../../../runtime/errors';
import { MAX_CONFIG_SCHEMA_BYTES } from '../../../runtime/devices/models';
import { startPlatform, tempDir } from '../../support/platform';

/** Stands in for the broker: records what would be published. */
class Recorder implements DevicePublisher {
  readonly sent: Array<{ deviceId: string; subtopic: string; payload: string }> = [];
  async publishToDevice(deviceId: string, subtopic: string, payload: string): Promise<void> {
    this.sent.push({ deviceId, subtopic, payload });
  }
}

/** Assert that `fn` fails with `code`; returns the error's field errors. */
async function rejectsWith(fn: () => unknown, code: string): Promise<FieldError[]> {
  let errors: FieldError[] = [];
  await assert.rejects(
    async () => fn(),
    (err: { code?: string; errors?: FieldError[]; message?: string }) => {
      assert.equal(err.code, code, err.message);
      errors = err.errors ?? [];
      return true;
    },
  );
  return errors;
}

const pumpSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['interval'],
  properties: {
    interval: { type: 'integer', minimum: 1 },
    mode: { enum: ['eco', 'boost'] },
    thresholds: { type: 'object', properties: { high: { type: 'number' } } },
  },
};

describe('device models', () => {
  let platform: Platform;
  let dataDir: string;

  beforeEach(async () => {
    dataDir = tempDir();
    platform = await startPlatform({ dataDir });
  });
  afterEach(async () => {
    await platform.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  describe('the registry', () => {
    it('registers models, lists them sorted by name, and gets one by name', async () => {
      const created = await platform.models.create({ name: 'pump-v2', description: 'Pump, second revision', configSchema: pumpSchema });
      await platform.models.create({ name: 'Gateway.1', configSchema: {} });
      await platform.models.create({ name: 'meter_3', configSchema: { type: 'object' } });
      assert.equal(created.name, 'pump-v2');
      assert.equal(created.description, 'Pump, second revision');
      assert.deepEqual(created.configSchema, pumpSchema);
      assert.equal(created.createdAt, created.updatedAt);
      assert.deepEqual(platform.models.list().map((m) => m.name), ['Gateway.1', 'meter_3', 'pump-v2']);
      assert.deepEqual(platform.models.get('pump-v2'), created);
      assert.equal(platform.models.get('Gateway.1').description, '', 'the description defaults to empty');
      await rejectsWith(() => platform.models.get('pump-v3'), 'FF_MODEL_NOT_FOUND');
    });

    it('refuses a config schema that does not compile, with the JSON path of the problem', async () => {
      const cases: Array<[unknown, string, RegExp]> = [
        [{ type: 'object', properties: { interval: { type: 'intger' } } }, '/configSchema/properties/interval/type', /allowed values/],
        [{ type: 'object', required: 'interval' }, '/configSchema/required', /must be array/],
        [{ type: 'integer', minimun: 1 }, '/configSchema', /unknown keyword: "minimun"/],
        [{ $ref: '#/definitions/missing' }, '/configSchema', /can't resolve reference/],
        [{ $ref: 'https://example.com/remote.json' }, '/configSchema', /can't resolve reference/],
        [{ type: 'string', pattern: '(' }, '/configSchema', /Invalid regular expression/],
        [{ type: 'string', format: 'colour' }, '/configSchema', /unknown format "colour"/],
        [{ $schema: 'https://json-schema.org/draft/2020-12/schema' }, '/configSchema/$schema', /draft-07/],
        [{ $async: true, type: 'object' }, '/configSchema', /asynchronous/],
      ];
      for (const [configSchema, path, message] of cases) {
        const errors = await rejectsWith(() => platform.models.create({ name: 'bad', configSchema }), 'FF_VALIDATION');
        assert.equal(errors.length, 1, JSON.stringify(errors));
        assert.equal(errors[0].path, path, JSON.stringify(configSchema));
        assert.match(errors[0].message, message);
      }
      assert.deepEqual(platform.models.list(), []);
    });

    it('accepts draft-07 schemas with $schema, definitions, $ref and the common formats', async () => {
      const model = await platform.models.create({
        name: 'gw',
        configSchema: {
          $schema: 'http://json-schema.org/draft-07/schema#',
          $id: 'https://example.com/gw.json',
          definitions: { port: { type: 'integer', minimum: 1, maximum: 65535 } },
          type: 'object',
          properties: {
            port: { $ref: '#/definitions/port' },
            host: { type: 'string', format: 'hostname' },
            ip: { type: 'string', format: 'ipv4' },
            admin: { type: 'string', format: 'email' },
            since: { type: 'string', format: 'date-time' },
            url: { type: 'string', format: 'uri' },
          },
        },
      });
      // A second model may reuse the $id: each schema is compiled on its own.
      await platform.models.create({ name: 'gw-2', configSchema: model.configSchema });
      assert.deepEqual(platform.models.validateConfig('gw', { port: 1883, host: 'broker.local', ip: '10.0.0.1', admin: 'ops@example.com', since: '2026-01-02T03:04:05Z', url: 'mqtts://broker.local:8883' }), []);
      const errors = platform.models.validateConfig('gw-2', { port: 0, host: 'bad host', ip: '10.0.0.256', admin: 'nobody', since: '2026-02-30T00:00:00Z', url: 'no scheme' });
      assert.deepEqual(errors.map((e) => e.path).sort(), ['/admin', '/host', '/ip', '/port', '/since', '/url']);
    });

    it('refuses a config schema over 64 KiB as JSON, and accepts one at the limit', async () => {
      const sized = (bytes: number) => {
        const schema = { description: '' };
        schema.description = 'x'.repeat(bytes - Buffer.byteLength(JSON.stringify(schema)));
        return schema;
      };
      assert.equal(Buffer.byteLength(JSON.stringify(sized(MAX_CONFIG_SCHEMA_BYTES))), 65536);
      await platform.models.create({ name: 'at-limit', configSchema: sized(MAX_CONFIG_SCHEMA_BYTES) });
      const errors = await rejectsWith(() => platform.models.create({ name: 'over', configSchema: sized(MAX_CONFIG_SCHEMA_BYTES + 1) }), 'FF_VALIDATION');
      assert.deepEqual(errors, [{ path: '/configSchema', message: 'must be at most 65536 bytes as JSON; it is 65537' }]);
      assert.deepEqual(platform.models.list().map((m) => m.name), ['at-limit']);
    });

    it('refuses a schema nested too deeply to compile, without crashing', async () => {
      let deep: Record<string, unknown> = {};
      for (let i = 0; i < 3000; i++) deep = { not: deep };
      const errors = await rejectsWith(() => platform.models.create({ name: 'deep', configSchema: deep }), 'FF_VALIDATION');
      assert.equal(errors[0].path, '/configSchema');
      assert.match(errors[0].message, /nested too deeply/);
    });

    it('lists every failing field of a malformed body, and check() writes nothing', async () => {
      const errors = await rejectsWith(() => platform.models.check({ name: '-bad name', description: 5, configSchema: [], colour: 'red' }), 'FF_VALIDATION');
      assert.deepEqual(errors.map((e) => e.path).sort(), ['/colour', '/configSchema', '/description', '/name']);
      for (const body of [null, 'pump', [], {}, { name: 'x'.repeat(65), configSchema: {} }, { name: 'pump' }, { configSchema: {} }, { name: 'pump', configSchema: true }]) {
        await rejectsWith(() => platform.models.check(body), 'FF_VALIDATION');
      }
      const checked = platform.models.check({ name: 'pump', configSchema: pumpSchema });
      assert.deepEqual(checked, { name: 'pump', description: '', configSchema: pumpSchema });
      assert.deepEqual(platform.models.list(), []);
      await rejectsWith(() => platform.models.get('pump'), 'FF_MODEL_NOT_FOUND');
    });

    it('refuses a second model of the same name with FF_CONFLICT and keeps the first, even when both are created at once', async () => {
      const results = await Promise.allSettled([
        platform.models.create({ name: 'pump', description: 'first', configSchema: pumpSchema }),
        platform.models.create({ name: 'pump', description: 'second', configSchema: {} }),
      ]);
      assert.equal(results[0].status, 'fulfilled');
      assert.equal(results[1].status, 'rejected');
      assert.equal((results[1] as PromiseRejectedResult).reason.code, 'FF_CONFLICT');
      assert.equal(platform.models.get('pump').description, 'first');
    });

    it('is not changed by a caller changing its objects after a create or a get', async () => {
      const input = { name: 'pump', configSchema: structuredClone(pumpSchema) };
      const created = await platform.models.create(input);
      input.configSchema.properties.interval.minimum = 100;
      created.configSchema.required = [];
      platform.models.get('pump').configSchema.type = 'string';
      assert.deepEqual(platform.models.get('pump').configSchema, pumpSchema);
      assert.deepEqual(platform.models.validateConfig('pump', { interval: 5 }), []);
    });

    it('replaces description and schema on update, keeps createdAt, and checks configurations against the new schema', async () => {
      const created = await platform.models.create({ name: 'pump', description: 'v1', configSchema: pumpSchema });
      assert.deepEqual(platform.models.validateConfig('pump', { interval: 5 }), []);
      await new Promise((r) => setTimeout(r, 5));
      const stricter = { ...pumpSchema, properties: { ...pumpSchema.properties, interval: { type: 'integer', minimum: 10 } } };
      const updated = await platform.models.update('pump', { configSchema: stricter });
      assert.equal(updated.description, '', 'a replace: a description left out is empty');
      assert.deepEqual(updated.configSchema, stricter);
      assert.equal(updated.createdAt, created.createdAt);
      assert.ok(updated.updatedAt > created.updatedAt);
      assert.deepEqual(platform.models.validateConfig('pump', { interval: 5 }), [{ path: '/interval', message: 'must be >= 10' }]);
      const named = await platform.models.update('pump', { name: 'pump', description: 'v3', configSchema: {} });
      assert.equal(named.description, 'v3');
      assert.deepEqual(platform.models.validateConfig('pump', { interval: 5 }), []);
    });

    it('refuses an update of an unknown model, one whose body names another model, and one that does not compile, keeping the model', async () => {
      await platform.models.create({ name: 'pump', configSchema: pumpSchema });
      const before = platform.models.get('pump');
      await rejectsWith(() => platform.models.update('valve', { configSchema: {} }), 'FF_MODEL_NOT_FOUND');
      const errors = await rejectsWith(() => platform.models.update('pump', { name: 'valve', configSchema: {} }), 'FF_VALIDATION');
      assert.deepEqual(errors.map((e) => e.path), ['/name']);
      await rejectsWith(() => platform.models.update('pump', { configSchema: { type: 'nope' } }), 'FF_VALIDATION');
      await rejectsWith(() => platform.models.update('pump', 'text'), 'FF_VALIDATION');
      assert.deepEqual(platform.models.get('pump'), before);
      assert.deepEqual(platform.models.list().map((m) => m.name), ['pump']);
    });

    it('refuses to remove a model that devices have, saying how many, and removes it once none do', async () => {
      await platform.models.create({ name: 'pump', configSchema: pumpSchema });
      const a = (await platform.devices.create({ name: 'a', model: 'pump' })).device;
      await platform.devices.create({ name: 'b', model: 'pump' });
      await platform.devices.create({ name: 'c', model: 'valve' });
      await assert.rejects(platform.models.remove('pump'), (err: { code: string; status: number; message: string }) => {
        assert.equal(err.code, 'FF_MODEL_IN_USE');
        assert.equal(err.status, 409);
        assert.match(err.message, /used by 2 devices/);
        return true;
      });
      assert.equal(platform.models.get('pump').name, 'pump');
      await platform.devices.update(a.id, { model: null });
      await assert.rejects(platform.models.remove('pump'), /used by 1 device;/);
      await platform.devices.update((platform.devices.list({ limit: 10 }).items.find((d) => d.name === 'b'))!.id, { model: 'other' });
      await platform.models.remove('pump');
      await rejectsWith(() => platform.models.get('pump'), 'FF_MODEL_NOT_FOUND');
      await rejectsWith(() => platform.models.remove('pump'), 'FF_MODEL_NOT_FOUND');
      assert.deepEqual(platform.models.validateConfig('pump', { interval: 0 }), [], 'an unregistered model has no schema');
    });

    it('keeps models across a restart of the platform, schemas with $ keys and dotted property names included', async () => {
      const schema = { $schema: 'http://json-schema.org/draft-07/schema#', type: 'object', properties: { 'mqtt.host': { type: 'string' }, port: { $ref: '#/definitions/port' } }, definitions: { port: { type: 'integer' } } };
      await platform.models.create({ name: 'gw', description: 'gateway', configSchema: schema });
      await platform.models.create({ name: 'pump', configSchema: pumpSchema });
      await platform.models.update('pump', { description: 'updated', configSchema: { ...pumpSchema, required: ['interval', 'mode'] } });
      await platform.models.create({ name: 'gone', configSchema: {} });
      await platform.models.remove('gone');
      const before = platform.models.list();
      await platform.stop();
      platform = await startPlatform({ dataDir });
      assert.deepEqual(platform.models.list(), before);
      assert.deepEqual(platform.models.validateConfig('gw', { 'mqtt.host': 1, port: 'x' }).map((e) => e.path), ['/mqtt.host', '/port']);
      assert.deepEqual(platform.models.validateConfig('pump', { interval: 1 }), [{ path: '/mode', message: 'is required' }]);
    });
  });

  describe('validateConfig', () => {
    it('lists every error of a configuration with its JSON path', async () => {
      await platform.models.create({ name: 'pump', configSchema: pumpSchema });
      assert.deepEqual(platform.models.validateConfig('pump', { interval: 30, mode: 'eco', thresholds: { high: 80 } }), []);
      assert.deepEqual(platform.models.validateConfig('pump', { interval: 0, mode: 'turbo', thresholds: { high: 'hot' }, colour: 'red' }), [
        { path: '/colour', message: 'is not allowed' },
        { path: '/interval', message: 'must be >= 1' },
        { path: '/mode', message: 'must be equal to one of the allowed values' },
        { path: '/thresholds/high', message: 'must be number' },
      ]);
      assert.deepEqual(platform.models.validateConfig('pump', {}), [{ path: '/interval', message: 'is required' }]);
    });

    it('has nothing to check for a device without a model or with a model that is not registered', async () => {
      await platform.models.create({ name: 'pump', configSchema: pumpSchema });
      assert.deepEqual(platform.models.validateConfig(null, { anything: true }), []);
      assert.deepEqual(platform.models.validateConfig('valve', { anything: true }), []);
    });
  });

  describe('device configurations', () => {
    let recorder: Recorder;
    beforeEach(async () => {
      recorder = new Recorder();
      platform.deviceConfig.attach(recorder);
      await platform.models.create({ name: 'pump', configSchema: pumpSchema });
    });

    it("refuses a configuration that fails the schema of the device's model, and stores and publishes nothing", async () => {
      const { id } = (await platform.devices.create({ name: 'p1', model: 'pump' })).device;
      const errors = await rejectsWith(() => platform.deviceConfig.set(id, { interval: 'often' }), 'FF_CONFIG_SCHEMA_MISMATCH');
      assert.deepEqual(errors, [{ path: '/interval', message: 'must be integer' }]);
      assert.equal(platform.deviceConfig.get(id), null);
      assert.equal(recorder.sent.length, 0);

      const stored = await platform.deviceConfig.set(id, { interval: 30, mode: 'eco' });
      await rejectsWith(() => platform.deviceConfig.set(id, { interval: 30, mode: 'turbo' }), 'FF_CONFIG_SCHEMA_MISMATCH');
      assert.deepEqual(platform.deviceConfig.get(id), stored);
      assert.deepEqual(recorder.sent.map((p) => p.payload), ['{"interval":30,"mode":"eco"}']);
    });

    it('accepts any configuration for a device without a model or with an unregistered one', async () => {
      const none = (await platform.devices.create({ name: 'n' })).device.id;
      const other = (await platform.devices.create({ name: 'o', model: 'valve' })).device.id;
      await platform.deviceConfig.set(none, { interval: 'often' });
      await platform.deviceConfig.set(other, { interval: 'often' });
      assert.equal(recorder.sent.length, 2);
    });

    it('refuses a model change the stored configuration does not satisfy, and makes the change otherwise', async () => {
      const { id } = (await platform.devices.create({ name: 'p1' })).device;
      await platform.deviceConfig.set(id, { interval: 'often' });
      const change = (model: string | null) => platform.deviceConfig.changeModel(id, model, () => platform.devices.update(id, { model }));
      const errors = await rejectsWith(() => change('pump'), 'FF_CONFIG_SCHEMA_MISMATCH');
      assert.deepEqual(errors, [{ path: '/interval', message: 'must be integer' }]);
      assert.equal(platform.devices.require(id).model, null);

      await change('valve');
      assert.equal(platform.devices.require(id).model, 'valve', 'an unregistered model has nothing to check');
      await platform.deviceConfig.set(id, { interval: 30 });
      await change('pump');
      assert.equal(platform.devices.require(id).model, 'pump');
    });

    it('lets a device with no configuration take any model', async () => {
      const { id } = (await platform.devices.create({ name: 'p1' })).device;
      await platform.deviceConfig.changeModel(id, 'pump', () => platform.devices.update(id, { model: 'pump' }));
      assert.equal(platform.devices.require(id).model, 'pump');
      await rejectsWith(() => platform.deviceConfig.set(id, {}), 'FF_CONFIG_SCHEMA_MISMATCH');
    });
  });
});
