/** Resident set sizes of processes, from /proc. */
import { readFile } from 'node:fs/promises';

/** VmRSS of a process in bytes; undefined when it is gone (or a zombie, which has none). */
export async function rssBytes(pid: number): Promise<number | undefined> {
  try {
    const kib = /^VmRSS:\s+(\d+) kB/m.exec(await readFile(`/proc/${pid}/status`, 'utf8'))?.[1];
    return kib === undefined ? undefined : Number(kib) * 1024;
  } catch {
    return undefined;
  }
}
