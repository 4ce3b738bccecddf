/** Where runs keep their scratch (caches, root filesystems, state, logs) unless told otherwise. */
import { statfs } from 'node:fs/promises';
import { tmpdir } from 'node:os';

const TMPFS_MAGIC = 0x01021994;

/**
 * /dev/shm when it is a tmpfs with room, else the temp dir. Pipelines compared side by side write
 * the same bytes; on a shared VM disk, host writeback makes those writes vary tenfold between
 * runs and drown the difference being measured. The results record the storage either way.
 */
export async function scratchBase(): Promise<string> {
  try {
    const shm = await statfs('/dev/shm');
    if (shm.type === TMPFS_MAGIC && shm.bavail * shm.bsize > 4 * 2 ** 30) return '/dev/shm';
  } catch {
    // no /dev/shm
  }
  return tmpdir();
}
