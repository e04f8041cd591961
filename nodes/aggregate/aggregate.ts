import type { Node, NodeAPI, NodeDef } from 'node-red';
import { copy, platformOf, showError, target } from '../lib/common';

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

    node.on('input', async (msg, send, done) => {
      try {
        const { deviceId, channel } = target(config, msg);
        const out = msg as typeof msg & Record<string, unknown>;
        if (config.action === 'patch') {
          const result = await platform.channels.publish(deviceId, channel, msg.payload);
          out.payload = copy(result.aggregate.data);
          out.messageId = result.id;
          out.aggregate = { updatedAt: result.aggregate.updatedAt, lastMessageId: result.aggregate.lastMessageId };
        } else {
          const aggregate = platform.channels.aggregate(deviceId, channel);
          out.payload = copy(aggregate.data);
          out.aggregate = { updatedAt: aggregate.updatedAt, lastMessageId: aggregate.lastMessageId };
        }
        node.status({});
        send(out);
        done();
      } catch (err) {
        showError(node, err);
        done(err as Error);
      }
    });
  }
  RED.nodes.registerType('aggregate', AggregateNode);
};
