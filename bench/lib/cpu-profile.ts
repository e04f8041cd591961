/**
 * CPU profiling of a server between two moments, preloaded with
 * `NODE_OPTIONS="--require .../cpu-profile.js"` (Node refuses `--cpu-prof` in NODE_OPTIONS, and
 * test/support/server.ts takes no node flags). Each SIGUSR2 toggles: the first starts the V8
 * profiler, the second writes `<pid>-<n>.cpuprofile` into FIELDFLOW_BENCH_PROFILE_DIR. So a
 * benchmark can profile exactly one measured phase and leave out setup.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Session } from 'node:inspector';

const dir = process.env.FIELDFLOW_BENCH_PROFILE_DIR;

if (dir) {
  const session = new Session();
  session.connect();
  let running = false;
  let n = 0;
  process.on('SIGUSR2', () => {
    if (!running) {
      running = true;
      session.post('Profiler.enable', () => session.post('Profiler.start'));
      return;
    }
    running = false;
    session.post('Profiler.stop', (err, result) => {
      if (err) return process.stderr.write(`cpu profile failed: ${err.message}\n`);
      const file = path.join(dir, `${process.pid}-${++n}.cpuprofile`);
      fs.writeFileSync(file, JSON.stringify(result.profile));
      process.stderr.write(`cpu profile written: ${file}\n`);
    });
  });
}
