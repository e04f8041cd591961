import type { Node, NodeAPI, NodeDef } from 'node-red';
import type { AggregateUpdateEvent, MessageCreateEvent } from '../../runtime/events';
import { channelFilter, copy, CountStatus, deviceCopy, deviceFilter, platformOf, showError, type DeviceMode } from '../lib/common';

interface ChannelInDef extends NodeDef {
  deviceMode: DeviceMode;
  device: string;
  selector: string;
  channel: string;
  onMessage: boolean;
  onAggregate: boolean;
}

/** Emits a msg for each new message and/or aggregate update on matching devices' channels. */
export = function register(RED: NodeAPI) {
  function ChannelInNode(this: Node, config: ChannelInDef) {
    RED.nodes.createNode(this, config);
    const node = this;
    const platform = platformOf(RED);
    const unsubscribe: Array<() => void> = [];
    let status: CountStatus | null = null;

    try {
      const deviceOk = deviceFilter(config.deviceMode, config.device, config.selector);
      const channelOk = channelFilter(config.channel);
      status = new CountStatus(node, 'messages');
      const emit = (event: MessageCreateEvent | AggregateUpdateEvent) => {
        if (!channelOk(event.channel) || !deviceOk(event.device)) return;
        status!.add();
        node.send({
          topic: `devices/${event.device.id}/channels/${event.channel}`,
          payload: event.type === 'MessageCreate' ? JSON.parse(event.json) : copy(event.data),
          device: deviceCopy(event.device),
          channel: event.channel,
          messageId: event.messageId,
          ts: event.ts,
          event: event.type,
        } as never);
      };
      if (config.onMessage !== false) unsubscribe.push(platform.events.on('MessageCreate', emit));
      if (config.onAggregate) unsubscribe.push(platform.events.on('AggregateUpdate', emit));
    } catch (err) {
      node.error((err as Error).message);
      showError(node, err);
    }

    node.on('close', (_removed: boolean, done: () => void) => {
      for (const off of unsubscribe) off();
      status?.close();
      done();
    });
  }
  RED.nodes.registerType('channel in', ChannelInNode);
};
