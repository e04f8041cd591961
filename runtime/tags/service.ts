import { Errors, type FieldError } from '../errors';
import type { Collection, Store } from '../store';
import type { ChannelService, PublishResult } from '../channels/service';
import type { DeviceRegistry } from '../devices/registry';
import { parsePayload, type PayloadLimits } from '../channels/payload';

export type TagValue = number | boolean | string;
export type TagType = 'number' | 'boolean' | 'string';
export const TAG_TYPES: readonly TagType[] = ['number', 'boolean', 'string'];

/** The channel whose aggregate holds a device's tags: `{appKey: {tag: value}}`. */
export const TAGS_CHANNEL = 'tag_values';
/** App keys and tag names: no dots, so `appKey.tag` is an unambiguous path into the aggregate. */
export const TAG_NAME_PATTERN = '^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$';
const TAG_NAME = new RegExp(TAG_NAME_PATTERN);
const MAX_TAGS_PER_COMMIT = 256;
const MAX_STRING_LENGTH = 4096;

export interface TagSet {
  appKey: string;
  values: Record<string, TagValue>;
  /** The declared types of this app key's tags. */
  types: Record<string, TagType>;
  /** When the tags last changed (any app key of the device), or null. */
  updatedAt: number | null;
}

interface TypesDoc {
  _id: string;
  types: Record<string, TagType>;
}

export interface TagServiceDeps {
  channels: ChannelService;
  devices: DeviceRegistry;
  limits: PayloadLimits;
}

/**
 * Tags: typed name/value pairs per app key on a device. They live in the device's `tag_values`
 * channel, so every commit is a message and tag history is channel history; this service adds the
 * checks (names, value kinds, declared types) that a plain channel write does not make.
 */
export class TagService {
  private readonly declared = new Map<string, Record<string, TagType>>();
  private collection!: Collection<TypesDoc>;
  private readonly committed: Array<(deviceId: string, appKey: string, values: Record<string, TagValue | null>) => Promise<void>> = [];

  constructor(private readonly deps: TagServiceDeps) {}

  /**
   * Call `listener` after every stored commit, with the values as committed; the commit resolves
   * (and an MQTT commit is acknowledged) once the listeners have. OTA watches the `firmware` tag
   * here. A listener must not reject: the commit is stored by then.
   */
  onCommit(listener: (deviceId: string, appKey: string, values: Record<string, TagValue | null>) => Promise<void>): void {
    this.committed.push(listener);
  }

  async start(store: Store): Promise<void> {
    this.collection = await store.collection<TypesDoc>('tag_types');
    for (const doc of await this.collection.all()) this.declared.set(doc._id, doc.types);
  }

  /** The declared types of an app key's tags (applies on every device). */
  types(appKey: string): Record<string, TagType> {
    assertTagName(appKey, 'appKey');
    return { ...this.declared.get(appKey) };
  }

  /** Declare (or with null, undeclare) tag types for an app key. */
  async declare(appKey: string, patch: Record<string, TagType | null>): Promise<Record<string, TagType>> {
    assertTagName(appKey, 'appKey');
    if (typeof patch !== 'object' || patch === null || Array.isArray(patch)) throw Errors.INVALID_TAG('Tag types must be an object of tag name to "number", "boolean" or "string"');
    const errors: FieldError[] = [];
    for (const [name, type] of Object.entries(patch)) {
      if (!TAG_NAME.test(name)) errors.push({ path: `/${name}`, message: 'is not a valid tag name' });
      else if (type !== null && !TAG_TYPES.includes(type)) errors.push({ path: `/${name}`, message: 'must be "number", "boolean", "string" or null' });
    }
    if (errors.length) throw Errors.INVALID_TAG(errors.map((e) => `${e.path} ${e.message}`).join('; '), { errors });
    const existed = this.declared.has(appKey);
    const types = { ...this.declared.get(appKey) };
    for (const [name, type] of Object.entries(patch)) {
      if (type === null) delete types[name];
      else types[name] = type;
    }
    const doc = { _id: appKey, types };
    if (existed) await this.collection.replace(doc);
    else await this.collection.insert(doc);
    this.declared.set(appKey, types);
    return { ...types };
  }

  get(deviceId: string, appKey: string): TagSet {
    this.deps.devices.require(deviceId);
    assertTagName(appKey, 'appKey');
    const { data, updatedAt } = this.current(deviceId);
    const values = (data as Record<string, unknown> | null)?.[appKey];
    return { appKey, values: isObject(values) ? (structuredClone(values) as Record<string, TagValue>) : {}, types: this.types(appKey), updatedAt };
  }

