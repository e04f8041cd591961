// Mocha's settings. `npx mocha dist/test/unit/x.test.js` runs just that file: the whole suite is the
// default only when no file is named (mocha would otherwise add the named files to the whole suite).
const named = process.argv.slice(2).some((arg) => arg.endsWith('.js') && !arg.startsWith('-'));

module.exports = {
  ...(named ? {} : { spec: ['dist/test/**/*.test.js'] }),
  recursive: true,
  timeout: 30000,
  reporter: 'spec',
  exit: false,
};
