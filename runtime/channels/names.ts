import { Errors } from '../errors';

/** Channel names: one MQTT topic level, no wildcards, no separators. */
export const CHANNEL_NAME_PATTERN = '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$';
const CHANNEL_NAME = new RegExp(CHANNEL_NAME_PATTERN);

export function isChannelName(name: unknown): name is string {
  return typeof name === 'string' && CHANNEL_NAME.test(name);
}

export function assertChannelName(name: unknown): asserts name is string {
  if (!isChannelName(name)) {
    throw Errors.INVALID_CHANNEL_NAME(
      `Channel names are 1-64 characters of letters, digits, '_', '.' and '-', starting with a letter or digit; got ${JSON.stringify(String(name).slice(0, 80))}`,
    );
  }
}

/** A stream is one device's channel: "<device id>/<channel>". Device ids are UUIDs, so the split is unambiguous. */
export function streamKey(deviceId: string, channel: string): string {
  return `${deviceId}/${channel}`;
}

export function splitStreamKey(key: string): { deviceId: string; channel: string } {
  const slash = key.indexOf('/');
  return { deviceId: key.slice(0, slash), channel: key.slice(slash + 1) };
}

/** Channels the platform writes itself; clients change them through their own APIs. */
export const RESERVED_CHANNELS: ReadonlyMap<string, string> = new Map([
  ['tag_values', 'Tags are written through PATCH /api/v1/devices/{id}/tags/{appKey}, MQTT devices/{id}/tags/{appKey}, or the tag node'],
  ['events', 'Triggers log their fires there; a record that anyone could write could not be trusted'],
]);

/** A channel name that clients may publish to. */
export function assertWritable(name: unknown): asserts name is string {
  assertChannelName(name);
  const how = RESERVED_CHANNELS.get(name);
  if (how) throw Errors.RESERVED_CHANNEL(`Channel "${name}" is written by the platform. ${how}.`);
}
