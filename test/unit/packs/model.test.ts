import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import Ajv from 'ajv';
import { checkPack, checkParameters, loadPack, packNodeTypes, parsePack, type Pack, type PackNode } from '../../../runtime/packs/model';
import { derivePackFlows } from '../../../runtime/packs/ids';
import { packSchema } from '../../../runtime/packs/schema';
import { samplePack, sampleContext } from './fixtures';

const limits = { maxBytes: 1024 * 1024 };

interface Refusal {
  code: string;
  status: number;
  errors: Array<{ path: string; message: string }>;
}

/** Run `fn`, expect a catalog error with `code`, and return it. */
function refusal(fn: () => unknown, code: string): Refusal {
  try {
    fn();
  } catch (err) {
    const e = err as Refusal;
    assert.equal(e.code, code, `expected ${code}, got ${e.code}: ${JSON.stringify(e.errors)}`);
    assert.ok(Array.isArray(e.errors) && e.errors.length > 0, 'the error lists its problems');
    return e;
  }
  assert.fail(`expected ${code}, but nothing was thrown`);
}

const paths = (e: Refusal) => e.errors.map((x) => x.path);
const check = (pack: unknown) => checkPack(pack, sampleContext());
const text = (pack: unknown) => JSON.stringify(pack);

function withFlows(edit: (flows: PackNode[]) => void): Pack {
  const pack = samplePack();
  edit(pack.flows);
  return pack;
}

const indexOf = (pack: Pack, id: string) => pack.flows.findIndex((n) => n.id === id);

