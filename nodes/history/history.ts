import type { Node, NodeAPI, NodeDef } from 'node-red';
import { onInput, platformOf, target } from '../lib/common';
import type { HistoryQuery } from '../../runtime/channels/service';

interface HistoryDef extends NodeDef {
  device: string;
  channel: string;
  /** Look back this far from now (in `rangeUnit`); empty: no lower bound. */
  range: string;
  rangeUnit: 'minutes' | 'hours' | 'days';
  limit: string;
  order: 'asc' | 'desc';
}

const UNIT_MS = { minutes: 60_000, hours: 3_600_000, days: 86_400_000 } as const;

/**
 * Queries a channel's messages into msg.payload. msg.after, msg.before, msg.limit and msg.order
 * override the node's settings; msg.next is the cursor for the following page.
 */
export = function register(RED: NodeAPI) {
  function HistoryNode(this: Node, config: HistoryDef) {
    RED.nodes.createNode(this, config);
    const node = this;
    const platform = platformOf(RED);

    onInput(node, async (msg) => {
      const { deviceId, channel } = target(config, msg);
      const query: HistoryQuery = {
        after: (msg.after as HistoryQuery['after']) ?? lookBack(config),
        before: msg.before as HistoryQuery['before'],
        limit: msg.limit === undefined ? Number(config.limit || 100) : Number(msg.limit),
        order: ((msg.order as string) ?? config.order ?? 'desc') as 'asc' | 'desc',
      };
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
