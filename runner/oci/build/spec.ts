/**
 * Image specs: YAML files that describe a deterministic OCI image layer by layer.
 *
 *   platform: linux/amd64                 # os/architecture[/variant]
 *   created: "2026-01-01T00:00:00Z"       # config.created and every entry's mtime (default: the epoch)
 *   layers:                               # bottom first; each item is one layer
 *     - base: {}                          # /etc/passwd, /etc/group, /tmp, /root, /home/app, /dev /proc /sys
 *     - nodeRuntime: {}                   # the host's node binary and the shared libraries ldd lists
 *     - npm: { project: npm/x, to: /app } # `npm ci` of a package.json + package-lock.json directory
 *     - npm: { project: ../.., to: /opt/app, installed: true }  # the production packages its node_modules has
 *     - hostBinaries: { commands: [sh, mount, /bin/sh] }       # host programs and the libraries ldd lists
 *     - tree: { source: ../dist, to: /opt/app/dist }            # a host directory, recursively, symlinks kept
 *     - files:                            # any of files / delete / opaque, together or alone
 *         - { path: /app/a.mjs, source: ../a.mjs, mode: 0o755 }  # also uid, gid
 *         - { path: /etc/motd, content: "hello\n" }
 *         - { path: /app/current, symlink: a.mjs }
 *         - { path: /data, directory: true, uid: 1000, gid: 1000 }
 *       delete: [/app/old.txt]            # whiteouts for paths of lower layers
 *       opaque: [/app/cache]              # hides everything lower layers put in the directory
 *   config: { entrypoint, cmd, env, workingDir, user, labels }
 *
 * `source` (of files and trees) and `project` are relative to the spec file. A hostBinaries
 * command is a name looked up on the host's PATH, or an absolute path taken as it is; each program
 * lands at its host path, with the symlinks leading to it (so `/bin/sh` keeps `/bin -> usr/bin`).
 * `installed: true` copies what `npm ls --omit=dev` lists from the project's node_modules instead
 * of running `npm ci` (no network; the versions the project runs with). Files of trees and npm
 * layers keep only their content and exec bit. Entries belong to root unless uid/gid say
 * otherwise; files default to mode 0644 (a source file's own mode is not used), directories to 0755.
 * A `mode` is octal however it is written: 0o755, 0755, 755 and "0755" all mean rwxr-xr-x (YAML 1.2
 * would read 0755 as decimal). Unknown keys are errors.
 */
import { readFile, stat } from 'node:fs/promises';
import { dirname, join, posix, resolve } from 'node:path';
import { isPair, isScalar, parseDocument, visit } from 'yaml';
import { McpWarmError } from '../../errors.js';
import { parsePlatform } from '../platform.js';
import { hostCommandPath } from './host-binaries.js';
import type { Platform } from '../types.js';

export interface SpecProblem {
  /** Field path in the spec, such as `layers[2].npm.project`; `(spec)` for the document itself. */
  path: string;
  message: string;
}

interface Ownership {
  field: string;
  path: string;
  uid: number;
  gid: number;
}

export type FileItem =
  | (Ownership & { type: 'source'; source: string; mode: number })
  | (Ownership & { type: 'content'; content: string; mode: number })
  | (Ownership & { type: 'symlink'; target: string })
  | (Ownership & { type: 'directory'; mode: number });

export type LayerSpec =
  | { kind: 'base'; field: string }
  | { kind: 'nodeRuntime'; field: string }
  | { kind: 'npm'; field: string; project: string; to: string; installed?: true }
  | { kind: 'hostBinaries'; field: string; commands: string[] }
  | { kind: 'tree'; field: string; source: string; to: string }
  | { kind: 'changes'; field: string; files: FileItem[]; delete: string[]; opaque: string[] };

export interface ConfigSpec {
  entrypoint?: string[];
  cmd?: string[];
  env: Record<string, string>;
  workingDir?: string;
  user?: string;
  labels: Record<string, string>;
}

