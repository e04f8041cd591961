import assert from 'node:assert/strict';
import { exportPack, type ExportContext } from '../../../runtime/packs/export';
import { derivePackFlows } from '../../../runtime/packs/ids';
import { checkPack } from '../../../runtime/packs/model';
import type { ResourcePort, ResourcePorts } from '../../../runtime/packs/resource-ports';
import { samplePack, sampleContext } from './fixtures';

/** No platform resources: these tests are about which nodes an export takes. */
const none: ResourcePort = { check: () => undefined, exists: () => false, idOfName: () => null, create: async () => undefined, update: async () => undefined, remove: async () => undefined, snapshot: () => null };
const ports: ResourcePorts = { models: none, endpoints: none, subscriptions: none, schedules: none };
const ctx = (installed: ExportContext['installed'] = []): ExportContext => ({ ports, installed, fieldflowVersion: '0.1.0' });
const manifest = { id: 'com.example.export', name: 'Export', version: '1.0.0' };

describe('pack export', () => {
  const pack = samplePack();
  const { models: _m, schedules: _s, ...flowsOnly } = pack;
  const deployed = derivePackFlows({ ...flowsOnly, flows: pack.flows } as typeof pack, pack.manifest.id, { THRESHOLD: 70, EMAIL: 'ops@example.com' });
  const source = { id: pack.manifest.id, pack: { ...flowsOnly } as typeof pack, params: { THRESHOLD: 70, EMAIL: 'ops@example.com' }, resources: [] };

  it("gives an installed pack's nodes their ids in the pack file back, with its parameters and without the marker", () => {
    const tabA = deployed.find((n) => n.type === 'tab' && n.label === pack.flows.find((f) => f.id === 'orig-tab-a')!.label)!;
    const out = exportPack(deployed, { tabs: [tabA.id], manifest }, ctx([source]));
    const ids = out.flows.map((n) => n.id).sort();
    assert.ok(ids.includes('orig-tab-a') && ids.includes('orig-mqtt') && ids.includes('orig-sf'), ids.join(','));
    assert.ok(ids.includes('orig-broker'), 'the config node a node uses comes along');
    assert.ok(!ids.includes('orig-tab-b') && !ids.includes('orig-in'), 'the other tab stays behind');
    const tab = out.flows.find((n) => n.id === 'orig-tab-a')!;
    assert.equal(tab.fieldflowPack, undefined);
    assert.doesNotMatch(String(tab.info ?? ''), /Fieldflow pack/);
    assert.equal((tab.env as Array<{ name: string }> | undefined)?.some((e) => e.name === 'THRESHOLD') ?? false, false, 'parameters are parameters again, not tab env');
    assert.equal(out.parameters?.properties.THRESHOLD.default, 70, 'with the current value as the default');
    const linkOut = out.flows.find((n) => n.id === 'orig-out')!;
    assert.deepEqual(linkOut.links, [], 'a link to a tab not exported is dropped');
    assert.doesNotThrow(() => checkPack(out, sampleContext()), 'the export is a valid pack');
  });

  it('exports a whole installed pack as the same flows it was imported from', () => {
    const tabs = deployed.filter((n) => n.type === 'tab').map((n) => n.id);
    const out = exportPack(deployed, { tabs, manifest: { ...manifest, id: pack.manifest.id } }, ctx([source]));
    assert.deepEqual(derivePackFlows(out, pack.manifest.id, source.params).map((n) => n.id).sort(), deployed.map((n) => n.id).sort());
  });

  it('refuses a tab that is not deployed, and a label that several tabs share', () => {
    const twice = [...deployed, { id: 'x1', type: 'tab', label: 'Same' }, { id: 'x2', type: 'tab', label: 'Same' }];
    assert.throws(
      () => exportPack(twice, { tabs: ['nope', 'Same'], manifest }, ctx()),
      (err: any) => err.code === 'FF_VALIDATION' && err.errors.map((e: any) => e.path).join() === '/tabs/0,/tabs/1',
    );
  });
});