describe('flow pack files', () => {
  it('accepts a complete pack and lists its node types, tabs and subflows', () => {
    const checked = checkPack(parsePack(text(samplePack()), limits), sampleContext());
    assert.deepEqual(checked.nodeTypes, ['catch', 'debug', 'function', 'link call', 'link in', 'link out', 'mqtt in', 'mqtt-broker']);
    assert.deepEqual(checked.tabs, [{ id: 'orig-tab-a', label: 'Ingest' }, { id: 'orig-tab-b', label: 'Alarm' }]);
    assert.deepEqual(checked.subflows, [{ id: 'orig-sf', name: 'scale' }]);
    assert.equal(checked.pack.manifest.id, 'com.fieldflow.sample');
  });

  it('publishes a schema that ajv compiles and that the sample pack satisfies', () => {
    const validate = new Ajv({ allErrors: true, strict: false }).compile(JSON.parse(JSON.stringify(packSchema)));
    assert.equal(validate(samplePack()), true, JSON.stringify(validate.errors));
  });

  it('reads the file as bytes or text, with or without a byte order mark', () => {
    const json = text(samplePack());
    assert.equal(parsePack(Buffer.from(json), limits).manifest.version, '1.2.0');
    assert.equal(parsePack(`\ufeff${json}`, limits).manifest.version, '1.2.0');
  });

  it('refuses a file over the size limit with FF_PACK_TOO_LARGE, counting bytes rather than characters', () => {
    const json = text(samplePack());
    const e = refusal(() => parsePack(json, { maxBytes: json.length - 1 }), 'FF_PACK_TOO_LARGE');
    assert.equal(e.status, 413);
    assert.deepEqual(paths(e), ['/']);
    const wide = text({ ...samplePack(), manifest: { ...samplePack().manifest, name: 'é'.repeat(50) } });
    refusal(() => loadPack(wide, { maxBytes: wide.length }, sampleContext()), 'FF_PACK_TOO_LARGE');
  });

  it('refuses text that is not JSON, or bytes that are not UTF-8, with FF_MALFORMED_JSON', () => {
    for (const bad of ['', '{"manifest": ', 'manifest: {}', "{'a': 1}"]) {
      const e = refusal(() => parsePack(bad, limits), 'FF_MALFORMED_JSON');
      assert.equal(e.status, 400);
      assert.deepEqual(paths(e), ['/']);
    }
    refusal(() => parsePack(Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), limits), 'FF_MALFORMED_JSON');
  });

  it('refuses a number beyond a 64-bit float with FF_NUMBER_OUT_OF_RANGE at its path', () => {
    const json = text(samplePack()).replace(/^\{/, '{"x-limit": 1e999, ');
    const e = refusal(() => parsePack(json, limits), 'FF_NUMBER_OUT_OF_RANGE');
    assert.deepEqual(paths(e), ['/x-limit']);
  });

  it('refuses a manifest that fails the schema with FF_INVALID_PACK, naming every failing path', () => {
    const pack = samplePack() as unknown as { manifest: Record<string, unknown> };
    pack.manifest.id = 'Sample Pack';
    pack.manifest.version = '1.2';
    delete pack.manifest.name;
    pack.manifest.verison = '1.2.1';
    pack.manifest.requires = { nodes: 'function' };
    const e = refusal(() => parsePack(text(pack), limits), 'FF_INVALID_PACK');
    assert.equal(e.status, 400);
    assert.deepEqual(paths(e).sort(), ['/manifest/id', '/manifest/name', '/manifest/requires/fieldflow', '/manifest/requires/nodes', '/manifest/verison', '/manifest/version']);
    assert.match(e.errors.find((x) => x.path === '/manifest/version')!.message, /semantic version/);
    assert.match(e.errors.find((x) => x.path === '/manifest/id')!.message, /reverse-DNS/);
  });

  it('refuses a pack without flows or with flows that hold no tab or subflow', () => {
    const { flows: _, ...noFlows } = samplePack();
    assert.deepEqual(paths(refusal(() => check(noFlows), 'FF_INVALID_PACK')), ['/flows']);
    const onlyConfig = { ...samplePack(), flows: [{ id: 'orig-broker', type: 'mqtt-broker' }] };
    assert.deepEqual(paths(refusal(() => check(onlyConfig), 'FF_INVALID_PACK')), ['/flows']);
  });

  it('refuses a tab or node without an id or type at its own path', () => {
    const pack = withFlows((flows) => {
      flows.push({ type: 'tab', label: 'No id' } as unknown as PackNode);
      (flows[3] as Record<string, unknown>).type = '';
      flows.push({ id: 'orig-untyped', z: 'orig-tab-b', x: 1, y: 1, wires: [] } as unknown as PackNode);
    });
    const n = pack.flows.length;
    assert.deepEqual(paths(refusal(() => check(pack), 'FF_INVALID_PACK')), [`/flows/3/type`, `/flows/${n - 2}/id`, `/flows/${n - 1}/type`]);
  });

  it('refuses a requires.fieldflow that is not a semver range', () => {
    const pack = samplePack();
    pack.manifest.requires.fieldflow = 'the latest one';
    assert.deepEqual(paths(refusal(() => check(pack), 'FF_INVALID_PACK')), ['/manifest/requires/fieldflow']);
  });

  it('refuses with FF_PACK_INCOMPATIBLE a pack whose Fieldflow range excludes the running version', () => {
    const pack = samplePack();
    pack.manifest.requires.fieldflow = '^2.0.0';
    const e = refusal(() => check(pack), 'FF_PACK_INCOMPATIBLE');
    assert.equal(e.status, 422);
    assert.deepEqual(paths(e), ['/manifest/requires/fieldflow']);
    assert.match(e.errors[0].message, /\^2\.0\.0.*0\.1\.0/);
    // parsing alone knows nothing of the install
    assert.equal(parsePack(text(pack), limits).manifest.requires.fieldflow, '^2.0.0');
  });

  it('counts a pre-release of the running version as inside a range', () => {
    assert.ok(checkPack(samplePack(), sampleContext({ fieldflowVersion: '0.2.0-rc.1' })));
  });

  it('refuses duplicate node ids with FF_DUPLICATE_NODE_ID at each repeat', () => {
    const pack = withFlows((flows) => {
      flows.push({ ...flows[flows.length - 1] });
      flows.push({ ...flows[0] });
    });
    const n = pack.flows.length;
    const e = refusal(() => parsePack(text(pack), limits), 'FF_DUPLICATE_NODE_ID');
    assert.equal(e.status, 400);
    assert.deepEqual(paths(e), [`/flows/${n - 2}/id`, `/flows/${n - 1}/id`]);
    assert.match(e.errors[1].message, /"orig-tab-a" is also the id of \/flows\/0/);
  });

  it('refuses missing node types with FF_MISSING_NODE_TYPES, each once, at the first node that uses it', () => {
    const pack = withFlows((flows) => {
      flows.push({ id: 'orig-gauge-1', type: 'ui-gauge', z: 'orig-tab-b', x: 1, y: 1, wires: [] });
      flows.push({ id: 'orig-gauge-2', type: 'ui-gauge', z: 'orig-tab-b', x: 1, y: 1, wires: [] });
    });
    pack.manifest.requires.nodes = ['function', 'ui-chart'];
    const ctx = sampleContext();
    ctx.installedNodeTypes.delete('mqtt in');
    const e = refusal(() => checkPack(pack, ctx), 'FF_MISSING_NODE_TYPES');
    assert.equal(e.status, 422);
    assert.deepEqual(e.errors, [
      { path: `/flows/${indexOf(pack, 'orig-mqtt')}/type`, message: 'node type "mqtt in" is not installed (used by 1 node)' },
      { path: `/flows/${indexOf(pack, 'orig-gauge-1')}/type`, message: 'node type "ui-gauge" is not installed (used by 2 nodes)' },
      { path: '/manifest/requires/nodes/1', message: 'node type "ui-chart" is not installed' },
    ]);
  });

  it('does not ask for the pack\'s own subflows, the structural types or junctions to be installed', () => {
    assert.ok(!packNodeTypes(samplePack().flows).some((t) => t.startsWith('subflow') || ['tab', 'group', 'junction'].includes(t)));
    assert.ok(checkPack(samplePack(), { installedNodeTypes: new Set(packNodeTypes(samplePack().flows)), fieldflowVersion: '0.1.0' }));
  });

  it('reports every problem at once, under the code of the most basic kind', () => {
    const pack = withFlows((flows) => {
      flows.push({ ...flows[0] });
      flows.push({ id: 'orig-gauge', type: 'ui-gauge', z: 'orig-tab-b', x: 1, y: 1, wires: [] });
    });
    pack.manifest.requires.fieldflow = '>=9';
    const e = refusal(() => loadPack(text(pack), limits, sampleContext()), 'FF_DUPLICATE_NODE_ID');
    assert.deepEqual(paths(e), [`/manifest/requires/fieldflow`, `/flows/${pack.flows.length - 2}/id`, `/flows/${pack.flows.length - 1}/type`]);
    (pack.manifest as unknown as Record<string, unknown>).version = 'one';
    const all = refusal(() => loadPack(text(pack), limits, sampleContext()), 'FF_INVALID_PACK');
    assert.equal(all.errors.length, 4);
    refusal(() => loadPack(text({ ...pack, manifest: { ...pack.manifest, version: '1.0.0' }, flows: pack.flows.slice(0, -2) }), limits, sampleContext()), 'FF_PACK_INCOMPATIBLE');
  });

  it('refuses flow references that point at no suitable node of the pack, at the exact path', () => {
    const pack = withFlows((flows) => {
      const byId = (id: string) => flows.find((n) => n.id === id)!;
      byId('orig-check').z = 'orig-nowhere';
      byId('orig-mqtt').wires = [['orig-scale', 'orig-ghost']];
      byId('orig-scale').wires = [['orig-out', 'orig-debug']]; // orig-debug is on the other tab
      byId('orig-out').links = ['orig-in', 'orig-call'];
      byId('orig-in').wires = [['orig-broker']];
      byId('orig-debug').g = 'orig-check';
      byId('orig-group').nodes = ['orig-mqtt', 'orig-debug', 'orig-ghost'];
      byId('orig-catch').scope = ['orig-ghost'];
      byId('orig-sf').in = [{ x: 1, y: 1, wires: [{ id: 'orig-check' }] }];
      flows.push({ id: 'orig-stray', type: 'debug', x: 1, y: 1, wires: [] });
      flows.push({ id: 'orig-sf-missing', type: 'subflow:orig-nope', z: 'orig-tab-a', x: 1, y: 1, wires: [] });
      flows.push({ id: 'orig-nested-tab', type: 'tab', z: 'orig-tab-a' });
    });
    const at = (id: string, rest: string) => `/flows/${indexOf(pack, id)}${rest}`;
    const e = refusal(() => check(pack), 'FF_INVALID_PACK');
    assert.deepEqual(paths(e).sort(), [
      at('orig-sf', '/in/0/wires/0/id'),
      at('orig-group', '/nodes/1'),
      at('orig-group', '/nodes/2'),
      at('orig-mqtt', '/wires/0/1'),
      at('orig-scale', '/wires/0/1'),
      at('orig-check', '/z'),
      at('orig-out', '/links/1'),
      at('orig-in', '/wires/0/0'),
      at('orig-debug', '/g'),
      at('orig-catch', '/scope/0'),
      at('orig-stray', '/z'),
      at('orig-sf-missing', '/type'),
      at('orig-nested-tab', '/z'),
    ].sort());
    const message = (p: string) => e.errors.find((x) => x.path === p)!.message;
    assert.match(message(at('orig-scale', '/wires/0/1')), /another tab or subflow/);
    assert.match(message(at('orig-out', '/links/1')), /link call node; a link out node links to link in nodes/);
    assert.match(message(at('orig-in', '/wires/0/0')), /config node/);
  });

  it('refuses a subflow that contains an instance of itself, directly or through another subflow', () => {
    const pack = withFlows((flows) => {
      flows.push({ id: 'orig-sf2', type: 'subflow', name: 'inner', in: [], out: [] });
      flows.push({ id: 'orig-use-2', type: 'subflow:orig-sf2', z: 'orig-sf', x: 1, y: 1, wires: [] });
      flows.push({ id: 'orig-use-1', type: 'subflow:orig-sf', z: 'orig-sf2', x: 1, y: 1, wires: [] });
    });
    assert.deepEqual(paths(refusal(() => check(pack), 'FF_INVALID_PACK')), [`/flows/${indexOf(pack, 'orig-use-2')}/type`, `/flows/${indexOf(pack, 'orig-use-1')}/type`]);
  });

  it('refuses a parameters schema that is not an object schema of supported keywords, or whose defaults do not fit', () => {
    const pack = samplePack() as unknown as { parameters: { properties: Record<string, Record<string, unknown>>; required: string[] } };
    const props = pack.parameters.properties;
    props.THRESHOLD.default = 'eighty';
    props.EMAIL.minimun = 3;
    props.LIMIT.type = 'float';
    props['alarm-email'] = { type: 'string' };
    props.NR_FLOW_NAME = { type: 'string' };
    props.CODE = { type: 'string', pattern: '([a-z' };
    props.MODE = { type: 'string', enum: ['a', 'b'], default: 'c' };
    pack.parameters.required = ['EMAIL', 'EMAILS'];
    const e = refusal(() => check(pack), 'FF_INVALID_PACK');
    assert.deepEqual(paths(e).sort(), [
      '/parameters/properties/CODE',
      '/parameters/properties/EMAIL/minimun',
      '/parameters/properties/LIMIT/type',
      '/parameters/properties/MODE/default',
      '/parameters/properties/NR_FLOW_NAME',
      '/parameters/properties/THRESHOLD/default',
      '/parameters/properties/alarm-email',
      '/parameters/required/1',
    ]);
    const noProperties = { ...samplePack(), parameters: { type: 'object', title: 'x' } };
    assert.deepEqual(paths(refusal(() => check(noProperties), 'FF_INVALID_PACK')), ['/parameters/properties']);
  });

  it('refuses optional parts whose objects have no name, or share one', () => {
    const pack = { ...samplePack(), models: [{ id: 'm', configSchema: {} }], schedules: [{ id: 's1', name: 'hourly' }, { id: 's2', name: 'hourly' }], endpoints: ['email'] };
    assert.deepEqual(paths(refusal(() => check(pack), 'FF_INVALID_PACK')).sort(), ['/endpoints/0', '/models/0/name', '/schedules/1/name']);
  });

  it('refuses values nested too deeply before walking them', () => {
    // Built as text: JSON.stringify itself would run out of stack on a value this deep.
    const pack = text(withFlows((flows) => (flows[3].rules = 'DEEP'))).replace('"DEEP"', `${'['.repeat(100000)}1${']'.repeat(100000)}`);
    const e = refusal(() => parsePack(pack, limits), 'FF_INVALID_PACK');
    assert.match(e.errors[0].path, /^\/flows\/3\/rules\/0\/0/);
    assert.match(e.errors[0].message, /deeper than 64 levels/);
  });

  it('lists the first 200 problems of a pack with thousands, and says how many more there are', () => {
    const pack = withFlows((flows) => {
      for (let i = 0; i < 500; i++) flows.push({ id: `orig-bad-${i}`, type: 'debug', z: 'orig-none', x: 1, y: 1, wires: [] });
    });
    const e = refusal(() => check(pack), 'FF_INVALID_PACK');
    assert.equal(e.errors.length, 201);
    assert.deepEqual(e.errors[200], { path: '/', message: 'and 300 more problems' });
  });

  it('accepts the example pack in docs/packs.md', () => {
    const doc = fs.readFileSync(path.resolve(__dirname, '../../../../docs/packs.md'), 'utf8');
    const example = /<!-- example-pack -->\s*```json\n([\s\S]*?)\n```/.exec(doc);
    assert.ok(example, 'docs/packs.md marks its example pack');
    const checked = loadPack(example[1], limits, { installedNodeTypes: new Set(['channel in', 'switch', 'function', 'alarm', 'debug']), fieldflowVersion: '0.1.0' });
    const params = checkParameters(checked.pack, { threshold: '90', email: 'ops@example.com' });
    assert.deepEqual(params, { threshold: 90, email: 'ops@example.com', selector: 'site=north' });
    assert.equal(derivePackFlows(checked.pack, checked.pack.manifest.id, params).length, checked.pack.flows.length);
  });
});