export interface ImageSpec {
  /** Absolute path of the spec file. */
  file: string;
  platform: Platform;
  created: string;
  /** `created` in seconds since the epoch: the mtime of every entry. */
  mtime: number;
  layers: LayerSpec[];
  config: ConfigSpec;
}

/** A file system input the spec names; checked after parsing, with the structural problems. */
export interface SpecInput {
  field: string;
  kind: 'file' | 'npmProject' | 'npmInstalled' | 'directory' | 'command';
  path: string;
}

const ROOT = '(spec)';
const LAYER_KINDS = ['base', 'nodeRuntime', 'npm', 'hostBinaries', 'tree'] as const;
/** Layers that copy the host's own programs, so the image must be for the host's platform. */
const HOST_PLATFORM_KINDS: ReadonlyArray<LayerSpec['kind']> = ['nodeRuntime', 'hostBinaries'];
const COMMAND = /^[A-Za-z0-9._+-]+$/;
const CHANGE_KEYS = ['files', 'delete', 'opaque'];
const TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;
const OCTAL_MODE = /^(0o)?[0-7]{1,4}$/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const ARCHITECTURES: Record<string, string> = { x64: 'amd64', arm64: 'arm64', arm: 'arm', ia32: '386', ppc64: 'ppc64le', s390x: 's390x', riscv64: 'riscv64' };

function hostPlatform(): Platform {
  return { os: 'linux', architecture: ARCHITECTURES[process.arch] ?? process.arch };
}

function at(path: string, key: string | number): string {
  if (typeof key === 'number') return `${path}[${key}]`;
  return path === '' ? key : `${path}.${key}`;
}

/** Collects every problem instead of stopping at the first. */
class Checker {
  readonly problems: SpecProblem[] = [];

  problem(path: string, message: string): undefined {
    this.problems.push({ path: path === '' ? ROOT : path, message });
    return undefined;
  }

  record(value: unknown, path: string): Record<string, unknown> | undefined {
    if (typeof value === 'object' && value !== null && !Array.isArray(value)) return value as Record<string, unknown>;
    return this.problem(path, 'expected a mapping');
  }

  /** A mapping with these keys only. */
  mapping(value: unknown, path: string, required: string[], optional: string[]): Record<string, unknown> | undefined {
    const record = this.record(value, path);
    if (!record) return undefined;
    const known = [...required, ...optional];
    for (const key of Object.keys(record)) {
      if (!known.includes(key)) this.problem(at(path, key), `unknown key (expected ${known.length ? known.join(', ') : 'no keys'})`);
    }
    for (const key of required) if (record[key] === undefined) this.problem(at(path, key), 'is required');
    return record;
  }

  /** `{}` or nothing: layer kinds without options. */
  noOptions(value: unknown, path: string): void {
    if (value !== null) this.mapping(value, path, [], []);
  }

  /** Undefined (a missing key, reported by `mapping` when required) is passed over silently. */
  string(value: unknown, path: string): string | undefined {
    if (value === undefined) return undefined;
    if (typeof value === 'string' && value !== '' && !value.includes('\0')) return value;
    return this.problem(path, 'expected a non-empty string');
  }

  list(value: unknown, path: string): unknown[] | undefined {
    return Array.isArray(value) ? value : this.problem(path, 'expected a list');
  }

  stringList(value: unknown, path: string): string[] | undefined {
    const items = this.list(value, path);
    if (!items) return undefined;
    const strings = items.map((item, index) => (typeof item === 'string' ? item : this.problem(at(path, index), 'expected a string')));
    return strings.every((item) => item !== undefined) ? (strings as string[]) : undefined;
  }

  stringMap(value: unknown, path: string, keyPattern?: RegExp): Record<string, string> {
    const result: Record<string, string> = {};
    for (const [key, item] of Object.entries(this.record(value, path) ?? {})) {
      if (keyPattern && !keyPattern.test(key)) this.problem(at(path, key), `expected a name matching ${keyPattern}`);
      else if (typeof item !== 'string') this.problem(at(path, key), 'expected a string (quote numbers and booleans)');
      else result[key] = item;
    }
    return result;
  }

