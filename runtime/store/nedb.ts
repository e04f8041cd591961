import path from 'node:path';
import fs from 'node:fs';
import Datastore from '@seald-io/nedb';
import { DataFile, fileError, type DataFileOptions } from './data-file';

/** NeDB's own serialisation (Dates, undefined, refused keys), so the lines stay NeDB's format. */
const nedbModel = require('@seald-io/nedb/lib/model.js') as { serialize(doc: unknown): string };

/** Data files hold credential hashes: owner-only permissions. */
const MODES = { fileMode: 0o600, dirMode: 0o700 };

/** Bytes per write when a whole file is rewritten: bounded strings, few writes (a segment line can be 16 MiB). */
const REWRITE_CHUNK_CHARS = 4 * 1024 * 1024;

/**
 * Open (and load) one NeDB datastore. `dir === null` keeps it in memory, for tests.
 * Loading rewrites the file without its dead lines, which is NeDB's own compaction. Every write
 * goes through a DataFile (see writeThrough); a load that cannot write fails with a message
 * saying so, rather than with a bare system error.
 */
export async function openDatastore(dir: string | null, name: string, files: DataFileOptions): Promise<Datastore> {
  if (dir === null) {
    const ds = new Datastore({ inMemoryOnly: true });
    await ds.loadDatabaseAsync();
    return ds;
  }
  const filename = path.join(dir, name);
  try {
    fs.mkdirSync(dir, { recursive: true, mode: MODES.dirMode });
    cutTornTail(filename);
    const ds = new Datastore({ filename, modes: MODES });
    writeThrough(ds, new DataFile(filename, files));
    await ds.loadDatabaseAsync();
    return ds;
  } catch (err) {
    throw fileError(err, filename, 'loaded (loading rewrites each data file, which needs free space about the size of the file)');
  }
}

/**
 * Route NeDB's two kinds of write through a DataFile: appends (a line per changed document), which
 * are cut back off the file if they fail, and whole-file rewrites (load, compaction), which leave
 * no `~` file behind if they fail. The library offers no storage hook per datastore, so its
 * persistence object's two write methods are replaced on this instance only.
 */
function writeThrough(ds: Datastore, file: DataFile): void {
  const persistence = ds.persistence as unknown as {
    persistNewStateAsync(docs: object[]): Promise<void>;
    persistCachedDatabaseAsync(): Promise<void>;
  };
  persistence.persistNewStateAsync = async (docs) => {
    let text = '';
    for (const doc of docs) text += nedbModel.serialize(doc) + '\n';
    if (text) await file.append(text);
  };
  persistence.persistCachedDatabaseAsync = async () => {
    // Our datastores have no indexes but _id, which NeDB does not write; nothing else to persist.
    await file.replace(chunked(ds.getAllData()));
    ds.emit('compaction.done');
  };
}

function* chunked(docs: object[]): Generator<string> {
  let text = '';
  for (const doc of docs) {
    text += nedbModel.serialize(doc) + '\n';
    if (text.length >= REWRITE_CHUNK_CHARS) {
      yield text;
      text = '';
    }
  }
  if (text) yield text;
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
