import type { Node, NodeAPI, NodeDef } from 'node-red';
import type { AlarmEvent } from '../../runtime/events';
import { isSeverity, severityRank, type Severity } from '../../runtime/alarms/severity';
import { copy, CountStatus, deviceCopy, deviceFilter, platformOf, showError, type DeviceMode } from '../lib/common';

interface AlarmInDef extends NodeDef {
  deviceMode: DeviceMode;
  device: string;
  selector: string;
  onRaised: boolean;
  onUpdated: boolean;
  onAcked: boolean;
  onCleared: boolean;
  /** Empty: every type. */
  alarmType: string;
  /** Empty: every severity. */
  minSeverity: Severity | '';
}

/** Emits the chosen alarm events of matching devices, types and severities. */
export = function register(RED: NodeAPI) {
  function AlarmInNode(this: Node, config: AlarmInDef) {
    RED.nodes.createNode(this, config);
    const node = this;
    const platform = platformOf(RED);
    const unsubscribe: Array<() => void> = [];
    let status: CountStatus | null = null;

    try {
      const deviceOk = deviceFilter(config.deviceMode, config.device, config.selector);
      const min = config.minSeverity ? severityRank(checkSeverity(config.minSeverity)) : 0;
      status = new CountStatus(node, 'alarms');
      const emit = (event: AlarmEvent) => {
        const { alarm } = event;
        if ((config.alarmType && alarm.type !== config.alarmType) || severityRank(alarm.severity) < min || !deviceOk(event.device)) return;
        status!.add();
        node.send({ topic: `alarms/${alarm.type}`, payload: copy(alarm), device: deviceCopy(event.device), event: event.type } as never);
      };
      // Subscribe only to the chosen events: the alarm service skips building events nobody reads.
      if (config.onRaised !== false) unsubscribe.push(platform.events.on('AlarmRaised', emit));
      if (config.onUpdated !== false) unsubscribe.push(platform.events.on('AlarmUpdated', emit));
      if (config.onAcked) unsubscribe.push(platform.events.on('AlarmAcked', emit));
      if (config.onCleared !== false) unsubscribe.push(platform.events.on('AlarmCleared', emit));
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

  function checkSeverity(value: string): Severity {
    if (!isSeverity(value)) throw new Error(`Minimum severity must be critical, major, minor, warning or info; got ${JSON.stringify(value.slice(0, 40))}`);
    return value;
  }

  RED.nodes.registerType('alarm in', AlarmInNode);
};