  integer(value: unknown, path: string, min: number, max: number): number | undefined {
    if (typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max) return value;
    return this.problem(path, `expected an integer from ${min} to ${max}`);
  }

  mode(value: unknown, path: string): number | undefined {
    if (typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= 0o7777) return value;
    if (typeof value === 'string' && OCTAL_MODE.test(value)) return Number.parseInt(value.replace(/^0o/, ''), 8);
    return this.problem(path, 'expected a file mode such as 0o755 or "0644"');
  }

  /** An absolute, normalized path inside the image, not `/`, and not a whiteout name. */
  imagePath(value: unknown, path: string): string | undefined {
    const text = this.string(value, path);
    if (text === undefined) return undefined;
    if (!text.startsWith('/') || text === '/' || posix.normalize(text) !== text || text.endsWith('/')) {
      return this.problem(path, 'expected an absolute normalized path such as /app/server.mjs (no .., no trailing /)');
    }
    if (text.split('/').some((part) => part.startsWith('.wh.'))) return this.problem(path, 'expected a path without .wh. names (reserved for whiteouts)');
    return text;
  }
}

function specPlatform(check: Checker, value: unknown): Platform | undefined {
  const text = check.string(value, 'platform');
  if (text === undefined) return undefined;
  let platform: Platform | undefined;
  try {
    platform = parsePlatform(text);
  } catch {
    // reported below
  }
  if (platform?.os !== 'linux') return check.problem('platform', 'expected linux/<architecture>[/<variant>], such as linux/amd64');
  return platform;
}

function parseCreated(check: Checker, value: unknown): { created: string; mtime: number } | undefined {
  if (value === undefined) return { created: '1970-01-01T00:00:00Z', mtime: 0 };
  const millis = typeof value === 'string' && TIMESTAMP.test(value) ? Date.parse(value) : Number.NaN;
  if (!Number.isFinite(millis) || millis < 0) return check.problem('created', 'expected a UTC timestamp such as "2026-01-01T00:00:00Z"');
  return { created: value as string, mtime: Math.floor(millis / 1000) };
}

function parseFileItem(check: Checker, value: unknown, field: string, baseDir: string, inputs: SpecInput[]): FileItem | undefined {
  const kinds = ['source', 'content', 'symlink', 'directory'];
  const item = check.mapping(value, field, ['path'], [...kinds, 'mode', 'uid', 'gid']);
  if (!item) return undefined;
  const given = kinds.filter((kind) => item[kind] !== undefined);
  const path = check.imagePath(item.path, at(field, 'path'));
  const uid = item.uid === undefined ? 0 : check.integer(item.uid, at(field, 'uid'), 0, 2 ** 31 - 1);
  const gid = item.gid === undefined ? 0 : check.integer(item.gid, at(field, 'gid'), 0, 2 ** 31 - 1);
  if (given.length !== 1) return check.problem(field, 'expected exactly one of source, content, symlink, directory');
  const kind = given[0]!;
  if (kind === 'symlink' && item.mode !== undefined) return check.problem(at(field, 'mode'), 'unexpected for a symlink (symlinks have no mode)');
  const mode = item.mode === undefined ? (kind === 'directory' ? 0o755 : 0o644) : check.mode(item.mode, at(field, 'mode'));
  if (path === undefined || uid === undefined || gid === undefined || mode === undefined) return undefined;
  const owned = { field, path, uid, gid };
  switch (kind) {
    case 'source': {
      const source = check.string(item.source, at(field, 'source'));
      if (source === undefined) return undefined;
      inputs.push({ field: at(field, 'source'), kind: 'file', path: resolve(baseDir, source) });
      return { ...owned, type: 'source', source: resolve(baseDir, source), mode };
    }
    case 'content':
      if (typeof item.content !== 'string') return check.problem(at(field, 'content'), 'expected a string');
      return { ...owned, type: 'content', content: item.content, mode };
    case 'symlink': {
      const target = check.string(item.symlink, at(field, 'symlink'));
      return target === undefined ? undefined : { ...owned, type: 'symlink', target };
    }
    default:
      if (item.directory !== true) return check.problem(at(field, 'directory'), 'expected true');
      return { ...owned, type: 'directory', mode };
  }
}

