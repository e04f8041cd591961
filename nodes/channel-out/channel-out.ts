import type { Node, NodeAPI, NodeDef } from 'node-red';
import { CountStatus, onInput, platformOf, target } from '../lib/common';

interface ChannelOutDef extends NodeDef {
  device: string;
  channel: string;
}

/** Appends msg.payload as a message to a device's channel. */
export = function register(RED: NodeAPI) {
  function ChannelOutNode(this: Node, config: ChannelOutDef) {
    RED.nodes.createNode(this, config);
    const node = this;
    const platform = platformOf(RED);
    const status = new CountStatus(node, 'stored');

    onInput(node, async (msg) => {
      const { deviceId, channel } = target(config, msg);
      await platform.channels.publish(deviceId, channel, msg.payload);
      status.add();
    });

    node.on('close', (_removed: boolean, done: () => void) => {
      status.close();
      done();
    });
  }
  RED.nodes.registerType('channel out', ChannelOutNode);
};
