import type { Node, NodeAPI, NodeDef } from 'node-red';
import { Errors } from '../../runtime/errors';
import { alarmView } from '../../runtime/alarms/views';
import type { Severity } from '../../runtime/alarms/severity';
import { choice, deviceOf, onInput, platformOf } from '../lib/common';

type Action = 'raise' | 'clear' | 'ack';
const ACTIONS: readonly Action[] = ['raise', 'clear', 'ack'];

interface AlarmDef extends NodeDef {
  /** An action, or `msg` for msg.action. */
  action: Action | 'msg';
  device: string;
  alarmType: string;
  /** Empty: msg.severity, or the platform's default (major). */
  severity: Severity | '';
  /** Empty: msg.payload when it is a string. */
  message: string;
}

/**
 * Raises an alarm on a device (or updates its open alarm of the same type), or clears or
 * acknowledges one: by msg.alarmId, otherwise the open alarm of the device and type.
 */
export = function register(RED: NodeAPI) {
  function AlarmNode(this: Node, config: AlarmDef) {
    RED.nodes.createNode(this, config);
    const node = this;
    const platform = platformOf(RED);
    const by = `flow:${node.id}`;

    onInput(node, async (msg) => {
      const action = choice(config.action || 'raise', msg.action, 'action', ACTIONS);
      const type = config.alarmType || (typeof msg.alarmType === 'string' ? msg.alarmType : undefined);
      let alarm;
      if (action === 'raise') {
        const raised = await platform.alarms.raise({
          device: deviceOf(config, msg),
          type: type as string,
          severity: (config.severity || msg.severity) as Severity | undefined,
          message: config.message || (typeof msg.payload === 'string' ? msg.payload : undefined),
          details: msg.details as Record<string, unknown> | undefined,
          source: { kind: 'flow', id: node.id },
        });
        alarm = raised.alarm;
      } else {
        const id = typeof msg.alarmId === 'string' ? msg.alarmId : openAlarm(deviceOf(config, msg), type);
        const actor = { by, comment: msg.comment as string | undefined };
        alarm = action === 'clear' ? await platform.alarms.clear(id, actor) : await platform.alarms.ack(id, actor);
      }
      msg.payload = alarmView(alarm);
      node.status({ fill: alarm.status === 'active' ? 'red' : 'green', shape: alarm.acknowledged ? 'ring' : 'dot', text: `${alarm.type}: ${alarm.status}${alarm.acknowledged ? ', acked' : ''}` });
      return msg;
    });

    function openAlarm(deviceId: string, type: string | undefined): string {
      if (!type) throw new Error('No alarm: send msg.alarmId, or set an alarm type (on the node or as msg.alarmType)');
      platform.devices.require(deviceId);
      const open = platform.alarms.findOpen(deviceId, type);
      if (!open) throw Errors.ALARM_NOT_FOUND(`Device ${deviceId} has no open alarm of type ${JSON.stringify(type.slice(0, 128))}`);
      return open.id;
    }
  }
  RED.nodes.registerType('alarm', AlarmNode);
};