function within(path: string, dir: string): boolean {
  return path === dir || path.startsWith(`${dir}/`);
}

function parseChanges(check: Checker, layer: Record<string, unknown>, field: string, baseDir: string, inputs: SpecInput[]): LayerSpec | undefined {
  const files = (layer.files === undefined ? [] : (check.list(layer.files, at(field, 'files')) ?? [])).map((item, index) =>
    parseFileItem(check, item, at(at(field, 'files'), index), baseDir, inputs),
  );
  const pathList = (key: string): string[] =>
    (layer[key] === undefined ? [] : (check.list(layer[key], at(field, key)) ?? []))
      .map((item, index) => check.imagePath(item, at(at(field, key), index)))
      .filter((item): item is string => item !== undefined);
  const deleted = pathList('delete');
  const opaque = pathList('opaque');
  const valid = files.filter((item): item is FileItem => item !== undefined);
  if (files.length + deleted.length + opaque.length === 0) return check.problem(field, 'expected at least one entry in files, delete or opaque');
  valid.forEach((item, index) => {
    const earlier = valid.slice(0, index).find((other) => other.path === item.path);
    if (earlier) check.problem(at(item.field, 'path'), `duplicate of ${earlier.field}.path`);
    const removed = deleted.find((dir) => within(item.path, dir));
    if (removed) check.problem(at(item.field, 'path'), `inside ${removed}, which this layer deletes (use opaque to replace a directory's contents)`);
    if (item.type !== 'directory' && opaque.includes(item.path)) check.problem(at(item.field, 'path'), `expected a directory: this layer makes ${item.path} opaque`);
  });
  opaque.forEach((dir, index) => {
    if (deleted.includes(dir)) check.problem(at(at(field, 'opaque'), index), `${dir} is also deleted in this layer`);
  });
  return { kind: 'changes', field, files: valid, delete: deleted, opaque };
}

function parseLayer(check: Checker, value: unknown, field: string, baseDir: string, inputs: SpecInput[]): LayerSpec | undefined {
  const layer = check.record(value, field);
  if (!layer) return undefined;
  const kind = LAYER_KINDS.find((name) => name in layer);
  if (kind === undefined) {
    if (!CHANGE_KEYS.some((key) => key in layer)) {
      return check.problem(field, `expected one of ${LAYER_KINDS.join(', ')}, or files/delete/opaque`);
    }
    check.mapping(layer, field, [], CHANGE_KEYS);
    return parseChanges(check, layer, field, baseDir, inputs);
  }
  check.mapping(layer, field, [kind], []);
  const options = layer[kind];
  const optionsField = at(field, kind);
  switch (kind) {
    case 'base':
    case 'nodeRuntime':
      check.noOptions(options, optionsField);
      return { kind, field };
    case 'npm': {
      const npm = check.mapping(options, optionsField, ['project', 'to'], ['installed']);
      const project = check.string(npm?.project, at(optionsField, 'project'));
      const to = check.imagePath(npm?.to, at(optionsField, 'to'));
      const installed = npm?.installed === undefined ? false : typeof npm.installed === 'boolean' ? npm.installed : check.problem(at(optionsField, 'installed'), 'expected true or false');
      if (project !== undefined) inputs.push({ field: at(optionsField, 'project'), kind: installed ? 'npmInstalled' : 'npmProject', path: resolve(baseDir, project) });
      if (project === undefined || to === undefined || installed === undefined) return undefined;
      return { kind, field, project: resolve(baseDir, project), to, ...(installed ? { installed: true as const } : {}) };
    }
    case 'hostBinaries':
      return parseHostBinaries(check, options, field, inputs);
    case 'tree': {
      const tree = check.mapping(options, optionsField, ['source', 'to'], []);
      const source = check.string(tree?.source, at(optionsField, 'source'));
      const to = check.imagePath(tree?.to, at(optionsField, 'to'));
      if (source !== undefined) inputs.push({ field: at(optionsField, 'source'), kind: 'directory', path: resolve(baseDir, source) });
      return source === undefined || to === undefined ? undefined : { kind, field, source: resolve(baseDir, source), to };
    }
  }
}

