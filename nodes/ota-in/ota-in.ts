import type { Node, NodeAPI, NodeDef } from 'node-red';
import { copy, CountStatus, deviceCopy, deviceFilter, platformOf, showError, type DeviceMode } from '../lib/common';

/** rollout: OtaRollout; update: OtaUpdate (every step and progress report); failed: OtaFailed. */
type Kind = 'rollout' | 'update' | 'failed';
const KINDS: readonly Kind[] = ['rollout', 'update', 'failed'];

interface OtaInDef extends NodeDef {
  /** What to emit; default rollout and failed. */
  events: Kind[];
  /** A rollout id; empty: every rollout. */
  rollout: string;
  /** Devices whose update and failure events are emitted (rollout events have no device). */
  deviceMode: DeviceMode;
  device: string;
  selector: string;
}

/** Emits OTA rollout changes, per-device update steps and failures, filtered by rollout and device. */
export = function register(RED: NodeAPI) {
  function OtaInNode(this: Node, config: OtaInDef) {
    RED.nodes.createNode(this, config);
    const node = this;
    const platform = platformOf(RED);
    const unsubscribe: Array<() => void> = [];
    let status: CountStatus | null = null;

    try {
      const kinds = new Set(checkKinds(config.events));
      const deviceOk = deviceFilter(config.deviceMode || 'all', config.device, config.selector);
      const rolloutOk = (id: string) => !config.rollout || id === config.rollout;
      status = new CountStatus(node, 'ota events');
      const emit = (msg: Record<string, unknown>) => {
        status!.add();
        node.send(msg as never);
      };
      if (kinds.has('rollout')) {
        unsubscribe.push(
          platform.events.on('OtaRollout', (e) => {
            if (!rolloutOk(e.rollout.id)) return;
            emit({ topic: `ota/rollout/${e.action}`, payload: copy(e.rollout), rollout: { id: e.rollout.id, name: e.rollout.name }, action: e.action, ts: e.ts, event: 'OtaRollout' });
          }),
        );
      }
      if (kinds.has('update')) {
        unsubscribe.push(
          platform.events.on('OtaUpdate', (e) => {
            // With failures chosen too, a failure comes once: as the OtaFailed message, which says more.
            if ((kinds.has('failed') && e.update.state === 'failed') || !rolloutOk(e.rollout.id) || !deviceOk(e.device)) return;
            emit({ topic: `ota/update/${e.update.state}`, payload: copy(e.update), device: deviceCopy(e.device), rollout: { ...e.rollout }, ts: e.ts, event: 'OtaUpdate' });
          }),
        );
      }
      if (kinds.has('failed')) {
        unsubscribe.push(
          platform.events.on('OtaFailed', (e) => {
            if (!rolloutOk(e.rollout.id) || !deviceOk(e.device)) return;
            emit({ topic: 'ota/update/failed', payload: copy(e.update), device: deviceCopy(e.device), rollout: { ...e.rollout }, reason: e.reason, ts: e.ts, event: 'OtaFailed' });
          }),
        );
      }
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

  function checkKinds(value: unknown): Kind[] {
    if (value === undefined || value === null) return ['rollout', 'failed'];
    const list = Array.isArray(value) ? value : [value];
    const bad = list.filter((v) => !(KINDS as readonly unknown[]).includes(v));
    if (bad.length || !list.length) throw new Error(`Events must be among ${KINDS.join(', ')}; got ${JSON.stringify(list).slice(0, 60)}`);
    return list as Kind[];
  }

  RED.nodes.registerType('ota in', OtaInNode);
};
