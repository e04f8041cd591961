import path from 'node:path';
import fs from 'node:fs';
import Datastore from '@seald-io/nedb';

/** Data files hold credential hashes: owner-only permissions. */
const MODES = { fileMode: 0o600, dirMode: 0o700 };

/**
 * Open (and load) one NeDB datastore. `dir === null` keeps it in memory, for tests.
 * Loading rewrites the file without its dead lines, which is NeDB's own compaction.
 */
export async function openDatastore(dir: string | null, name: string): Promise<Datastore> {
  if (dir === null) {
    const ds = new Datastore({ inMemoryOnly: true });
    await ds.loadDatabaseAsync();
    return ds;
  }
  fs.mkdirSync(dir, { recursive: true, mode: MODES.dirMode });
  const ds = new Datastore({ filename: path.join(dir, name), modes: MODES });
  await ds.loadDatabaseAsync();
  return ds;
}
