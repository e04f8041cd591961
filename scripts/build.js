#!/usr/bin/env node
// The build: `tsc -p .`, then the node assets tsc does not emit (dist/scripts/copy-assets.js).
//
// `npm start` and `npm test` run it with --if-stale: compiling the whole tree takes about 14 s even when
// nothing changed (tsc -p reads and checks every file), which made every start wait for it. Instead the
// build records a fingerprint of its inputs (path, size and modification time of every file tsconfig.json
// includes, plus the compiler and the lock file) and --if-stale builds only when the fingerprint differs.
// A fingerprint, not "newer than the last build": a file restored with an older time (an editor's undo,
// `cp -p`, an archive) or a deleted file changes it too.
//
// Plain JavaScript outside dist/ on purpose: it must run before anything is compiled.
'use strict';
const { spawnSync } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const dist = path.join(root, 'dist');
const stampFile = path.join(dist, '.build-fingerprint');
/** What the build reads besides the folders and files tsconfig.json includes. */
const ALSO = ['tsconfig.json', 'package-lock.json', 'node_modules/typescript/package.json', 'scripts/build.js'];

/** A hash of every input's path, size and modification time. */
function fingerprint() {
  const { include = [] } = JSON.parse(fs.readFileSync(path.join(root, 'tsconfig.json'), 'utf8'));
  const hash = crypto.createHash('sha256');
  const add = (file) => {
    const rel = path.relative(root, file);
    let st;
    try {
      st = fs.statSync(file);
    } catch {
      hash.update(`${rel}\0missing\n`);
      return;
    }
    if (!st.isDirectory()) {
      hash.update(`${rel}\0${st.size}\0${st.mtimeMs}\n`);
      return;
    }
    // The listing, not the folder's own time: that changes with every editor swap file.
    hash.update(`${rel}/\n`);
    for (const name of fs.readdirSync(file).sort()) add(path.join(file, name));
  };
  for (const entry of [...ALSO, ...include]) add(path.join(root, entry));
  return hash.digest('hex');
}

function run(args) {
  const r = spawnSync(process.execPath, args, { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
}

function build() {
  let tsc;
  try {
    tsc = require.resolve('typescript/bin/tsc', { paths: [root] });
  } catch {
    if (fs.existsSync(path.join(dist, 'runtime', 'server.js'))) {
      process.stdout.write('TypeScript is not installed (an install without dev dependencies?): using dist/ as it is\n');
      return;
    }
    process.stderr.write('Cannot build: TypeScript is not installed and dist/ is empty. Run `npm install` first.\n');
    process.exit(1);
  }
  // Taken before compiling: a file saved during the build makes the next --if-stale build again.
  const inputs = fingerprint();
  fs.rmSync(stampFile, { force: true });
  run([tsc, '-p', root]);
  run([path.join(dist, 'scripts', 'copy-assets.js')]);
  fs.writeFileSync(stampFile, inputs + '\n');
}

function upToDate() {
  try {
    return fs.existsSync(path.join(dist, 'runtime', 'server.js')) && fs.readFileSync(stampFile, 'utf8').trim() === fingerprint();
  } catch {
    return false;
  }
}

if (process.argv.includes('--if-stale') && upToDate()) {
  process.stdout.write('dist/ is up to date with the sources\n');
} else {
  build();
}
