import { randomUUID } from 'node:crypto';
import { Errors, isFieldflowError } from '../errors';
import type { Collection, Store } from '../store';
import type { Logger } from '../log';
import { serializeData, type PayloadLimits } from '../channels/payload';
import type { DeviceRegistry } from './registry';
import type { ModelService } from './models';
import { iso } from '../views';

/** What the service needs of the broker: a publish into one device's namespace. */
export interface DevicePublisher {
  publishToDevice(deviceId: string, subtopic: string, payload: string, options: { retain: boolean; qos: 0 | 1 }): Promise<void>;
}

export interface DeviceConfigDeps {
  devices: DeviceRegistry;
  /** A configuration must satisfy the config schema of its device's model, when that model is registered. */
  models: Pick<ModelService, 'validateConfig'>;
  /** The ingest payload limits: a config and a command's arguments are held to them too. */
  limits: PayloadLimits;
  log: Logger;
  now: () => number;
}

/** A device's configuration as the platform holds it. */
export interface StoredConfig {
  config: Record<string, unknown>;
  updatedAt: number;
}

/** A command as it was sent; `delivered` says whether the device had a live connection then. */
export interface SentCommand {
  id: string;
  name: string;
  sentAt: number;
  delivered: boolean;
}

/**
 * Stored as JSON text, not as an object: NeDB refuses field names that start with `$` or contain
 * `.`, and a device configuration may well have those.
 */
interface ConfigDoc {
  _id: string;
  json: string;
  updatedAt: number;
}

export const CONFIG_SUBTOPIC = 'config';
export const COMMAND_NAME_PATTERN = '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$';
const COMMAND_NAME = new RegExp(COMMAND_NAME_PATTERN);

/**
 * Device configuration and commands, the two things the platform sends to a device.
 *
 * A configuration is a JSON object per device, written through to the `device_config`
 * collection and then published retained on `devices/{id}/config`, so a device gets it whenever it
 * subscribes. The broker keeps retained messages in memory only, so attach() publishes every
 * stored configuration again once the broker exists.
 *
 * A command is not stored: it is published once, QoS 1 and not retained, on
 * `devices/{id}/commands/{name}` as `{"id","args","sentAt"}`.
 */
export class DeviceConfigService {
  private readonly configs = new Map<string, { json: string; updatedAt: number }>();
  /** One chain per device, so a first insert never races another, and publishes go out in write order. */
  private readonly queues = new Map<string, Promise<void>>();
  private collection!: Collection<ConfigDoc>;
  private link: DevicePublisher | null = null;

  constructor(private readonly deps: DeviceConfigDeps) {}

  async start(store: Store): Promise<void> {
    this.collection = await store.collection<ConfigDoc>('device_config');
    const orphans: string[] = [];
    for (const doc of await this.collection.all()) {
      // A crash between a device's removal and its config's leaves the config behind.
      if (this.deps.devices.get(doc._id)) this.configs.set(doc._id, { json: doc.json, updatedAt: doc.updatedAt });
      else orphans.push(doc._id);
    }
    if (orphans.length) await this.collection.removeMany(orphans);
  }

  /** Publish every stored configuration, retained: called once the broker is up. */
  attach(link: DevicePublisher): void {
    this.link = link;
    for (const [deviceId, { json }] of this.configs) void this.publish(deviceId, json);
  }

  /** The device's configuration, or null when none was ever set. */
  get(deviceId: string): StoredConfig | null {
    this.deps.devices.require(deviceId);
    const stored = this.configs.get(deviceId);
    return stored ? { config: JSON.parse(stored.json), updatedAt: stored.updatedAt } : null;
  }

  /**
   * Replace the device's configuration. It is stored before it is published; a refused one
   * (FF_INVALID_CONFIG, or FF_CONFIG_SCHEMA_MISMATCH when it fails the schema of the device's
   * model) leaves the stored one as it was.
   */
  async set(deviceId: string, config: unknown): Promise<StoredConfig> {
    this.deps.devices.require(deviceId);
    const json = checkObject(config, this.deps.limits, Errors.INVALID_CONFIG, 'A device configuration');
    return this.serial(deviceId, async () => {
      // Deleted while an earlier write for it was still running.
      const device = this.deps.devices.require(deviceId);
      // The JSON is what is stored and sent, so that is what is checked (toJSON, undefined values).
      this.assertFits(device.model, JSON.parse(json), 'The configuration');
      const updatedAt = this.deps.now();
      const doc: ConfigDoc = { _id: deviceId, json, updatedAt };
      if (this.configs.has(deviceId)) await this.collection.replace(doc);
      else await this.collection.insert(doc);
      this.configs.set(deviceId, { json, updatedAt });
      await this.publish(deviceId, json);
      return { config: JSON.parse(json), updatedAt };
    });
  }

