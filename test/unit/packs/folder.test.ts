import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { readPackPath } from '../../../runtime/packs/folder';
import { checkPack, type Pack } from '../../../runtime/packs/model';
import { tempDir } from '../../support/platform';
import { samplePack, sampleContext } from './fixtures';

interface Refusal {
  code: string;
  errors: Array<{ path: string; message: string }>;
}

/** Await `promise`, expect a catalog error with `code`, and return it. */
async function refusal(promise: Promise<unknown>, code: string): Promise<Refusal> {
  try {
    await promise;
  } catch (err) {
    const e = err as Refusal;
    assert.equal(e.code, code, `expected ${code}, got ${e.code}: ${(err as Error).message}`);
    assert.ok(Array.isArray(e.errors) && e.errors.length > 0, 'the error lists its problems');
    return e;
  }
  assert.fail(`expected ${code}, but nothing was thrown`);
}

/** A folder holding `files` (path -> content; objects are written as JSON). */
function folder(files: Record<string, unknown>): string {
  const dir = tempDir('fieldflow-pack-folder-');
  for (const [name, content] of Object.entries(files)) {
    const file = path.join(dir, name);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, typeof content === 'string' || Buffer.isBuffer(content) ? content : JSON.stringify(content, null, 2));
  }
  return dir;
}

/** The sample pack split the way an author keeps it in a folder: parts in files, function code in .js files. */
function sampleFolder(): { dir: string; pack: Pack } {
  const pack = samplePack();
  const fnIndex = pack.flows.findIndex((n) => n.id === 'orig-check');
  const flows = pack.flows.map((n, i) => (i === fnIndex ? { ...n, func: { file: 'functions/check.js' }, initialize: { file: 'functions/setup.js' } } : n));
  const expected: Pack = { ...pack, flows: pack.flows.map((n, i) => (i === fnIndex ? { ...n, initialize: "context.set('n', 0);\n" } : n)) };
  const { parameters, schedules, ...rest } = pack;
  const dir = folder({
    'pack.json': { ...rest, parameters: 'parameters.json', flows: 'flows/main.json', schedules: './schedules.json' },
    'parameters.json': parameters,
    'flows/main.json': flows,
    'schedules.json': schedules,
    'functions/check.js': pack.flows[fnIndex].func as string,
    'functions/setup.js': "context.set('n', 0);\n",
  });
  return { dir, pack: expected };
}