function parseHostBinaries(check: Checker, options: unknown, field: string, inputs: SpecInput[]): LayerSpec | undefined {
  const optionsField = at(field, 'hostBinaries');
  const commandsField = at(optionsField, 'commands');
  const mapping = check.mapping(options, optionsField, ['commands'], []);
  if (mapping?.commands === undefined) return undefined;
  const commands = check.stringList(mapping.commands, commandsField);
  if (commands === undefined) return undefined;
  if (commands.length === 0) return check.problem(commandsField, 'expected at least one command');
  const valid = commands.filter((command, index) => {
    const path = at(commandsField, index);
    const ok = command.startsWith('/') ? check.imagePath(command, path) !== undefined : COMMAND.test(command) || check.problem(path, 'expected a command name or an absolute path');
    if (ok) inputs.push({ field: path, kind: 'command', path: command });
    return ok;
  });
  return valid.length === commands.length ? { kind: 'hostBinaries', field, commands } : undefined;
}

function parseConfig(check: Checker, value: unknown): ConfigSpec {
  const config = check.mapping(value, 'config', [], ['entrypoint', 'cmd', 'env', 'workingDir', 'user', 'labels']) ?? {};
  const optional = <T>(key: string, parse: (item: unknown, path: string) => T | undefined): T | undefined =>
    config[key] === undefined ? undefined : parse(config[key], at('config', key));
  return {
    entrypoint: optional('entrypoint', (item, path) => check.stringList(item, path)),
    cmd: optional('cmd', (item, path) => check.stringList(item, path)),
    env: optional('env', (item, path) => check.stringMap(item, path, ENV_NAME)) ?? {},
    workingDir: optional('workingDir', (item, path) => check.imagePath(item, path)),
    user: optional('user', (item, path) => check.string(item, path)),
    labels: optional('labels', (item, path) => check.stringMap(item, path)) ?? {},
  };
}

/** Reads a mode written as a plain YAML number (0755, 755) as the octal digits it shows. */
function modesAsOctal(document: ReturnType<typeof parseDocument>): void {
  visit(document, {
    Pair(_, pair) {
      if (!isPair(pair) || !isScalar(pair.key) || pair.key.value !== 'mode' || !isScalar(pair.value)) return;
      const scalar = pair.value;
      if (typeof scalar.value === 'number' && scalar.format !== 'OCT' && scalar.format !== 'HEX' && scalar.source !== undefined) {
        scalar.value = scalar.source;
      }
    },
  });
}