  /** Every app key's tags on a device. */
  all(deviceId: string): Record<string, Record<string, TagValue>> {
    this.deps.devices.require(deviceId);
    const { data } = this.current(deviceId);
    return isObject(data) ? (structuredClone(data) as Record<string, Record<string, TagValue>>) : {};
  }

  /**
   * Set several tags at once, as one message. A null value deletes the tag. The whole commit is
   * checked first, so a wrong type anywhere stores nothing.
   */
  async commit(deviceId: string, appKey: string, values: unknown): Promise<TagSet & { messageId: string }> {
    this.deps.devices.require(deviceId);
    assertTagName(appKey, 'appKey');
    this.check(appKey, values);
    const result: PublishResult = await this.deps.channels.publishInternal(deviceId, TAGS_CHANNEL, { [appKey]: values }, { whileStopping: false });
    if (this.committed.length) await Promise.all(this.committed.map((listener) => listener(deviceId, appKey, values)));
    const data = (result.aggregate.data as Record<string, unknown> | null)?.[appKey];
    return {
      appKey,
      values: isObject(data) ? (structuredClone(data) as Record<string, TagValue>) : {},
      types: this.types(appKey),
      updatedAt: result.ts,
      messageId: result.id,
    };
  }

  /** A commit as raw JSON bytes (MQTT `devices/{id}/tags/{appKey}`). */
  commitRaw(deviceId: string, appKey: string, payload: Buffer | string): Promise<TagSet & { messageId: string }> {
    return this.commit(deviceId, appKey, parsePayload(payload, this.deps.limits).data);
  }

  private check(appKey: string, values: unknown): asserts values is Record<string, TagValue | null> {
    if (!isObject(values)) throw Errors.INVALID_TAG('A tag commit is an object of tag name to value, such as {"level": 80}');
    const entries = Object.entries(values);
    if (entries.length === 0) throw Errors.INVALID_TAG('A tag commit must set at least one tag');
    if (entries.length > MAX_TAGS_PER_COMMIT) throw Errors.INVALID_TAG(`A tag commit sets at most ${MAX_TAGS_PER_COMMIT} tags; got ${entries.length}`);
    const declared = this.declared.get(appKey) ?? {};
    const invalid: FieldError[] = [];
    const mismatched: FieldError[] = [];
    for (const [name, value] of entries) {
      const path = `/${appKey}/${name}`;
      if (!TAG_NAME.test(name)) invalid.push({ path, message: 'is not a valid tag name (1-64 letters, digits, _ or -)' });
      else if (value === null) continue;
      else if (typeof value === 'number' ? !Number.isFinite(value) : typeof value !== 'boolean' && typeof value !== 'string') {
        invalid.push({ path, message: 'must be a number, boolean, string, or null to delete it' });
      } else if (typeof value === 'string' && value.length > MAX_STRING_LENGTH) {
        invalid.push({ path, message: `is longer than ${MAX_STRING_LENGTH} characters` });
      } else if (Object.hasOwn(declared, name) && typeof value !== declared[name]) {
        mismatched.push({ path, message: `is declared ${declared[name]}; got ${typeof value}` });
      }
    }
    const describe = (errors: FieldError[]) => errors.map((e) => `${e.path} ${e.message}`).join('; ');
    if (invalid.length) throw Errors.INVALID_TAG(describe(invalid), { errors: [...invalid, ...mismatched] });
    if (mismatched.length) throw Errors.TAG_TYPE_MISMATCH(describe(mismatched), { errors: mismatched });
  }

  private current(deviceId: string): { data: unknown; updatedAt: number | null } {
    try {
      const agg = this.deps.channels.aggregate(deviceId, TAGS_CHANNEL);
      return { data: agg.data, updatedAt: agg.updatedAt };
    } catch (err) {
      if ((err as { code?: string }).code === Errors.CHANNEL_NOT_FOUND.code) return { data: null, updatedAt: null };
      throw err;
    }
  }
}

export function assertTagName(name: unknown, what: 'appKey' | 'tag'): asserts name is string {
  if (typeof name !== 'string' || !TAG_NAME.test(name)) {
    throw Errors.INVALID_TAG(`${what === 'appKey' ? 'An app key' : 'A tag name'} is 1-64 letters, digits, _ or -, starting with a letter or digit; got ${JSON.stringify(String(name).slice(0, 80))}`);
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
