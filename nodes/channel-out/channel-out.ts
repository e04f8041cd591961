import type { Node, NodeAPI, NodeDef } from 'node-red';
import { CountStatus, platformOf, showError, target } from '../lib/common';

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

    node.on('input', (msg, _send, done) => {
      let dest: { deviceId: string; channel: string };
      try {
        dest = target(config, msg);
      } catch (err) {
        showError(node, err);
        return done(err as Error);
      }
      platform.channels.publish(dest.deviceId, dest.channel, msg.payload).then(
        () => {
          status.add();
          done();
        },
        (err: Error) => {
          showError(node, err);
          done(err);
        },
      );
    });

    node.on('close', (_removed: boolean, done: () => void) => {
      status.close();
      done();
    });
  }
  RED.nodes.registerType('channel out', ChannelOutNode);
};
