/**
 * Paths inside a root filesystem, as layer tars and whiteout records name them.
 * The normal form is '/'-separated and relative: no leading '/', no '.' or empty components;
 * the root itself is ''. A name with a '..' component has no normal form: it is never resolved
 * against anything, so a layer cannot climb out of its directory, however the name is spelled.
 */

/** The normal form of a tar entry name, or undefined when it has a '..' component or a NUL byte. */
export function normalizeEntryPath(name: string): string | undefined {
  if (name.includes('\0')) return undefined;
  const parts: string[] = [];
  // A leading '/' is dropped (as Docker does): absolute names are contained, not refused.
  for (const part of name.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') return undefined;
    parts.push(part);
  }
  return parts.join('/');
}

/** True when `path` is already in normal form (and is not the root). */
export function isNormalEntryPath(path: string): boolean {
  return path !== '' && normalizeEntryPath(path) === path;
}

/** The parent of a normalized path ('' for a top-level entry). */
export function parentPath(path: string): string {
  const slash = path.lastIndexOf('/');
  return slash === -1 ? '' : path.slice(0, slash);
}

/** The last component of a normalized path. */
export function baseName(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}

/** Every proper ancestor of a normalized path, outermost first: 'a/b/c' -> ['a', 'a/b']. */
export function ancestorPaths(path: string): string[] {
  const ancestors: string[] = [];
  for (let slash = path.indexOf('/'); slash !== -1; slash = path.indexOf('/', slash + 1)) {
    ancestors.push(path.slice(0, slash));
  }
  return ancestors;
}

/** True when `path` is `ancestor` or lies beneath it. */
export function isSameOrBeneath(path: string, ancestor: string): boolean {
  return ancestor === '' || path === ancestor || path.startsWith(`${ancestor}/`);
}
