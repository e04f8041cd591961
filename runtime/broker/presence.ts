import type { DeviceRegistry, Device } from '../devices/registry';
import { deviceRef } from '../devices/registry';
import type { EventBus } from '../events';

export interface PresenceDeps {
  devices: DeviceRegistry;
  events: EventBus;
  now: () => number;
  /** Publish a retained message on the broker. */
  publish: (topic: string, payload: string) => void;
}

export function statusTopic(deviceId: string): string {
  return `devices/${deviceId}/status`;
}

/**
 * Device presence: online while at least one connection is up. Each change is kept on the device,
 * emitted as DeviceConnect/DeviceDisconnect, and published retained on `devices/{id}/status`, so
 * a subscriber learns the current state as soon as it subscribes.
 */
export class Presence {
  constructor(private readonly deps: PresenceDeps) {}

  online(device: Device): void {
    this.change(device, true);
  }

  offline(deviceId: string): void {
    const device = this.deps.devices.get(deviceId);
    if (device) {
      this.change(device, false);
    } else {
      // Deleted: an empty retained payload removes the retained status [MQTT-3.3.1-10].
      this.deps.publish(statusTopic(deviceId), '');
    }
  }

  private change(device: Device, online: boolean): void {
    const at = this.deps.now();
    this.deps.devices.setOnline(device, online, at);
    this.deps.publish(statusTopic(device.id), JSON.stringify({ online, lastSeen: new Date(at).toISOString() }));
    this.deps.events.emit({
      type: online ? 'DeviceConnect' : 'DeviceDisconnect',
      device: deviceRef(device),
      online,
      ts: at,
    });
  }
}