  /**
   * Run `change`, which gives the device `model`, once its stored configuration is known to satisfy
   * that model's schema (FF_CONFIG_SCHEMA_MISMATCH otherwise, and `change` does not run). A device
   * with no configuration yet, or that has this model already, has nothing to check. It runs in
   * turn with configuration writes, so none can slip in between the check and the change.
   */
  changeModel<T>(deviceId: string, model: string | null, change: () => Promise<T>): Promise<T> {
    this.deps.devices.require(deviceId);
    return this.serial(deviceId, async () => {
      const stored = this.configs.get(deviceId);
      const device = this.deps.devices.require(deviceId);
      if (stored && device.model !== model) this.assertFits(model, JSON.parse(stored.json), 'The current configuration');
      return change();
    });
  }

  /** Forget a deleted device's configuration and clear its retained message. */
  dropDevice(deviceId: string): Promise<void> {
    return this.serial(deviceId, async () => {
      if (this.configs.has(deviceId)) await this.collection.remove(deviceId);
      this.configs.delete(deviceId);
      // An empty retained payload removes the retained message [MQTT-3.3.1-10]; QoS 0, so
      // nothing is queued for the deleted device's sessions.
      await this.publish(deviceId, '', 0);
    });
  }

  /**
   * Send a command: published QoS 1, not retained. It reaches the device's live connections that
   * subscribe to it, and is queued by the broker (in memory) for a persistent session that is offline;
   * anything else does not get it.
   */
  async send(deviceId: string, name: unknown, args: unknown = {}): Promise<SentCommand> {
    const device = this.deps.devices.require(deviceId);
    if (typeof name !== 'string' || !COMMAND_NAME.test(name)) {
      throw Errors.INVALID_COMMAND('A command name is 1-64 letters, digits, "_", "." or "-", starting with a letter or digit');
    }
    const argsJson = checkObject(args, this.deps.limits, Errors.INVALID_COMMAND, 'Command arguments');
    const link = this.link;
    if (!link) throw Errors.UNAVAILABLE('The MQTT broker is not running');
    const id = randomUUID();
    const sentAt = this.deps.now();
    const delivered = device.online;
    const payload = `{"id":${JSON.stringify(id)},"args":${argsJson},"sentAt":${JSON.stringify(new Date(sentAt).toISOString())}}`;
    await link.publishToDevice(deviceId, `commands/${name}`, payload, { retain: false, qos: 1 });
    return { id, name, sentAt, delivered };
  }

  private assertFits(model: string | null, config: unknown, what: string): void {
    const errors = this.deps.models.validateConfig(model, config);
    if (errors.length) {
      const list = errors.map((e) => `${e.path} ${e.message}`).join('; ');
      throw Errors.CONFIG_SCHEMA_MISMATCH(`${what} does not satisfy the config schema of model ${JSON.stringify(model)}: ${list}`, { errors });
    }
  }

  private publish(deviceId: string, json: string, qos: 0 | 1 = 1): Promise<void> {
    if (!this.link) return Promise.resolve();
    // The stored config is the truth: a failed publish is logged, and the next start publishes it again.
    return this.link.publishToDevice(deviceId, CONFIG_SUBTOPIC, json, { retain: true, qos }).catch((err) => {
      this.deps.log.error('device config publish failed', { device: deviceId, error: (err as Error).message });
    });
  }

  private serial<T>(deviceId: string, fn: () => Promise<T>): Promise<T> {
    const run = (this.queues.get(deviceId) ?? Promise.resolve()).then(fn);
    const tail = run.then(
      () => undefined,
      () => undefined,
    );
    this.queues.set(deviceId, tail);
    void tail.then(() => {
      if (this.queues.get(deviceId) === tail) this.queues.delete(deviceId);
    });
    return run;
  }
}

/** A JSON object within the payload limits, as compact JSON; anything else is `invalid`. */
function checkObject(value: unknown, limits: PayloadLimits, invalid: typeof Errors.INVALID_CONFIG, what: string): string {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw invalid(`${what} must be a JSON object; got ${value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value}`);
  }
  try {
    return serializeData(value, limits).json;
  } catch (err) {
    // Size, depth or serialisation: one code for "this cannot be a config", the detail says which.
    if (isFieldflowError(err)) throw invalid(`${what}: ${err.message}`);
    throw err;
  }
}

/** A configuration as the API shows it; a device that never had one has `{}` and no time. */
export function configView(stored: StoredConfig | null) {
  return stored ? { config: stored.config, updatedAt: iso(stored.updatedAt) } : { config: {}, updatedAt: null };
}

/** A sent command as the API shows it. */
export function commandView(c: SentCommand) {
  return { id: c.id, name: c.name, sentAt: iso(c.sentAt), delivered: c.delivered };
}
