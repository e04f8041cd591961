import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { Errors, isFieldflowError, type FieldflowError } from '../errors';

/**
 * How far an append is pushed before it counts as written. `off`: into the operating system's page
 * cache (survives a crash of the process, not a power cut). `batch`: fdatasync after every append,
 * which for the message log is one group commit.
 */
export type FsyncMode = 'off' | 'batch';

/**
 * The file operations the store writes its data with: node:fs by default. Tests wrap them to make
 * writes fail as on a full disk where a real small file system cannot be mounted.
 */
export interface StoreIo {
  /** Write at the end of an open file. It may write only part of the bytes; it returns how many. */
  write(fd: number, data: Buffer, offset: number, length: number): Promise<number>;
  fdatasync(fd: number): Promise<void>;
  /** Cut an open file back to `size` bytes. */
  truncate(fd: number, size: number): Promise<void>;
}

/** How the store writes its files. */
export interface DataFileOptions {
  fsync: FsyncMode;
  io: StoreIo;
}

const fsWrite = promisify(fs.write);
const fsDatasync = promisify(fs.fdatasync);
const fsTruncate = promisify(fs.ftruncate);

export function nodeIo(): StoreIo {
  return {
    write: async (fd, data, offset, length) => (await fsWrite(fd, data, offset, length, null)).bytesWritten,
    fdatasync: (fd) => fsDatasync(fd),
    truncate: (fd, size) => fsTruncate(fd, size),
  };
}

/** Data files hold credential hashes: owner-only permissions. */
const FILE_MODE = 0o600;

/**
 * One NeDB data file as the store writes it. NeDB appends a line per document and would leave the
 * front part of a line that failed half-way (a full disk) in the file; the next append would then
 * continue that line, and loading drops the joined line as corrupt, acknowledged document and all.
 * Here an append that fails is cut back off the file before anything else is written, so the file
 * only ever ends in complete lines.
 */
export class DataFile {
  /**
   * Set when a failed append could not be cut back (the truncate failed too): the size the file
   * must be cut back to before anything else goes in. Until that succeeds every append fails.
   */
  private cutTo: number | null = null;

  constructor(
    readonly filename: string,
    private readonly options: DataFileOptions,
  ) {}

  /** Append text (complete lines). Throws a catalog storage error, with the file as it was, if it fails. */
  async append(text: string): Promise<void> {
    const data = Buffer.from(text, 'utf8');
    let fd: fs.promises.FileHandle;
    try {
      fd = await fs.promises.open(this.filename, 'a', FILE_MODE);
    } catch (err) {
      throw storageError(err);
    }
    let size = -1;
    try {
      if (this.cutTo !== null) {
        await this.options.io.truncate(fd.fd, this.cutTo);
        this.cutTo = null;
      }
      size = (await fd.stat()).size;
      await this.writeAll(fd.fd, data);
      if (this.options.fsync === 'batch') await this.options.io.fdatasync(fd.fd);
    } catch (err) {
      if (size >= 0) await this.options.io.truncate(fd.fd, size).catch(() => (this.cutTo = size));
      await fd.close().catch(() => undefined);
      throw storageError(err);
    }
    try {
      await fd.close();
    } catch (err) {
      // Some file systems (NFS) report a failed write only at close: the bytes may not be there.
      if (size >= 0) this.cutTo = size;
      throw storageError(err);
    }
  }

  /**
   * Replace the whole file, crash-safe: write `<file>~`, sync it, rename it over the file, sync the
   * directory. If anything fails the file is as it was and no `~` is left behind (on a full disk it
   * would hold space and, on the next start, be written again from scratch).
   */
  async replace(chunks: Iterable<string>): Promise<void> {
    const temp = this.filename + '~';
    let fd: fs.promises.FileHandle | null = null;
    try {
      fd = await fs.promises.open(temp, 'w', FILE_MODE);
      for (const chunk of chunks) await this.writeAll(fd.fd, Buffer.from(chunk, 'utf8'));
      // Always synced, whatever the fsync mode: a rename that outlives a power cut while the data
      // does not would lose the whole file, not just the newest lines.
      await this.options.io.fdatasync(fd.fd);
      await fd.close();
      fd = null;
      await fs.promises.rename(temp, this.filename);
      this.cutTo = null;
      await syncDirectory(path.dirname(this.filename));
    } catch (err) {
      await fd?.close().catch(() => undefined);
      // NeDB falls back to the `~` file only when the data file is missing: never delete it then.
      if (fs.existsSync(this.filename)) await fs.promises.unlink(temp).catch(() => undefined);
      throw storageError(err);
    }
  }

  private async writeAll(fd: number, data: Buffer): Promise<void> {
    let offset = 0;
    while (offset < data.length) {
      const written = await this.options.io.write(fd, data, offset, data.length - offset);
      // A file system that takes nothing without saying why would otherwise spin here for ever.
      if (written <= 0) throw Object.assign(new Error('write made no progress'), { code: 'EIO' });
      offset += written;
    }
  }
}

async function syncDirectory(dir: string): Promise<void> {
  const fd = await fs.promises.open(dir, 'r');
  try {
    await fd.sync();
  } catch (err) {
    // Some file systems cannot sync a directory; the rename is still atomic there.
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'EINVAL' && code !== 'EPERM' && code !== 'EISDIR' && code !== 'ENOTSUP') throw err;
  } finally {
    await fd.close().catch(() => undefined);
  }
}

/** Whether a write failed because the file system is full. */
export function isDiskFull(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === 'ENOSPC' || code === 'EDQUOT' || code === Errors.STORAGE_FULL.code;
}

/** Whether an error is one of the catalog's storage errors. */
export function isStorageError(err: unknown): boolean {
  return isFieldflowError(err) && (err.code === Errors.STORAGE_FULL.code || err.code === Errors.STORAGE_UNAVAILABLE.code);
}

/** Whether a failed write is the storage's doing: a catalog storage error, or a system error (ENOSPC, EIO, EROFS, ...). */
export function isWriteFailure(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return isStorageError(err) || (typeof code === 'string' && /^E[A-Z]+$/.test(code));
}

/**
 * A failed write as a catalog error: 503 either way, and a code that tells a full disk (which
 * clears by itself once space is freed) from other failures. The system error is kept as `cause`.
 */
export function storageError(err: unknown): FieldflowError {
  if (isFieldflowError(err)) return err;
  const code = (err as NodeJS.ErrnoException | null)?.code;
  const failure = isDiskFull(err)
    ? Errors.STORAGE_FULL('The file system of the data directory is full; nothing was stored. Send it again once space is freed.')
    : Errors.STORAGE_UNAVAILABLE(`Writing to the data directory failed (${code ?? (err as Error)?.message ?? 'unknown error'}); nothing was stored.`);
  failure.cause = err;
  return failure;
}

/**
 * A storage error for the operator rather than for a client: it names the file and what to do
 * (start-up failures end up on the console). Errors that are not about storage pass through.
 */
export function fileError(err: unknown, filename: string, couldNotBe: string): Error {
  const code = (err as { code?: unknown } | null)?.code;
  if (isDiskFull(err)) {
    const failure = storageError(err);
    failure.message = `the file system of ${path.dirname(filename)} is full: ${path.basename(filename)} could not be ${couldNotBe}. Free space, then start again.`;
    return failure;
  }
  if (isWriteFailure(err)) {
    const failure = storageError(err);
    failure.message = `${filename} could not be ${couldNotBe}: ${((failure.cause as Error | undefined) ?? failure).message}`;
    return failure;
  }
  return err as Error;
}
