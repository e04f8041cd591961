import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { checkPack, checkParameters, type Pack, type PackNode } from '../../../runtime/packs/model';
import { derivePackFlows, packFingerprint, packMarker, packNodeId, parameterEnv, stripPackMarker, MARKER_PROPERTY } from '../../../runtime/packs/ids';
import { originalIds, sampleContext, samplePack } from './fixtures';

const PACK_ID = 'com.fieldflow.sample';
const params = { THRESHOLD: 92.5, EMAIL: 'ops@example.com', ENABLED: false, SITES: ['north', 'south'] };

function derive(pack: Pack = samplePack(), packId = PACK_ID, values: Record<string, unknown> = params): PackNode[] {
  return derivePackFlows(pack, packId, values);
}

/** Every string anywhere in a value, with its path. */
function strings(value: unknown, at = ''): Array<[string, string]> {
  if (typeof value === 'string') return [[at, value]];
  if (Array.isArray(value)) return value.flatMap((v, i) => strings(v, `${at}/${i}`));
  if (value && typeof value === 'object') return Object.entries(value).flatMap(([k, v]) => strings(v, `${at}/${k}`));
  return [];
}

describe('pack node ids', () => {
  it('are the first 16 hex characters of sha256 of the pack id and the original id', () => {
    const expected = createHash('sha256').update(`${PACK_ID}\norig-tab-a`).digest('hex').slice(0, 16);
    assert.equal(packNodeId(PACK_ID, 'orig-tab-a'), expected);
    assert.match(expected, /^[0-9a-f]{16}$/);
    assert.equal(derive()[0].id, expected);
  });

  it('are the same on every derivation, whatever the version or the parameters', () => {
    const newer = samplePack();
    newer.manifest.version = '2.0.0';
    const a = derive().map((n) => n.id);
    assert.deepEqual(derive().map((n) => n.id), a);
    assert.deepEqual(derive(newer, PACK_ID, { EMAIL: 'x@example.com' }).map((n) => n.id), a);
    assert.equal(new Set(a).size, a.length);
  });

  it('differ between pack ids', () => {
    const a = new Set(derive(samplePack(), 'com.example.one').map((n) => n.id));
    for (const n of derive(samplePack(), 'com.example.two')) assert.ok(!a.has(n.id), `${n.id} is shared`);
  });

  it('leave no original id anywhere in the deployed flows', () => {
    const originals = new Set(originalIds(samplePack()));
    for (const [at, value] of strings(derive())) {
      assert.ok(!originals.has(value), `${at} still holds ${value}`);
      assert.ok(!value.includes('orig-'), `${at} still mentions an original id: ${value}`);
    }
  });

  it('keep every reference pointing at the node it pointed at', () => {
    const pack = samplePack();
    const out = derive(pack);
    const id = (original: string) => packNodeId(PACK_ID, original);
    const node = (original: string) => out.find((n) => n.id === id(original))!;
    assert.equal(out.length, pack.flows.length);
    // z, wires, g
    assert.equal(node('orig-mqtt').z, id('orig-tab-a'));
    assert.deepEqual(node('orig-mqtt').wires, [[id('orig-scale')]]);
    assert.deepEqual(node('orig-scale').wires, [[id('orig-out'), id('orig-check')]]);
    assert.equal(node('orig-mqtt').g, id('orig-group'));
    assert.equal(node('orig-sf-fn').z, id('orig-sf'));
    // group members
    assert.deepEqual(node('orig-group').nodes, [id('orig-mqtt'), id('orig-scale')]);
    // links across tabs, link call, and a return link's empty list
    assert.deepEqual(node('orig-out').links, [id('orig-in')]);
    assert.deepEqual(node('orig-in').links, [id('orig-out')]);
    assert.deepEqual(node('orig-call').links, [id('orig-in2')]);
    assert.deepEqual(node('orig-ret').links, []);
    // catch scope
    assert.deepEqual(node('orig-catch').scope, [id('orig-call'), id('orig-debug')]);
    // subflow instance and the subflow's ports (the out port also takes the input directly)
    assert.equal(node('orig-scale').type, `subflow:${id('orig-sf')}`);
    assert.deepEqual(node('orig-sf').in, [{ x: 40, y: 40, wires: [{ id: id('orig-sf-fn') }] }]);
    assert.deepEqual(node('orig-sf').out, [{ x: 300, y: 40, wires: [{ id: id('orig-sf-fn'), port: 0 }, { id: id('orig-sf'), port: 0 }] }]);
    assert.deepEqual(node('orig-sf').status, { x: 300, y: 100, wires: [{ id: id('orig-sf-fn'), port: 0 }] });
    // config node users: a property, and conf-type env entries of a subflow and its instance
    assert.equal(node('orig-mqtt').broker, id('orig-broker'));
    assert.deepEqual(node('orig-scale').env, [{ name: 'BROKER', type: 'conf-type', value: id('orig-broker') }]);
    assert.deepEqual(node('orig-sf').env, [{ name: 'BROKER', type: 'conf-type', value: id('orig-broker') }]);
    // and nothing else changed
    assert.equal(node('orig-mqtt').topic, 'devices/+/channels/level');
    assert.equal(node('orig-check').func, pack.flows.find((n) => n.id === 'orig-check')!.func);
  });

  it('produce flows that pass the pack checks themselves (every reference resolves)', () => {
    const redeployed = { ...samplePack(), flows: derive() };
    assert.ok(checkPack(redeployed, sampleContext()));
  });

  it('leave text alone even when it equals a config node\'s id', () => {
    const pack = samplePack();
    const debug = pack.flows.find((n) => n.id === 'orig-debug')!;
    debug.name = 'orig-broker';
    debug.info = 'orig-broker';
    const out = derive(pack).find((n) => n.id === packNodeId(PACK_ID, 'orig-debug'))!;
    assert.equal(out.name, 'orig-broker');
    assert.equal(out.info, 'orig-broker');
  });

  it('do not change the pack they are derived from', () => {
    const pack = samplePack();
    const before = JSON.stringify(pack);
    derive(pack);
    assert.equal(JSON.stringify(pack), before);
  });
});

