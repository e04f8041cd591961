import type { Node, NodeAPI, NodeMessage, NodeMessageInFlow } from 'node-red';
import type { Platform } from '../../runtime';
import type { DeviceRef } from '../../runtime/events';
import { parseSelector, matchesSelector } from '../../runtime/devices/selector';
import { isFieldflowError } from '../../runtime/errors';

/** The platform, from RED.settings (settings.ts puts it there); nodes hold no module state. */
export function platformOf(RED: NodeAPI): Platform {
  const platform = (RED.settings as unknown as { fieldflow?: Platform }).fieldflow;
  if (!platform) throw new Error('Fieldflow platform missing from settings: these nodes run inside Fieldflow');
  return platform;
}

export type DeviceMode = 'all' | 'id' | 'selector';

/** A predicate over devices from a node's "device" settings. Throws on an invalid selector. */
export function deviceFilter(mode: DeviceMode, deviceId: string, selector: string): (d: DeviceRef) => boolean {
  if (mode === 'id') return (d) => d.id === deviceId;
  if (mode === 'selector') {
    const parsed = parseSelector(selector);
    return (d) => matchesSelector(d.labels, parsed);
  }
  return () => true;
}

/** A channel name pattern: an exact name, or "+" for any channel. */
export function channelFilter(pattern: string): (name: string) => boolean {
  const p = (pattern || '+').trim();
  return p === '+' ? () => true : (name) => name === p;
}

type MsgWithTarget = NodeMessage & { device?: { id?: unknown }; deviceId?: unknown; channel?: unknown };

/**
 * Which device a message is for: the node's own setting when it has one, otherwise
 * msg.deviceId / msg.device.id (as set by `channel in` and the other event nodes).
 */
export function deviceOf(config: { device?: string }, msg: NodeMessage): string {
  const m = msg as MsgWithTarget;
  const deviceId = config.device || (typeof m.deviceId === 'string' ? m.deviceId : undefined) || (typeof m.device?.id === 'string' ? m.device.id : undefined);
  if (!deviceId) throw new Error('No device: set one on the node, or send msg.deviceId (or msg.device.id)');
  return deviceId;
}

/** Which device and channel a message is for: see deviceOf(); the channel comes from msg.channel. */
export function target(config: { device?: string; channel?: string }, msg: NodeMessage): { deviceId: string; channel: string } {
  const deviceId = deviceOf(config, msg);
  const m = msg as MsgWithTarget;
  const channel = config.channel || (typeof m.channel === 'string' ? m.channel : undefined);
  if (!channel) throw new Error('No channel: set one on the node, or send msg.channel');
  return { deviceId, channel };
}

/**
 * The setting of a node, or with `msg` (the editor's "set by msg.<name>" choice) the message's
 * property, which must be one of `allowed`.
 */
export function choice<T extends string>(setting: string, value: unknown, name: string, allowed: readonly T[]): T {
  const picked = setting === 'msg' ? value : setting;
  if (typeof picked !== 'string' || !(allowed as readonly string[]).includes(picked)) {
    throw new Error(`msg.${name} must be one of ${allowed.join(', ')}; got ${JSON.stringify(picked)?.slice(0, 40) ?? 'nothing'}`);
  }
  return picked as T;
}

/**
 * Node-RED's input pattern for an async handler: the handler returns the message to send (or
 * nothing), and any error reaches Catch nodes through done(err) and shows on the node's status.
 */
export function onInput(node: Node, handler: (msg: NodeMessageInFlow & Record<string, unknown>) => Promise<NodeMessage | void>): void {
  node.on('input', (msg, send, done) => {
    handler(msg as NodeMessageInFlow & Record<string, unknown>).then(
      (out) => {
        if (out) send(out);
        done();
      },
      (err: Error) => {
        showError(node, err);
        done(err);
      },
    );
  });
}

/** Show an error on the node's status: the catalog code when there is one. */
export function showError(node: Node, err: unknown): void {
  const text = isFieldflowError(err) ? err.code : (err as Error).message;
  node.status({ fill: 'red', shape: 'ring', text: text.slice(0, 60) });
}

/**
 * Per-message status updates flood the editor's connection; this shows a running count at most
 * once a second instead.
 */
export class CountStatus {
  private count = 0;
  private shown = -1;
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly node: Node, private readonly label: string) {
    node.status({ fill: 'grey', shape: 'dot', text: `${label}: 0` });
    this.timer = setInterval(() => this.show(), 1000);
    this.timer.unref();
  }

  add(): void {
    this.count++;
  }

  private show(): void {
    if (this.count === this.shown) return;
    this.shown = this.count;
    this.node.status({ fill: 'green', shape: 'dot', text: `${this.label}: ${this.count}` });
  }

  close(): void {
    clearInterval(this.timer);
  }
}

/** The device of an event, as a flow's own copy (events share the registry's labels). */
export function deviceCopy(device: DeviceRef): DeviceRef {
  return { id: device.id, name: device.name, labels: { ...device.labels } };
}

/** Event data is shared with the platform's state; a flow gets its own copy to change. */
export function copy<T>(value: T): T {
  return value === null || typeof value !== 'object' ? value : structuredClone(value);
}
