#!/usr/bin/env node
// `npx fieldflow-sim`: this launcher is committed executable, so the command works whatever file mode a
// fresh build gives dist/ (tsc writes 0644). The simulator itself is sdk/sim/cli.ts.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const cli = path.join(__dirname, '..', 'dist', 'sdk', 'sim', 'cli.js');
if (!fs.existsSync(cli)) {
  process.stderr.write(`fieldflow-sim is not built: run \`npm run build\` (npm install does it) in ${path.resolve(__dirname, '..')}\n`);
  process.exit(1);
}
require(cli);