describe('pack files and folders on disk', () => {
  it('refuses a folder part file holding a number beyond a 64-bit float, naming the file and the number', async () => {
    const { dir } = sampleFolder();
    fs.writeFileSync(path.join(dir, 'schedules.json'), '[{"id":"x","payload":{"limit":1e999}}]');
    const e = await refusal(readPackPath(dir), 'FF_INVALID_PACK');
    assert.deepEqual(e.errors, [{ path: '/schedules', message: '"./schedules.json" has a number at /0/payload/limit that is not a finite 64-bit float (beyond ±1.7976931348623157e308, or NaN)' }]);
  });

  it('reads a single pack file as its JSON, with or without a byte order mark', async () => {
    const dir = folder({ 'a.json': samplePack(), 'b.json': `\ufeff${JSON.stringify(samplePack())}` });
    assert.deepEqual(await readPackPath(path.join(dir, 'a.json')), samplePack());
    assert.deepEqual(await readPackPath(path.join(dir, 'b.json')), samplePack());
  });

  it('refuses a single file that is not JSON with FF_MALFORMED_JSON, and one over the limit with FF_PACK_TOO_LARGE', async () => {
    const dir = folder({ 'bad.json': '{"manifest": ', 'latin1.json': Buffer.from([0x7b, 0xe9, 0x7d]), 'big.json': samplePack() });
    assert.deepEqual((await refusal(readPackPath(path.join(dir, 'bad.json')), 'FF_MALFORMED_JSON')).errors.map((e) => e.path), ['/']);
    assert.match((await refusal(readPackPath(path.join(dir, 'latin1.json')), 'FF_MALFORMED_JSON')).errors[0].message, /UTF-8/);
    const size = fs.statSync(path.join(dir, 'big.json')).size;
    const big = await refusal(readPackPath(path.join(dir, 'big.json'), { maxBytes: size - 1 }), 'FF_PACK_TOO_LARGE');
    assert.match(big.errors[0].message, new RegExp(`${size} bytes; the limit is ${size - 1}`));
  });

  it('assembles a folder whose pack.json names its parts and function code by relative path into the same pack as one file', async () => {
    const { dir, pack } = sampleFolder();
    const read = await readPackPath(dir);
    assert.deepEqual(read, pack);
    assert.equal(checkPack(read, sampleContext()).pack.manifest.id, 'com.fieldflow.sample');
  });

  it('takes a folder whose pack.json holds everything itself, and leaves {"file"} alone outside function code', async () => {
    const pack = samplePack();
    pack.flows.push({ id: 'orig-note', type: 'comment', z: 'orig-tab-a', info: { file: 'x.md' }, x: 1, y: 1 });
    assert.deepEqual(await readPackPath(folder({ 'pack.json': pack })), pack);
  });

  it('follows a link that stays inside the folder', async () => {
    const { dir, pack } = sampleFolder();
    fs.renameSync(path.join(dir, 'functions/check.js'), path.join(dir, 'functions/check-v2.js'));
    fs.symlinkSync('check-v2.js', path.join(dir, 'functions/check.js'));
    assert.deepEqual(await readPackPath(dir), pack);
  });

  it('refuses every reference that leaves the folder, is missing or does not parse, in one FF_INVALID_PACK at the JSON path of each entry', async () => {
    const outside = folder({ 'secret.json': [{ id: 'x', type: 'tab' }], 'secret.js': 'return msg;' });
    const pack = samplePack();
    const fn = pack.flows.findIndex((n) => n.id === 'orig-check');
    const sfFn = pack.flows.findIndex((n) => n.id === 'orig-sf-fn');
    pack.flows[fn].func = { file: '../secret.js' };
    pack.flows[fn].initialize = { file: path.join(outside, 'secret.js') };
    pack.flows[fn].finalize = { file: 'linked.js' };
    pack.flows[sfFn].func = { file: 'missing.js', encoding: 'latin1' };
    const dir = folder({
      'pack.json': { ...pack, parameters: 'params.txt', models: 'nowhere.json', endpoints: 'sub', schedules: '/etc/hostname' },
      'params.txt': 'threshold: 80',
      'sub/x.json': [],
    });
    fs.symlinkSync(path.join(outside, 'secret.js'), path.join(dir, 'linked.js'));
    const e = await refusal(readPackPath(dir), 'FF_INVALID_PACK');
    const at = Object.fromEntries(e.errors.map((x) => [x.path, x.message]));
    assert.deepEqual(Object.keys(at).sort(), ['/endpoints', '/models', '/parameters', '/schedules', `/flows/${fn}/finalize`, `/flows/${fn}/func`, `/flows/${fn}/initialize`, `/flows/${sfFn}/func`].sort());
    assert.match(at['/parameters'], /"params.txt" is not JSON/);
    assert.match(at['/models'], /"nowhere.json" does not exist/);
    assert.match(at['/endpoints'], /"sub" is not a file/);
    assert.match(at['/schedules'], /absolute path/);
    assert.match(at[`/flows/${fn}/func`], /"\.\.\/secret\.js" leads outside the pack folder/);
    assert.match(at[`/flows/${fn}/initialize`], /absolute path/);
    assert.match(at[`/flows/${fn}/finalize`], /"linked\.js" is a link leading outside the pack folder/);
    assert.match(at[`/flows/${sfFn}/func`], /\{"file": "<path relative to the pack folder>"\}/);
  });

  it('refuses function code that is not UTF-8 text at the node property naming it', async () => {
    const pack = samplePack();
    const fn = pack.flows.findIndex((n) => n.id === 'orig-check');
    pack.flows[fn].func = { file: 'check.js' };
    const e = await refusal(readPackPath(folder({ 'pack.json': pack, 'check.js': Buffer.from([0x72, 0xff, 0x0a]) })), 'FF_INVALID_PACK');
    assert.deepEqual(e.errors, [{ path: `/flows/${fn}/func`, message: '"check.js" is not UTF-8 text' }]);
  });

  it('refuses a folder without pack.json, and a pack.json that is not JSON, as it would a single file', async () => {
    assert.deepEqual((await refusal(readPackPath(folder({ 'flows.json': [] })), 'FF_INVALID_PACK')).errors, [{ path: '/', message: '"pack.json" does not exist in the pack folder' }]);
    await refusal(readPackPath(folder({ 'pack.json': '{"manifest": {' })), 'FF_MALFORMED_JSON');
    await refusal(readPackPath(path.join(tempDir(), 'no-such-pack')), 'FF_INVALID_PACK');
  });

  it('bounds the bytes read across pack.json and the files it names with FF_PACK_TOO_LARGE', async () => {
    const { dir } = sampleFolder();
    const packJson = fs.statSync(path.join(dir, 'pack.json')).size;
    const e = await refusal(readPackPath(dir, { maxBytes: packJson + 10 }), 'FF_PACK_TOO_LARGE');
    assert.equal(e.errors[0].path, '/parameters', 'the first file that no longer fits');
    assert.ok(await readPackPath(dir, { maxBytes: 1024 * 1024 }));
  });
});