/** Parses and checks a spec's text (no file system access); `file` anchors relative paths. */
export function parseImageSpec(text: string, file: string): { spec: ImageSpec | undefined; problems: SpecProblem[]; inputs: SpecInput[] } {
  const check = new Checker();
  const inputs: SpecInput[] = [];
  const document = parseDocument(text);
  if (document.errors.length > 0) {
    for (const error of document.errors) check.problem(ROOT, `invalid YAML: ${error.message.split('\n')[0]}`);
    return { spec: undefined, problems: check.problems, inputs };
  }
  modesAsOctal(document);
  const root = check.mapping(document.toJS(), '', ['platform', 'layers'], ['created', 'config']);
  if (!root) return { spec: undefined, problems: check.problems, inputs };
  const baseDir = dirname(resolve(file));
  const platform = specPlatform(check, root.platform);
  const created = parseCreated(check, root.created);
  const layerValues = root.layers === undefined ? [] : (check.list(root.layers, 'layers') ?? []);
  if (Array.isArray(root.layers) && layerValues.length === 0) check.problem('layers', 'expected at least one layer');
  const layers = layerValues.map((layer, index) => parseLayer(check, layer, at('layers', index), baseDir, inputs));
  const config = parseConfig(check, root.config ?? {});
  if (check.problems.length > 0 || !platform || !created) return { spec: undefined, problems: check.problems, inputs };
  return {
    spec: { file: resolve(file), platform, ...created, layers: layers as LayerSpec[], config },
    problems: [],
    inputs,
  };
}

async function isFile(path: string): Promise<boolean> {
  return (await stat(path).catch(() => undefined))?.isFile() === true;
}

async function isDirectory(path: string): Promise<boolean> {
  return (await stat(path).catch(() => undefined))?.isDirectory() === true;
}

/** What an npm project must hold: package.json and, to be installed, package-lock.json or, installed already, node_modules. */
async function npmProjectProblem(input: SpecInput): Promise<SpecProblem | undefined> {
  const missing = [];
  if (!(await isFile(join(input.path, 'package.json')))) missing.push('package.json');
  if (input.kind === 'npmProject' && !(await isFile(join(input.path, 'package-lock.json')))) missing.push('package-lock.json');
  if (input.kind === 'npmInstalled' && !(await isDirectory(join(input.path, 'node_modules')))) missing.push('node_modules (run npm ci there first)');
  return missing.length === 0 ? undefined : { path: input.field, message: `expected a directory with ${missing.join(' and ')} (${input.path})` };
}

async function inputProblem(input: SpecInput): Promise<SpecProblem | undefined> {
  switch (input.kind) {
    case 'file':
      return (await isFile(input.path)) ? undefined : { path: input.field, message: `expected a readable file (${input.path})` };
    case 'directory':
      return (await isDirectory(input.path)) ? undefined : { path: input.field, message: `expected a directory (${input.path})` };
    case 'command': {
      const path = hostCommandPath(input.path);
      return path !== undefined && (await isFile(path)) ? undefined : { path: input.field, message: `expected a program on this host (${input.path} is not on PATH)` };
    }
    case 'npmProject':
    case 'npmInstalled':
      return npmProjectProblem(input);
  }
}

function specError(file: string, problems: SpecProblem[]): McpWarmError {
  const lines = problems.map((problem) => `  ${problem.path}: ${problem.message}`);
  return new McpWarmError('BUILD_SPEC_INVALID', `image spec ${file} has ${problems.length} problem${problems.length === 1 ? '' : 's'}:\n${lines.join('\n')}`, {
    details: { file, problems },
  });
}

/** Reads, parses and checks a spec file and the inputs it names; one BUILD_SPEC_INVALID lists every problem. */
export async function loadImageSpec(file: string): Promise<ImageSpec> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw specError(file, [{ path: ROOT, message: `expected a readable spec file (${(error as Error).message})` }]);
  }
  const parsed = parseImageSpec(text, file);
  const problems = [...parsed.problems];
  for (const input of parsed.inputs) {
    const problem = await inputProblem(input);
    if (problem) problems.push(problem);
  }
  const host = hostPlatform();
  const hostLayer = parsed.spec?.layers.find((layer) => HOST_PLATFORM_KINDS.includes(layer.kind));
  if (hostLayer !== undefined && parsed.spec!.platform.architecture !== host.architecture) {
    problems.push({ path: 'platform', message: `expected the host platform ${host.os}/${host.architecture}: ${hostLayer.kind} copies the host's binaries` });
  }
  if (problems.length > 0 || !parsed.spec) throw specError(file, problems);
  return parsed.spec;
}
