#!/usr/bin/env node
// `npx fieldflow`: this launcher is committed executable, so the command works whatever file mode a
// fresh build gives dist/ (tsc writes 0644). The command line itself is runtime/cli/main.ts.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const cli = path.join(__dirname, '..', 'dist', 'runtime', 'cli', 'main.js');
if (!fs.existsSync(cli)) {
  process.stderr.write(`fieldflow is not built: run \`npm run build\` (npm install does it) in ${path.resolve(__dirname, '..')}\n`);
  process.exit(1);
}
require(cli)
  .main(process.argv.slice(2))
  .then((code) => {
    process.exitCode = code;
  });