describe('pack parameters', () => {
  const pack = samplePack();

  it('coerces text from the command line to each parameter\'s type', () => {
    const values = checkParameters(pack, { THRESHOLD: '92.5', EMAIL: 'ops@example.com', ENABLED: 'false', SITES: 'north, south', LIMIT: '7' });
    assert.deepEqual(values, { THRESHOLD: 92.5, EMAIL: 'ops@example.com', ENABLED: false, SITES: ['north', 'south'], LIMIT: 7 });
    assert.deepEqual(checkParameters(pack, { EMAIL: 'a@example.com', SITES: '["a,b", "c"]' }).SITES, ['a,b', 'c']);
    assert.deepEqual(checkParameters(pack, { EMAIL: 'a@example.com', SITES: '' }).SITES, []);
  });

  it('takes typed values as they are (REST bodies)', () => {
    const values = checkParameters(pack, { THRESHOLD: 3, EMAIL: 'ops@example.com', ENABLED: true, SITES: ['x'] });
    assert.deepEqual(values, { THRESHOLD: 3, EMAIL: 'ops@example.com', ENABLED: true, SITES: ['x'] });
  });

  it('applies defaults to parameters not given, and treats null as not given', () => {
    assert.deepEqual(checkParameters(pack, { EMAIL: 'ops@example.com', THRESHOLD: null }), { EMAIL: 'ops@example.com', THRESHOLD: 80, ENABLED: true, SITES: ['north'] });
  });

  it('does not share a default list between imports', () => {
    const first = checkParameters(pack, { EMAIL: 'ops@example.com' });
    (first.SITES as string[]).push('changed');
    assert.deepEqual(checkParameters(pack, { EMAIL: 'ops@example.com' }).SITES, ['north']);
  });

  it('refuses parameters of the wrong type, missing or unknown, with FF_INVALID_PACK_PARAMETERS at /parameters/<name>', () => {
    const e = refusal(() => checkParameters(pack, { THRESHOLD: 'high', ENABLED: 'maybe', LIMIT: '7.5', TRESHOLD: '80' }), 'FF_INVALID_PACK_PARAMETERS');
    assert.equal(e.status, 400);
    assert.deepEqual(e.errors.sort((a, b) => a.path.localeCompare(b.path)), [
      { path: '/parameters/EMAIL', message: 'is required' },
      { path: '/parameters/ENABLED', message: 'must be boolean' },
      { path: '/parameters/LIMIT', message: 'must be integer' },
      { path: '/parameters/THRESHOLD', message: 'must be number' },
      { path: '/parameters/TRESHOLD', message: 'is not a parameter of this pack' },
    ]);
  });

  it('refuses an empty value for a number rather than reading it as zero', () => {
    assert.deepEqual(paths(refusal(() => checkParameters(pack, { EMAIL: 'a@example.com', THRESHOLD: '' }), 'FF_INVALID_PACK_PARAMETERS')), ['/parameters/THRESHOLD']);
  });

  it('checks constraints and formats: email, uri, label-selector', () => {
    const formats: Pack = {
      ...samplePack(),
      parameters: {
        type: 'object',
        properties: {
          to: { type: 'array', items: { type: 'string', format: 'email' } },
          hook: { type: 'string', format: 'uri' },
          selector: { type: 'string', format: 'label-selector' },
          level: { type: 'number', maximum: 100 },
        },
      },
    };
    const ok = { to: 'a@example.com,b@example.com', hook: 'https://example.com/x', selector: 'site=north,!retired', level: '100' };
    assert.deepEqual(checkParameters(formats, ok), { to: ['a@example.com', 'b@example.com'], hook: 'https://example.com/x', selector: 'site=north,!retired', level: 100 });
    const e = refusal(() => checkParameters(formats, { to: 'a@example.com,nobody', hook: 'ftp://x', selector: '=north', level: '101' }), 'FF_INVALID_PACK_PARAMETERS');
    assert.deepEqual(paths(e).sort(), ['/parameters/hook', '/parameters/level', '/parameters/selector', '/parameters/to/1']);
  });

  it('accepts no parameters for a pack that declares none, and refuses any given', () => {
    const bare: Pack = { ...samplePack(), parameters: undefined };
    assert.deepEqual(checkParameters(bare, {}), {});
    assert.deepEqual(checkParameters(bare, undefined), {});
    assert.deepEqual(paths(refusal(() => checkParameters(bare, { X: '1' }), 'FF_INVALID_PACK_PARAMETERS')), ['/parameters/X']);
  });
});

describe('pack resource ids', () => {
  it('refuses a resource whose id is also a node id or another resource id', () => {
    const pack = { ...samplePack(), endpoints: [{ id: 'orig-debug', name: 'mail', type: 'email' }, { id: 'orig-hourly', name: 'sms', type: 'sms' }] };
    const err = refusal(() => check(pack), 'FF_DUPLICATE_NODE_ID');
    assert.deepEqual(paths(err).sort(), ['/endpoints/0/id', '/schedules/0/id']);
  });

  it('refuses a resource with no pack-local id', () => {
    const pack = { ...samplePack(), endpoints: [{ name: 'mail', type: 'email' }] };
    assert.deepEqual(paths(refusal(() => check(pack), 'FF_INVALID_PACK')), ['/endpoints/0/id']);
  });
});