describe('pack tabs', () => {
  it('hold the parameters as typed env variables, before the tab\'s own entries, which a parameter replaces', () => {
    const out = derive();
    const tabA = out.find((n) => n.id === packNodeId(PACK_ID, 'orig-tab-a'))!;
    const tabB = out.find((n) => n.id === packNodeId(PACK_ID, 'orig-tab-b'))!;
    const expected = [
      { name: 'THRESHOLD', value: '92.5', type: 'num' },
      { name: 'EMAIL', value: 'ops@example.com', type: 'str' },
      { name: 'ENABLED', value: 'false', type: 'bool' },
      { name: 'SITES', value: '["north","south"]', type: 'json' },
    ];
    assert.deepEqual(tabA.env, [...expected, { name: 'OWN', value: 'x', type: 'str' }]);
    assert.deepEqual(tabB.env, expected);
  });

  it('get the parameters with their defaults applied when they come from checkParameters', () => {
    const pack = samplePack();
    const values = checkParameters(pack, { EMAIL: 'ops@example.com', THRESHOLD: '70' });
    assert.deepEqual(parameterEnv(pack, values), [
      { name: 'THRESHOLD', value: '70', type: 'num' },
      { name: 'EMAIL', value: 'ops@example.com', type: 'str' },
      { name: 'ENABLED', value: 'true', type: 'bool' },
      { name: 'SITES', value: '["north"]', type: 'json' },
    ]);
  });

  it('are marked with the pack id and version, in a property and in a line of info the editor keeps', () => {
    const tab = derive()[0];
    assert.deepEqual(tab[MARKER_PROPERTY], { id: PACK_ID, version: '1.2.0' });
    assert.equal(tab.info, 'Reads telemetry.\n\nFieldflow pack `com.fieldflow.sample` version `1.2.0`.');
    assert.deepEqual(packMarker(tab), { id: PACK_ID, version: '1.2.0' });
    const { [MARKER_PROPERTY]: _, ...afterEditorDeploy } = tab;
    assert.deepEqual(packMarker(afterEditorDeploy as PackNode), { id: PACK_ID, version: '1.2.0' });
    assert.equal(packMarker({ id: 'x', type: 'tab', info: 'Fieldflow pack is great' }), null);
    assert.equal(packMarker(derive()[2]), null, 'subflows are not marked');
  });

  it('carry one marker, of the version deployed, when the pack file already had one', () => {
    const exported = samplePack();
    exported.manifest.version = '1.3.0';
    exported.flows[0].info = derive()[0].info;
    const tab = derive(exported)[0];
    assert.equal(tab.info, 'Reads telemetry.\n\nFieldflow pack `com.fieldflow.sample` version `1.3.0`.');
    assert.equal(stripPackMarker(tab.info as string), 'Reads telemetry.');
  });
});

