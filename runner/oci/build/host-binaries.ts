/**
 * Host programs as layer entries: each binary and every shared library `ldd` lists (the dynamic
 * loader included), at their host paths. Symlinks met on the way, in the middle of a path
 * (/lib -> usr/lib) or at its end (libfoo.so.1 -> libfoo.so.1.2), are kept as symlinks next to
 * the files they lead to, so every name a program or the loader asks for resolves.
 */
import { lstat, readlink } from 'node:fs/promises';
import { isAbsolute, posix } from 'node:path';
import { findExecutable, requireExecutable, run } from '../../exec.js';
import { normalizedMode, type LayerEntry } from './layers.js';

const MAX_SYMLINK_HOPS = 40;

/** Absolute library paths from `ldd` output; a library ldd cannot find is an error. */
export function parseLddOutput(output: string): string[] {
  const paths: string[] = [];
  for (const line of output.split('\n').map((text) => text.trim())) {
    const missing = /^(\S+) => not found$/.exec(line);
    if (missing) throw new Error(`ldd: shared library ${missing[1]} not found`);
    const path = /=>\s*(\/\S+)/.exec(line)?.[1] ?? /^(\/\S+)\s+\(0x[0-9a-f]+\)$/.exec(line)?.[1];
    if (path !== undefined && !paths.includes(path)) paths.push(path);
  }
  return paths;
}

/**
 * Adds the file at `path` to `entries`, following symlinks component by component: each symlink
 * met is recorded (with its target as written) and resolution continues at its target.
 */
export async function collectHostFile(path: string, entries: Map<string, LayerEntry>, hops = 0): Promise<void> {
  if (hops > MAX_SYMLINK_HOPS) throw new Error(`too many levels of symbolic links resolving ${path}`);
  const parts = path.split('/').filter(Boolean);
  let resolved = '/';
  for (const [index, part] of parts.entries()) {
    const candidate = posix.join(resolved, part);
    const info = await lstat(candidate);
    if (info.isSymbolicLink()) {
      const target = await readlink(candidate);
      entries.set(candidate, { type: 'symlink', path: candidate, target, uid: 0, gid: 0 });
      return collectHostFile(posix.join(posix.resolve(resolved, target), ...parts.slice(index + 1)), entries, hops + 1);
    }
    const last = index === parts.length - 1;
    if (last && !info.isFile()) throw new Error(`${candidate} is not a regular file`);
    if (!last && !info.isDirectory()) throw new Error(`${candidate} is not a directory`);
    if (last) entries.set(candidate, { type: 'file', path: candidate, mode: normalizedMode(info.mode), uid: 0, gid: 0, content: { hostPath: candidate } });
    resolved = candidate;
  }
}

async function sharedLibraries(binary: string): Promise<string[]> {
  const ldd = requireExecutable('ldd', 'libc-bin');
  try {
    return parseLddOutput(await run(ldd, [binary]));
  } catch (error) {
    // Statically linked programs and scripts need no libraries.
    if (/not a dynamic executable|statically linked/.test((error as Error).message)) return [];
    throw error;
  }
}

/** A command as the spec names it: an absolute path is taken as it is, a name is looked up on PATH. */
export function hostCommandPath(command: string): string | undefined {
  return isAbsolute(command) ? command : findExecutable(command);
}

/** The entries of `binaries` (absolute host paths) and of every library they load, keyed by image path. */
export async function hostBinaryEntries(binaries: readonly string[]): Promise<Map<string, LayerEntry>> {
  const entries = new Map<string, LayerEntry>();
  for (const binary of binaries) {
    await collectHostFile(binary, entries);
    for (const library of await sharedLibraries(binary)) await collectHostFile(library, entries);
  }
  return entries;
}

/** The `hostBinaries` layer: each command's program and libraries. */
export async function hostCommandEntries(commands: readonly string[]): Promise<LayerEntry[]> {
  const binaries = commands.map((command) => {
    const path = hostCommandPath(command);
    if (path === undefined) throw new Error(`command ${command} is not on this host's PATH`);
    return path;
  });
  return [...(await hostBinaryEntries(binaries)).values()];
}
