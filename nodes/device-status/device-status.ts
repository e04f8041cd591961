import type { Node, NodeAPI, NodeDef } from 'node-red';
import type { DeviceStatusEvent } from '../../runtime/events';
import { deviceCopy, deviceFilter, platformOf, showError, type DeviceMode } from '../lib/common';

interface DeviceStatusDef extends NodeDef {
  deviceMode: DeviceMode;
  device: string;
  selector: string;
}

/** Emits when a matching device connects (its first connection) or disconnects (its last). */
export = function register(RED: NodeAPI) {
  function DeviceStatusNode(this: Node, config: DeviceStatusDef) {
    RED.nodes.createNode(this, config);
    const node = this;
    const platform = platformOf(RED);
    const unsubscribe: Array<() => void> = [];

    try {
      const deviceOk = deviceFilter(config.deviceMode, config.device, config.selector);
      const emit = (event: DeviceStatusEvent) => {
        if (!deviceOk(event.device)) return;
        node.status({
          fill: event.online ? 'green' : 'red',
          shape: 'dot',
          text: `${event.device.name} ${event.online ? 'online' : 'offline'}`,
        });
        node.send({
          topic: `devices/${event.device.id}/status`,
          payload: { online: event.online, lastSeen: event.ts },
          device: deviceCopy(event.device),
          event: event.type,
          ts: event.ts,
        } as never);
      };
      unsubscribe.push(platform.events.on('DeviceConnect', emit), platform.events.on('DeviceDisconnect', emit));
    } catch (err) {
      node.error((err as Error).message);
      showError(node, err);
    }

    node.on('close', (_removed: boolean, done: () => void) => {
      for (const off of unsubscribe) off();
      done();
    });
  }
  RED.nodes.registerType('device status', DeviceStatusNode);
};
