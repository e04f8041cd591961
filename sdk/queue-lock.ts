import fs from 'node:fs/promises';
import path from 'node:path';
import { QueueLockedError } from './errors';

/** Directories locked by this process: a pid file cannot tell two queues of one process apart. */
const heldHere = new Set<string>();

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Take the queue directory for this process: a `lock` file holding the pid. A lock left by a
 * process that is gone (killed) is taken over, so a device restarted after a crash starts at once.
 */
export async function lockDir(dir: string): Promise<() => Promise<void>> {
  const key = path.resolve(dir);
  if (heldHere.has(key)) throw new QueueLockedError(dir, process.pid);
  const file = path.join(dir, 'lock');
  for (let attempt = 0; ; attempt++) {
    try {
      await fs.writeFile(file, String(process.pid), { flag: 'wx' });
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || attempt > 0) throw err;
      const pid = Number((await fs.readFile(file, 'utf8').catch(() => '')).trim());
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && alive(pid)) throw new QueueLockedError(dir, pid);
      await fs.rm(file, { force: true });
    }
  }
  heldHere.add(key);
  return async () => {
    heldHere.delete(key);
    await fs.rm(file, { force: true });
  };
}