describe('pack fingerprints', () => {
  const deployed = () => derive();
  const edit = (fn: (nodes: PackNode[]) => void) => {
    const nodes = deployed();
    fn(nodes);
    return packFingerprint(nodes);
  };
  const byOriginal = (nodes: PackNode[], original: string) => nodes.find((n) => n.id === packNodeId(PACK_ID, original))!;

  it('are the same for the same nodes in any order, with properties and wire targets in any order', () => {
    const base = packFingerprint(deployed());
    assert.match(base, /^[0-9a-f]{64}$/);
    assert.equal(edit((nodes) => nodes.reverse()), base);
    assert.equal(
      edit((nodes) => {
        for (let i = 0; i < nodes.length; i++) nodes[i] = Object.fromEntries(Object.entries(nodes[i]).reverse()) as PackNode;
        const scale = byOriginal(nodes, 'orig-scale');
        scale.wires = [[...(scale.wires as string[][])[0]].reverse()];
        const group = byOriginal(nodes, 'orig-group');
        group.nodes = [...(group.nodes as string[])].reverse();
      }),
      base,
    );
  });

  it('ignore what Node-RED and its editor change on a deploy by themselves', () => {
    const base = packFingerprint(deployed());
    const roundTripped = edit((nodes) => {
      const tab = nodes[0];
      delete tab[MARKER_PROPERTY];
      tab.disabled = false;
      const tabB = byOriginal(nodes, 'orig-tab-b');
      tabB.locked = false;
      byOriginal(nodes, 'orig-broker').credentials = { user: 'u', password: 'p' };
      const group = byOriginal(nodes, 'orig-group');
      group.w = 412;
      group.h = 96;
      byOriginal(nodes, 'orig-debug').d = false;
      byOriginal(nodes, 'orig-check').info = '';
    });
    assert.equal(roundTripped, base);
  });

  it('change with any edit a user makes', () => {
    const base = packFingerprint(deployed());
    const edits: Array<[string, (nodes: PackNode[]) => void]> = [
      ['moved a node', (nodes) => (byOriginal(nodes, 'orig-check').x = 241)],
      ['changed a property', (nodes) => (byOriginal(nodes, 'orig-check').func = 'return msg;')],
      ['changed a parameter', (nodes) => ((nodes[0].env as Array<{ value: string }>)[0].value = '50')],
      ['removed a wire', (nodes) => (byOriginal(nodes, 'orig-scale').wires = [[packNodeId(PACK_ID, 'orig-out')]])],
      ['added a node', (nodes) => nodes.push({ id: 'aaaaaaaaaaaaaaaa', type: 'debug', z: nodes[0].id, x: 1, y: 1, wires: [] })],
      ['removed a node', (nodes) => nodes.splice(nodes.findIndex((n) => n.type === 'junction'), 1)],
      ['disabled a node', (nodes) => (byOriginal(nodes, 'orig-debug').d = true)],
      ['disabled a tab', (nodes) => (nodes[0].disabled = true)],
      ['renamed a tab', (nodes) => (nodes[0].label = 'Mine')],
    ];
    const seen = new Set([base]);
    for (const [what, fn] of edits) {
      const fp = edit(fn);
      assert.ok(!seen.has(fp), `${what} went unnoticed`);
      seen.add(fp);
    }
  });
});
