import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { tempDir } from '../../support/platform';

const run = promisify(execFile);
/** The checkout: dist/test/unit/scripts is four levels down. */
const ROOT = path.resolve(__dirname, '..', '..', '..', '..');

/**
 * A project of two small files laid out like this one (runtime/server.ts, scripts/copy-assets.ts), with
 * this checkout's build script and its lifecycle scripts from package.json, so `npm start`, `npm test` and
 * `prepare` (which npm runs on install, and npx runs when it links this checkout to run fieldflow-sim) behave as
 * they do here without compiling the whole tree. copy-assets appends to builds.log, which
 * counts the builds.
 */
function fixture(): string {
  const dir = tempDir('fieldflow-build-');
  const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
  const scripts = { build: pkg.scripts.build, prepare: pkg.scripts.prepare, prestart: pkg.scripts.prestart, pretest: pkg.scripts.pretest, start: 'node dist/runtime/server.js', test: 'node -e ""' };
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'build-fixture', version: '1.0.0', private: true, scripts }));
  fs.writeFileSync(
    path.join(dir, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: { target: 'ES2022', lib: ['ES2022'], module: 'commonjs', rootDir: '.', outDir: 'dist', incremental: true, tsBuildInfoFile: 'dist/.tsbuildinfo', types: [] },
      include: ['runtime', 'scripts'],
    }),
  );
  fs.mkdirSync(path.join(dir, 'runtime'));
  fs.mkdirSync(path.join(dir, 'scripts'));
  fs.copyFileSync(path.join(ROOT, 'scripts', 'build.js'), path.join(dir, 'scripts', 'build.js'));
  fs.writeFileSync(path.join(dir, 'runtime', 'server.ts'), 'declare const console: { log(s: string): void };\nconsole.log("server v1");\n');
  fs.writeFileSync(
    path.join(dir, 'scripts', 'copy-assets.ts'),
    'declare const require: (m: string) => any;\ndeclare const __dirname: string;\nrequire("node:fs").appendFileSync(__dirname + "/../../builds.log", "built\\n");\n',
  );
  fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(dir, 'node_modules'), 'dir');
  return dir;
}

describe('the build', function () {
  this.timeout(120_000);
  let dir: string;
  const builds = () => (fs.existsSync(path.join(dir, 'builds.log')) ? fs.readFileSync(path.join(dir, 'builds.log'), 'utf8').split('\n').filter(Boolean).length : 0);
  const npm = (...args: string[]) =>
    run('npm', [...args, '--silent'], { cwd: dir, env: { ...process.env, npm_config_update_notifier: 'false' } }).catch((err) => {
      throw new Error(`npm ${args.join(' ')} failed:\n${err.stdout}\n${err.stderr}`);
    });

  before(() => {
    dir = fixture();
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('builds on the first npm start, and later starts, test runs and installs do not rebuild an unchanged tree', async () => {
    const first = await npm('start');
    assert.match(first.stdout, /server v1/);
    assert.equal(builds(), 1);
    const again = await npm('start');
    assert.match(again.stdout, /dist\/ is up to date/);
    await npm('test');
    await npm('run', 'prepare');
    assert.equal(builds(), 1, 'nothing changed: no second build');
  });

  it('rebuilds a changed source, even one that comes back with an older modification time', async () => {
    const source = path.join(dir, 'runtime', 'server.ts');
    const { mtime } = fs.statSync(source);
    fs.writeFileSync(source, 'declare const console: { log(s: string): void };\nconsole.log("server v2");\n');
    const earlier = new Date(mtime.getTime() - 3_600_000);
    fs.utimesSync(source, earlier, earlier);
    assert.match((await npm('start')).stdout, /server v2/);
    assert.equal(builds(), 2);
    assert.match((await npm('start')).stdout, /dist\/ is up to date[\s\S]*server v2/);
    assert.equal(builds(), 2);
  });
});
