import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { nodeIo, type StoreIo } from '../../runtime/store/data-file';

/**
 * A data directory whose file system can be filled up and freed again.
 *
 * Where the machine allows it (root, as in CI) this is a real small tmpfs, filled with a filler
 * file: every write of the process fails as it would on a full disk. Where mounting is not
 * permitted it falls back to fault injection in the store's own write seam (`io`, passed as
 * `store.io`): writes fail the way a full disk fails them (what fits is written, then ENOSPC), but
 * only the store's writes.
 */
export interface FullableDisk {
  /** The directory to use as the data directory. */
  readonly dir: string;
  /** True on a real file system, false under fault injection. */
  readonly real: boolean;
  /** Pass as `store.io` (undefined on a real file system, where node:fs is the fault). */
  readonly io: StoreIo | undefined;
  /** Use up the free space, leaving about `leaveBytes` free. */
  fill(leaveBytes?: number): void;
  /** Free the space again. */
  free(): void;
  /** Unmount (or remove) it. */
  close(): void;
}

const FILLER = '.filler';

export function fullableDisk(sizeBytes = 4 * 1024 * 1024): FullableDisk {
  const mountPoint = fs.mkdtempSync(path.join(os.tmpdir(), 'ff-full-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeBytes},mode=0700`, 'tmpfs', mountPoint], { stdio: 'ignore' });
  } catch {
    return injectedDisk(mountPoint);
  }
  return realDisk(mountPoint);
}

function realDisk(mountPoint: string): FullableDisk {
  const dir = path.join(mountPoint, 'data');
  fs.mkdirSync(dir);
  const filler = path.join(mountPoint, FILLER);
  return {
    dir,
    real: true,
    io: undefined,
    fill(leaveBytes = 0) {
      const chunk = Buffer.alloc(64 * 1024);
      const fd = fs.openSync(filler, 'a');
      try {
        for (;;) fs.writeSync(fd, chunk);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
      } finally {
        fs.closeSync(fd);
      }
      // A short write may have filled the last bytes; give back what was asked for.
      if (leaveBytes > 0) fs.truncateSync(filler, Math.max(0, fs.statSync(filler).size - leaveBytes));
    },
    free() {
      fs.rmSync(filler, { force: true });
    },
    close() {
      // Lazily: a server that has not quite exited yet must not keep the mount (and its memory) alive.
      execFileSync('umount', ['-l', mountPoint], { stdio: 'ignore' });
      fs.rmdirSync(mountPoint);
    },
  };
}

function injectedDisk(dir: string): FullableDisk {
  const real = nodeIo();
  /** Bytes that may still be written; null: no limit. */
  let room: number | null = null;
  const io: StoreIo = {
    ...real,
    async write(fd, data, offset, length) {
      if (room === null) return real.write(fd, data, offset, length);
      if (room <= 0) throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC', errno: -28, syscall: 'write' });
      // Taken before the write: writes to other files run concurrently and share the room.
      const take = Math.min(length, room);
      room -= take;
      const written = await real.write(fd, data, offset, take);
      if (room !== null) room += take - written;
      return written;
    },
  };
  return {
    dir,
    real: false,
    io,
    fill(leaveBytes = 0) {
      room = leaveBytes;
    },
    free() {
      room = null;
    },
    close() {
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
