import type { Node, NodeAPI, NodeDef } from 'node-red';
import type { Platform } from '../../runtime';
import { Errors } from '../../runtime/errors';
import { parseSelector } from '../../runtime/devices/selector';
import type { HistoryPage, HistoryQuery } from '../../runtime/channels/service';
import { onInput, platformOf, target } from '../lib/common';

interface HistoryDef extends NodeDef {
  /** id (the default, and what nodes saved before there was a choice mean): `device`, or msg's device when empty; selector: every device matching `selector`. */
  deviceMode?: 'id' | 'selector';
  device: string;
  /** Mode selector: a label selector; empty: every device. */
  selector?: string;
  channel: string;
  /** Look back this far from now (in `rangeUnit`); empty: no lower bound. */
  range: string;
  rangeUnit: 'minutes' | 'hours' | 'days';
  limit: string;
  order: 'asc' | 'desc';
}

const UNIT_MS = { minutes: 60_000, hours: 3_600_000, days: 86_400_000 } as const;
/** Devices read per page of the registry while collecting a selector's matches. */
const DEVICE_PAGE = 1000;

/**
 * Queries a channel's messages into msg.payload: of one device, or of every device matching a
 * label selector. msg.after, msg.before, msg.limit and msg.order override the node's settings;
 * msg.next is the cursor for the following page.
 */
export = function register(RED: NodeAPI) {
  function HistoryNode(this: Node, config: HistoryDef) {
    RED.nodes.createNode(this, config);
    const node = this;
    const platform = platformOf(RED);

    onInput(node, async (msg) => {
      const query: HistoryQuery = {
        after: (msg.after as HistoryQuery['after']) ?? lookBack(config),
        before: msg.before as HistoryQuery['before'],
        limit: msg.limit === undefined ? Number(config.limit || 100) : Number(msg.limit),
        order: ((msg.order as string) ?? config.order ?? 'desc') as 'asc' | 'desc',
      };
      if (config.deviceMode === 'selector') {
        const channel = config.channel || (typeof msg.channel === 'string' ? msg.channel : undefined);
        if (!channel) throw new Error('No channel: set one on the node, or send msg.channel');
        const { page, devices } = await selectorHistory(platform, config.selector ?? '', channel, query);
        msg.payload = page.items;
        msg.next = page.next;
        node.status({ fill: 'green', shape: 'dot', text: `${page.items.length} messages, ${devices} ${devices === 1 ? 'device' : 'devices'}` });
        return msg;
      }
      const { deviceId, channel } = target(config, msg);
      const page = await platform.channels.history(deviceId, channel, query);
      msg.payload = page.items;
      msg.next = page.next;
      node.status({ fill: 'green', shape: 'dot', text: `${page.items.length} messages` });
      return msg;
    });
  }

  function lookBack(config: HistoryDef): number | undefined {
    const n = Number(config.range);
    if (!config.range || !Number.isFinite(n) || n <= 0) return undefined;
    return Date.now() - n * UNIT_MS[config.rangeUnit ?? 'hours'];
  }

  RED.nodes.registerType('history', HistoryNode);
};

type DeviceItem = HistoryPage['items'][number] & { device: { id: string; name: string } };

/**
 * One page over the channel of every device matching `selector` (empty: every device). Message ids are unique and
 * time-ordered across all devices, so the pages of each device merge into one page in id order,
 * and its last id is a cursor that works for all of them.
 */
async function selectorHistory(platform: Platform, selector: string, channel: string, query: HistoryQuery): Promise<{ page: { items: DeviceItem[]; next: string | null }; devices: number }> {
  let parsed;
  try {
    parsed = parseSelector(selector);
  } catch (err) {
    throw Errors.INVALID_QUERY(`selector: ${(err as Error).message}`, { errors: [{ path: '/selector', message: (err as Error).message }] });
  }
  const limit = query.limit ?? 100;
  const order = query.order ?? 'desc';
  const items: DeviceItem[] = [];
  let devices = 0;
  // A device with more than a page in range has more even when the merged page is not over the limit.
  let truncated = false;
  let after: string | undefined;
  do {
    const list = platform.devices.list({ selector: parsed, limit: DEVICE_PAGE, after });
    for (const device of list.items) {
      // A matching device that never sent on the channel has nothing to add.
      if (!platform.channels.channelNames(device.id).includes(channel)) continue;
      devices++;
      const page = await platform.channels.history(device.id, channel, query);
      truncated ||= page.next !== null;
      for (const item of page.items) items.push({ ...item, device: { id: device.id, name: device.name } });
    }
    after = list.next ?? undefined;
  } while (after !== undefined);
  const byId = (a: DeviceItem, b: DeviceItem) => compareIds(a.id, b.id) * (order === 'asc' ? 1 : -1);
  items.sort(byId);
  const more = items.length > limit || truncated;
  if (items.length > limit) items.length = limit;
  return { page: { items, next: more ? items[items.length - 1].id : null }, devices };
}

/** Ids are decimal strings of up to 19 digits: shorter is smaller. */
function compareIds(a: string, b: string): number {
  return a.length - b.length || (a < b ? -1 : a > b ? 1 : 0);
}
