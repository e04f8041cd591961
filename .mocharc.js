// Mocha's settings. `npx mocha dist/test/unit/x.test.js` (or a folder) runs just that: the whole suite is the
// default only when no file or folder is named (mocha would otherwise add the named ones to the whole suite).
const fs = require('node:fs');

const isSpec = (arg) => !arg.startsWith('-') && (arg.endsWith('.js') || (fs.existsSync(arg) && fs.statSync(arg).isDirectory()));
const named = process.argv.slice(2).some(isSpec);

module.exports = {
  ...(named ? {} : { spec: ['dist/test/**/*.test.js'] }),
  recursive: true,
  timeout: 30000,
  reporter: 'spec',
  exit: false,
};
