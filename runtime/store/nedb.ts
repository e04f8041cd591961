import path from 'node:path';
import fs from 'node:fs';
import Datastore from '@seald-io/nedb';
import { streamRewrites } from './streaming-compaction';

/** Data files hold credential hashes: owner-only permissions. */
const MODES = { fileMode: 0o600, dirMode: 0o700 };

/**
 * Open (and load) one NeDB datastore. `dir === null` keeps it in memory, for tests.
 * Loading rewrites the file without its dead lines, which is NeDB's own compaction (streamed: see
 * streaming-compaction.ts).
 */
export async function openDatastore(dir: string | null, name: string): Promise<Datastore> {
  if (dir === null) {
    const ds = new Datastore({ inMemoryOnly: true });
    await ds.loadDatabaseAsync();
    return ds;
  }
  fs.mkdirSync(dir, { recursive: true, mode: MODES.dirMode });
  const filename = path.join(dir, name);
  cutTornTail(filename);
  const ds = new Datastore({ filename, modes: MODES });
  streamRewrites(ds);
  await ds.loadDatabaseAsync();
  return ds;
}

/**
 * NeDB appends each document as one line ending in "\n". A file that does not end in "\n" was
 * cut off mid-append by a crash; that append never completed, so nothing in it was acknowledged.
 * Drop it here: NeDB would count it as corruption, and refuses to open a file where corrupt lines
 * are over 10% (a message file can have few, long lines).
 */
export function cutTornTail(filename: string): number {
  let fd: number;
  try {
    fd = fs.openSync(filename, 'r+');
  } catch {
    return 0; // no file yet
  }
  try {
    const size = fs.fstatSync(fd).size;
    if (size === 0) return 0;
    const chunk = Buffer.alloc(Math.min(size, 64 * 1024));
    let end = size;
    // Walk back to the last newline; a torn line can be longer than one chunk.
    while (end > 0) {
      const start = Math.max(0, end - chunk.length);
      const n = fs.readSync(fd, chunk, 0, end - start, start);
      const nl = chunk.subarray(0, n).lastIndexOf(0x0a);
      if (nl !== -1) {
        const keep = start + nl + 1;
        if (keep < size) fs.ftruncateSync(fd, keep);
        return size - keep;
      }
      end = start;
    }
    fs.ftruncateSync(fd, 0);
    return size;
  } finally {
    fs.closeSync(fd);
  }
}
