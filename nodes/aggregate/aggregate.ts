import type { Node, NodeAPI, NodeDef } from 'node-red';
import { copy, onInput, platformOf, target } from '../lib/common';

interface AggregateDef extends NodeDef {
  action: 'get' | 'patch';
  device: string;
  channel: string;
}

/**
 * Reads a channel's aggregate, or merge-patches it with msg.payload (RFC 7386). A patch is stored
 * as a message like any other, so the channel's history shows it.
 */
export = function register(RED: NodeAPI) {
  function AggregateNode(this: Node, config: AggregateDef) {
    RED.nodes.createNode(this, config);
    const node = this;
    const platform = platformOf(RED);

    onInput(node, async (msg) => {
      const { deviceId, channel } = target(config, msg);
      if (config.action === 'patch') {
        const result = await platform.channels.publish(deviceId, channel, msg.payload);
        msg.payload = copy(result.aggregate.data);
        msg.messageId = result.id;
        msg.aggregate = { updatedAt: result.aggregate.updatedAt, lastMessageId: result.aggregate.lastMessageId };
      } else {
        const aggregate = platform.channels.aggregate(deviceId, channel);
        msg.payload = copy(aggregate.data);
        msg.aggregate = { updatedAt: aggregate.updatedAt, lastMessageId: aggregate.lastMessageId };
      }
      node.status({});
      return msg;
    });
  }
  RED.nodes.registerType('aggregate', AggregateNode);
};
