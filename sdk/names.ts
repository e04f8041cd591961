import { InvalidArgumentError } from './errors';

// The same rules as the server (docs/mqtt.md): checking here turns a silent server-side drop into an error at the call.
const CHANNEL = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
const APP_KEY = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;
/** Tags are committed on their own topic; the server refuses publishes to this channel. */
const RESERVED_CHANNEL = 'tag_values';

/** A tag value as the server stores it; `null` deletes the tag. */
export type TagValue = number | boolean | string;

/** Throw {@link InvalidArgumentError} unless `name` is a channel a device may publish to. */
export function assertChannel(name: unknown): asserts name is string {
  if (typeof name !== 'string' || !CHANNEL.test(name)) {
    throw new InvalidArgumentError(`a channel name is 1-64 letters, digits, _ . or -, starting with a letter or digit; got ${JSON.stringify(name)}`);
  }
  if (name === RESERVED_CHANNEL) throw new InvalidArgumentError(`${RESERVED_CHANNEL} is reserved: commit tags with commitTags()`);
}

/** Throw {@link InvalidArgumentError} unless `name` is a valid tag app key. */
export function assertAppKey(name: unknown): asserts name is string {
  if (typeof name !== 'string' || !APP_KEY.test(name)) {
    throw new InvalidArgumentError(`an app key is 1-64 letters, digits, _ or -, starting with a letter or digit; got ${JSON.stringify(name)}`);
  }
}

/** Throw {@link InvalidArgumentError} unless `tags` is an object of valid tag names to scalars or null. */
export function assertTags(tags: unknown): asserts tags is Record<string, TagValue | null> {
  if (typeof tags !== 'object' || tags === null || Array.isArray(tags)) throw new InvalidArgumentError('tags are an object of tag name to value');
  for (const [name, value] of Object.entries(tags)) {
    if (!APP_KEY.test(name)) throw new InvalidArgumentError(`a tag name is 1-64 letters, digits, _ or -, starting with a letter or digit; got ${JSON.stringify(name)}`);
    const t = typeof value;
    if (value !== null && t !== 'number' && t !== 'boolean' && t !== 'string') throw new InvalidArgumentError(`tag ${name}: a value is a number, boolean, string or null`);
    if (t === 'number' && !Number.isFinite(value)) throw new InvalidArgumentError(`tag ${name}: a number must be finite`);
  }
}
