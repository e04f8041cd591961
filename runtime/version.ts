import fs from 'node:fs';
import path from 'node:path';

/** Fieldflow's own version, from package.json (two levels up from dist/runtime/ and from runtime/). */
export const FIELDFLOW_VERSION: string = (() => {
  for (const up of ['../..', '..']) {
    try {
      const pkg = JSON.parse(fs.readFileSync(path.resolve(__dirname, up, 'package.json'), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'fieldflow' && pkg.version) return pkg.version;
    } catch {
      // try the next place
    }
  }
  return '0.0.0';
})();
