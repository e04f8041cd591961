import fs from 'node:fs';
import path from 'node:path';
import { once } from 'node:events';
import type Datastore from '@seald-io/nedb';

// NeDB's own line format and file helpers, so the file is the one NeDB would write.
const model = require('@seald-io/nedb/lib/model.js') as { serialize(doc: unknown): string };
const storage = require('@seald-io/nedb/lib/storage.js') as {
  existsAsync(file: string): Promise<boolean>;
  flushToStorageAsync(options: { filename: string; isDir?: boolean; mode?: number }): Promise<void>;
};

/** Lines gathered into one write: bounds the heap a rewrite holds at any moment. */
const WRITE_CHUNK_CHARS = 1024 * 1024;

interface Persistence {
  filename: string;
  inMemoryOnly: boolean;
  modes: { fileMode: number; dirMode: number };
  persistCachedDatabaseAsync(): Promise<void>;
}

interface Internals {
  persistence: Persistence;
  indexes: Record<string, { fieldName: string; unique: boolean; sparse: boolean }>;
  getAllData(): unknown[];
  emit(event: string): void;
}

/**
 * NeDB rewrites a whole data file when it loads it and at each compaction, and first serialises every document
 * into one array of lines: for that moment the heap holds the file's contents a second time. For a message log of
 * gigabytes that is what ran a start out of memory. This replaces the rewrite on one datastore with one that writes
 * the lines as it makes them, a megabyte at a time, waiting for the disk when it falls behind, with NeDB's crash
 * safety otherwise unchanged (`<file>~`, flushed, renamed over the file, directory flushed). NeDB queues every other
 * operation on the datastore behind a rewrite, so the documents do not change while it runs. (Serialisation hooks are
 * not supported; no datastore here sets them.)
 */
export function streamRewrites(ds: Datastore): void {
  const db = ds as unknown as Internals;
  const persistence = db.persistence;
  persistence.persistCachedDatabaseAsync = async () => {
    if (persistence.inMemoryOnly) return;
    const { filename, modes } = persistence;
    const temp = filename + '~';
    await storage.flushToStorageAsync({ filename: path.dirname(filename), isDir: true, mode: modes.dirMode });
    if (await storage.existsAsync(filename)) await storage.flushToStorageAsync({ filename, mode: modes.fileMode });
    try {
      await writeLines(temp, modes.fileMode, linesOf(db));
    } catch (err) {
      // A half-written copy on a full disk would only take the space the next attempt needs.
      await fs.promises.unlink(temp).catch(() => undefined);
      throw err;
    }
    await storage.flushToStorageAsync({ filename: temp, mode: modes.fileMode });
    await fs.promises.rename(temp, filename);
    await storage.flushToStorageAsync({ filename: path.dirname(filename), isDir: true, mode: modes.dirMode });
    db.emit('compaction.done');
  };
}

function* linesOf(db: Internals): Generator<string> {
  for (const doc of db.getAllData()) yield model.serialize(doc);
  for (const [fieldName, index] of Object.entries(db.indexes)) {
    // The _id index is NeDB's own; the others are recorded in the file.
    if (fieldName !== '_id') yield model.serialize({ $$indexCreated: { fieldName: index.fieldName, unique: index.unique, sparse: index.sparse } });
  }
}

async function writeLines(file: string, mode: number, lines: Iterable<string>): Promise<void> {
  const out = fs.createWriteStream(file, { mode });
  let failure: Error | null = null;
  out.on('error', (err) => (failure = err));
  let chunk: string[] = [];
  let chars = 0;
  const flush = async () => {
    if (failure) throw failure;
    const more = out.write(chunk.join(''));
    chunk = [];
    chars = 0;
    if (!more) await once(out, 'drain');
  };
  try {
    for (const line of lines) {
      chunk.push(line, '\n');
      chars += line.length + 1;
      if (chars >= WRITE_CHUNK_CHARS) await flush();
    }
    if (chars > 0) await flush();
    out.end();
    await once(out, 'close');
    if (failure) throw failure;
  } finally {
    if (!out.closed) out.destroy();
  }
}
