import type { Pack, PackContext } from '../../../runtime/packs/model';

/**
 * A pack that uses every kind of reference flow JSON has: a subflow with its ports and an
 * instance, a link out/in pair and a link call, a group, a catch with a scope, a config node used
 * by a node and by a subflow instance's env. Original ids all start with `orig-`, and no other
 * text in the pack does, so a test can see whether any of them survives.
 */
export function samplePack(): Pack {
  return {
    manifest: {
      id: 'com.fieldflow.sample',
      name: 'Sample',
      version: '1.2.0',
      description: 'Every kind of reference',
      author: 'Fieldflow',
      requires: { fieldflow: '>=0.1.0', nodes: ['mqtt in', 'function'] },
    },
    parameters: {
      type: 'object',
      properties: {
        THRESHOLD: { type: 'number', title: 'Alarm threshold', default: 80, minimum: 0 },
        EMAIL: { type: 'string', title: 'Notify', format: 'email' },
        ENABLED: { type: 'boolean', default: true },
        SITES: { type: 'array', items: { type: 'string' }, default: ['north'] },
        LIMIT: { type: 'integer', maximum: 10 },
      },
      required: ['EMAIL'],
    },
    flows: [
      { id: 'orig-tab-a', type: 'tab', label: 'Ingest', info: 'Reads telemetry.', env: [{ name: 'OWN', value: 'x', type: 'str' }, { name: 'THRESHOLD', value: '1', type: 'num' }] },
      { id: 'orig-tab-b', type: 'tab', label: 'Alarm' },
      {
        id: 'orig-sf',
        type: 'subflow',
        name: 'scale',
        in: [{ x: 40, y: 40, wires: [{ id: 'orig-sf-fn' }] }],
        out: [{ x: 300, y: 40, wires: [{ id: 'orig-sf-fn', port: 0 }, { id: 'orig-sf', port: 0 }] }],
        status: { x: 300, y: 100, wires: [{ id: 'orig-sf-fn', port: 0 }] },
        env: [{ name: 'BROKER', type: 'conf-type', value: 'orig-broker' }],
      },
      { id: 'orig-sf-fn', type: 'function', z: 'orig-sf', name: 'x10', func: 'msg.payload *= 10;\nreturn msg;', outputs: 1, x: 160, y: 40, wires: [[]] },
      { id: 'orig-broker', type: 'mqtt-broker', name: 'local', broker: 'localhost', port: '1883' },
      { id: 'orig-group', type: 'group', z: 'orig-tab-a', name: 'in', nodes: ['orig-mqtt', 'orig-scale'], x: 14, y: 19, w: 300, h: 82 },
      { id: 'orig-mqtt', type: 'mqtt in', z: 'orig-tab-a', g: 'orig-group', name: 'telemetry', topic: 'devices/+/channels/level', broker: 'orig-broker', x: 100, y: 60, wires: [['orig-scale']] },
      { id: 'orig-scale', type: 'subflow:orig-sf', z: 'orig-tab-a', g: 'orig-group', env: [{ name: 'BROKER', type: 'conf-type', value: 'orig-broker' }], x: 240, y: 60, wires: [['orig-out', 'orig-check']] },
      { id: 'orig-check', type: 'function', z: 'orig-tab-a', name: 'over threshold', func: "return msg.payload > env.get('THRESHOLD') ? msg : null;", outputs: 1, x: 240, y: 140, wires: [[]] },
      { id: 'orig-out', type: 'link out', z: 'orig-tab-a', name: 'to alarm', mode: 'link', links: ['orig-in'], x: 380, y: 60, wires: [] },
      { id: 'orig-in', type: 'link in', z: 'orig-tab-b', name: 'from ingest', links: ['orig-out'], x: 80, y: 60, wires: [['orig-call']] },
      { id: 'orig-call', type: 'link call', z: 'orig-tab-b', name: '', links: ['orig-in2'], linkType: 'static', timeout: '30', x: 220, y: 60, wires: [['orig-debug']] },
      { id: 'orig-in2', type: 'link in', z: 'orig-tab-b', name: 'callee', links: [], x: 80, y: 140, wires: [['orig-ret']] },
      { id: 'orig-ret', type: 'link out', z: 'orig-tab-b', name: 'return', mode: 'return', links: [], x: 220, y: 140, wires: [] },
      { id: 'orig-debug', type: 'debug', z: 'orig-tab-b', name: 'alarm', active: true, complete: 'payload', x: 360, y: 60, wires: [] },
      { id: 'orig-catch', type: 'catch', z: 'orig-tab-b', name: '', scope: ['orig-call', 'orig-debug'], uncaught: false, x: 80, y: 220, wires: [['orig-debug']] },
      { id: 'orig-junction', type: 'junction', z: 'orig-tab-b', x: 300, y: 220, wires: [['orig-debug']] },
    ],
    models: [{ id: 'orig-model', name: 'tank-sensor', description: 'A tank level sensor', configSchema: { type: 'object' } }],
    schedules: [{ id: 'orig-hourly', name: 'hourly', cron: '0 * * * *', timezone: 'UTC' }],
  };
}

/** An install with every type the sample pack uses. */
export function sampleContext(extra: Partial<PackContext> = {}): PackContext {
  return {
    installedNodeTypes: new Set(['tab', 'subflow', 'group', 'junction', 'function', 'mqtt-broker', 'mqtt in', 'link out', 'link in', 'link call', 'debug', 'catch']),
    fieldflowVersion: '0.1.0',
    ...extra,
  };
}

/** The original ids of a pack's nodes. */
export function originalIds(pack: Pack): string[] {
  return pack.flows.map((n) => n.id);
}
