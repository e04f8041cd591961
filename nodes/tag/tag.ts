import type { Node, NodeAPI, NodeDef } from 'node-red';
import { choice, deviceOf, onInput, platformOf } from '../lib/common';

type Action = 'get' | 'set' | 'commit';
const ACTIONS: readonly Action[] = ['get', 'set', 'commit'];

interface TagDef extends NodeDef {
  /** An action, or `msg` for msg.action. */
  action: Action | 'msg';
  device: string;
  appKey: string;
  tag: string;
}

/**
 * Reads a device's tags of one app key, sets one tag to msg.payload, or commits an object of
 * several tags as one message. A write is checked whole first, so a bad value stores nothing.
 */
export = function register(RED: NodeAPI) {
  function TagNode(this: Node, config: TagDef) {
    RED.nodes.createNode(this, config);
    const node = this;
    const platform = platformOf(RED);

    onInput(node, async (msg) => {
      const action = choice(config.action || 'get', msg.action, 'action', ACTIONS);
      const deviceId = deviceOf(config, msg);
      const appKey = config.appKey || (typeof msg.appKey === 'string' ? msg.appKey : '');
      if (!appKey) throw new Error('No app key: set one on the node, or send msg.appKey');
      const tag = config.tag || (typeof msg.tag === 'string' ? msg.tag : '');
      if (action === 'get') {
        const values = platform.tags.get(deviceId, appKey).values;
        msg.payload = tag ? (values[tag] ?? null) : values;
      } else {
        if (action === 'set' && !tag) throw new Error('No tag: set one on the node, or send msg.tag');
        const result = await platform.tags.commit(deviceId, appKey, action === 'set' ? { [tag]: msg.payload } : msg.payload);
        msg.payload = result.values;
        msg.messageId = result.messageId;
      }
      node.status({});
      return msg;
    });
  }
  RED.nodes.registerType('tag', TagNode);
};
