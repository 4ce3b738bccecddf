import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { caught } from '../../../test/support/caught.js';
import { loadImageSpec, parseImageSpec, type SpecProblem } from './spec.js';

const SPEC = '/specs/test.image.yaml';
const IMAGES_DIR = fileURLToPath(new URL('../../../scenarios/images/', import.meta.url));

function problemsOf(text: string): SpecProblem[] {
  return parseImageSpec(text, SPEC).problems;
}

function specOf(text: string) {
  const { spec, problems } = parseImageSpec(text, SPEC);
  expect(problems).toEqual([]);
  return spec!;
}

describe('parseImageSpec', () => {
  it('parses every layer kind and the config, resolving inputs against the spec file', () => {
    const spec = specOf(`
platform: linux/arm64/v8
created: "2026-01-01T00:00:00Z"
layers:
  - base: {}
  - nodeRuntime:
  - npm: { project: npm/everything, to: /app }
  - files:
      - { path: /app/server.mjs, source: ../server.mjs, mode: 0o755 }
      - { path: /etc/motd, content: "hello\\n" }
      - { path: /app/current, symlink: server.mjs }
      - { path: /data, directory: true, uid: 1000, gid: 1000 }
    delete: [/app/old.txt]
    opaque: [/app/cache]
config:
  entrypoint: [/usr/local/bin/node, /app/server.mjs]
  cmd: []
  env: { NODE_ENV: production }
  workingDir: /app
  user: "1000:1000"
`);
    expect(spec.platform).toEqual({ os: 'linux', architecture: 'arm64', variant: 'v8' });
    expect(spec.mtime).toBe(Date.UTC(2026, 0, 1) / 1000);
    expect(spec.layers.map((layer) => layer.kind)).toEqual(['base', 'nodeRuntime', 'npm', 'changes']);
    expect(spec.layers[2]).toEqual({ kind: 'npm', field: 'layers[2]', project: '/specs/npm/everything', to: '/app' });
    expect(spec.layers[3]).toEqual({
      kind: 'changes',
      field: 'layers[3]',
      files: [
        { field: 'layers[3].files[0]', path: '/app/server.mjs', uid: 0, gid: 0, type: 'source', source: '/server.mjs', mode: 0o755 },
        { field: 'layers[3].files[1]', path: '/etc/motd', uid: 0, gid: 0, type: 'content', content: 'hello\n', mode: 0o644 },
        { field: 'layers[3].files[2]', path: '/app/current', uid: 0, gid: 0, type: 'symlink', target: 'server.mjs' },
        { field: 'layers[3].files[3]', path: '/data', uid: 1000, gid: 1000, type: 'directory', mode: 0o755 },
      ],
      delete: ['/app/old.txt'],
      opaque: ['/app/cache'],
    });
    expect(spec.config).toEqual({
      entrypoint: ['/usr/local/bin/node', '/app/server.mjs'],
      cmd: [],
      env: { NODE_ENV: 'production' },
      workingDir: '/app',
      user: '1000:1000',
      labels: {},
    });
  });

  it('parses hostBinaries and tree layers', () => {
    const spec = specOf(`
platform: linux/amd64
layers:
  - hostBinaries: { commands: [sh, mount, /bin/sh] }
  - tree: { source: ../dist, to: /opt/app/dist }
  - npm: { project: .., to: /opt/app, installed: true }
  - npm: { project: npm/x, to: /app, installed: false }
`);
    expect(spec.layers).toEqual([
      { kind: 'hostBinaries', field: 'layers[0]', commands: ['sh', 'mount', '/bin/sh'] },
      { kind: 'tree', field: 'layers[1]', source: '/dist', to: '/opt/app/dist' },
      { kind: 'npm', field: 'layers[2]', project: '/', to: '/opt/app', installed: true },
      { kind: 'npm', field: 'layers[3]', project: '/specs/npm/x', to: '/app' },
    ]);
  });

  it('reports bad hostBinaries and tree layers with their field paths', () => {
    expect(
      problemsOf(`
platform: linux/amd64
layers:
  - hostBinaries: { commands: [] }
  - hostBinaries: { commands: ["sh -c", /usr/../bin/sh, 42] }
  - hostBinaries: {}
  - tree: { source: dist, to: opt }
  - tree: { to: /opt, extra: 1 }
  - npm: { project: x, to: /app, installed: "yes" }
`),
    ).toEqual([
      { path: 'layers[0].hostBinaries.commands', message: 'expected at least one command' },
      { path: 'layers[1].hostBinaries.commands[2]', message: 'expected a string' },
      { path: 'layers[2].hostBinaries.commands', message: 'is required' },
      { path: 'layers[3].tree.to', message: 'expected an absolute normalized path such as /app/server.mjs (no .., no trailing /)' },
      { path: 'layers[4].tree.extra', message: 'unknown key (expected source, to)' },
      { path: 'layers[4].tree.source', message: 'is required' },
      { path: 'layers[5].npm.installed', message: 'expected true or false' },
    ]);
    expect(problemsOf('platform: linux/amd64\nlayers:\n  - hostBinaries: { commands: ["sh -c", /usr/../bin/sh] }\n')).toEqual([
      { path: 'layers[0].hostBinaries.commands[0]', message: 'expected a command name or an absolute path' },
      {
        path: 'layers[0].hostBinaries.commands[1]',
        message: 'expected an absolute normalized path such as /app/server.mjs (no .., no trailing /)',
      },
    ]);
  });

  it('defaults created to the epoch', () => {
    const spec = specOf('platform: linux/amd64\nlayers: [{base: {}}]\n');
    expect(spec).toMatchObject({ created: '1970-01-01T00:00:00Z', mtime: 0 });
  });

  it('reads modes as octal however they are written', () => {
    const modes = ['0o750', '0750', '750', '"0750"', '"750"'].map((mode) => {
      const spec = specOf(`platform: linux/amd64\nlayers:\n  - files: [{ path: /a, content: x, mode: ${mode} }]\n`);
      return spec.layers[0]!.kind === 'changes' ? (spec.layers[0].files[0] as { mode: number }).mode : undefined;
    });
    expect(modes).toEqual([0o750, 0o750, 0o750, 0o750, 0o750]);
    expect(problemsOf('platform: linux/amd64\nlayers:\n  - files: [{ path: /a, content: x, mode: 0o17777 }]\n')).toEqual([
      { path: 'layers[0].files[0].mode', message: 'expected a file mode such as 0o755 or "0644"' },
    ]);
  });

  it('reports every problem at once, each with its field path', () => {
    const problems = problemsOf(`
platform: windows/amd64
created: yesterday
colour: blue
layers:
  - base: { users: [] }
  - npm: { project: npm/x }
  - files:
      - { path: app/relative, content: x }
      - { path: /a, content: x, source: y }
      - { path: /b/../c, symlink: x, mode: 0o755 }
      - { path: /dup, content: x }
      - { path: /dup, content: y }
      - { path: /gone/inner, content: x }
      - { path: /x/.wh.y, content: x }
    delete: [/gone]
  - nodeRuntime: {}
    npm: {}
  - {}
config:
  entrypoint: /app/server.mjs
  env: { PORT: 3000, "bad-name": x }
  user: ""
`);
    expect(problems).toEqual([
      { path: 'colour', message: 'unknown key (expected platform, layers, created, config)' },
      { path: 'platform', message: 'expected linux/<architecture>[/<variant>], such as linux/amd64' },
      { path: 'created', message: 'expected a UTC timestamp such as "2026-01-01T00:00:00Z"' },
      { path: 'layers[0].base.users', message: 'unknown key (expected no keys)' },
      { path: 'layers[1].npm.to', message: 'is required' },
      {
        path: 'layers[2].files[0].path',
        message: 'expected an absolute normalized path such as /app/server.mjs (no .., no trailing /)',
      },
      { path: 'layers[2].files[1]', message: 'expected exactly one of source, content, symlink, directory' },
      {
        path: 'layers[2].files[2].path',
        message: 'expected an absolute normalized path such as /app/server.mjs (no .., no trailing /)',
      },
      { path: 'layers[2].files[2].mode', message: 'unexpected for a symlink (symlinks have no mode)' },
      { path: 'layers[2].files[6].path', message: 'expected a path without .wh. names (reserved for whiteouts)' },
      { path: 'layers[2].files[4].path', message: 'duplicate of layers[2].files[3].path' },
      {
        path: 'layers[2].files[5].path',
        message: "inside /gone, which this layer deletes (use opaque to replace a directory's contents)",
      },
      { path: 'layers[3].npm', message: 'unknown key (expected nodeRuntime)' },
      { path: 'layers[4]', message: 'expected one of base, nodeRuntime, npm, hostBinaries, tree, or files/delete/opaque' },
      { path: 'config.entrypoint', message: 'expected a list' },
      { path: 'config.env.PORT', message: 'expected a string (quote numbers and booleans)' },
      { path: 'config.env.bad-name', message: 'expected a name matching /^[A-Za-z_][A-Za-z0-9_]*$/' },
      { path: 'config.user', message: 'expected a non-empty string' },
    ]);
  });

  it('reports missing top-level keys, empty layer lists and YAML errors', () => {
    expect(problemsOf('{}')).toEqual([
      { path: 'platform', message: 'is required' },
      { path: 'layers', message: 'is required' },
    ]);
    expect(problemsOf('platform: linux/amd64\nlayers: []\n')).toEqual([{ path: 'layers', message: 'expected at least one layer' }]);
    expect(problemsOf('- a list')).toEqual([{ path: '(spec)', message: 'expected a mapping' }]);
    const [yamlProblem] = problemsOf('platform: linux/amd64\nplatform: linux/arm64\n');
    expect(yamlProblem).toMatchObject({ path: '(spec)', message: expect.stringMatching(/^invalid YAML: Map keys must be unique/) });
  });

  it('rejects conflicting whiteouts in one layer', () => {
    expect(
      problemsOf(`
platform: linux/amd64
layers:
  - files: [{ path: /cache, content: x }]
    delete: [/old]
    opaque: [/cache, /old]
  - files: []
`),
    ).toEqual([
      { path: 'layers[0].files[0].path', message: 'expected a directory: this layer makes /cache opaque' },
      { path: 'layers[0].opaque[1]', message: '/old is also deleted in this layer' },
      { path: 'layers[1]', message: 'expected at least one entry in files, delete or opaque' },
    ]);
  });
});

describe('loadImageSpec', () => {
  let dir: string | undefined;
  afterEach(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
    dir = undefined;
  });

  it('adds the problems of missing inputs to the structural ones in one BUILD_SPEC_INVALID', async () => {
    dir = await mkdtemp(join(tmpdir(), 'spec-test-'));
    await mkdir(join(dir, 'npm', 'nolock'), { recursive: true });
    await writeFile(join(dir, 'npm', 'nolock', 'package.json'), '{}');
    const file = join(dir, 'bad.image.yaml');
    await writeFile(
      file,
      `platform: linux/amd64
layers:
  - files: [{ path: /a, source: missing.txt }]
  - npm: { project: npm/nolock, to: /app }
  - npm: { project: npm/absent, to: /srv }
config: { workingDir: relative }
`,
    );
    const { code, message, details } = await caught(loadImageSpec(file));
    expect(code).toBe('BUILD_SPEC_INVALID');
    expect(details?.problems).toEqual([
      {
        path: 'config.workingDir',
        message: 'expected an absolute normalized path such as /app/server.mjs (no .., no trailing /)',
      },
      { path: 'layers[0].files[0].source', message: `expected a readable file (${join(dir, 'missing.txt')})` },
      { path: 'layers[1].npm.project', message: `expected a directory with package-lock.json (${join(dir, 'npm', 'nolock')})` },
      {
        path: 'layers[2].npm.project',
        message: `expected a directory with package.json and package-lock.json (${join(dir, 'npm', 'absent')})`,
      },
    ]);
    expect(message).toContain('has 4 problems:\n  config.workingDir: expected an absolute');
  });

  it('checks that tree sources are directories and hostBinaries commands exist on this host', async () => {
    dir = await mkdtemp(join(tmpdir(), 'spec-test-'));
    await writeFile(join(dir, 'not-a-dir'), 'x');
    const file = join(dir, 'host.image.yaml');
    await writeFile(
      file,
      `platform: linux/amd64
layers:
  - hostBinaries: { commands: [sh, mcpwarm-no-such-command, /nonexistent/bin/tool] }
  - tree: { source: not-a-dir, to: /a }
  - tree: { source: absent, to: /b }
  - tree: { source: ., to: /c }
  - npm: { project: ., to: /app, installed: true }
`,
    );
    const { code, details } = await caught(loadImageSpec(file));
    expect(code).toBe('BUILD_SPEC_INVALID');
    expect(details?.problems).toEqual([
      { path: 'layers[0].hostBinaries.commands[1]', message: 'expected a program on this host (mcpwarm-no-such-command is not on PATH)' },
      { path: 'layers[0].hostBinaries.commands[2]', message: 'expected a program on this host (/nonexistent/bin/tool is not on PATH)' },
      { path: 'layers[1].tree.source', message: `expected a directory (${join(dir, 'not-a-dir')})` },
      { path: 'layers[2].tree.source', message: `expected a directory (${join(dir, 'absent')})` },
      { path: 'layers[4].npm.project', message: `expected a directory with package.json and node_modules (run npm ci there first) (${dir})` },
    ]);
  });

  it('refuses a foreign platform for hostBinaries, which copies host programs', async () => {
    dir = await mkdtemp(join(tmpdir(), 'spec-test-'));
    const file = join(dir, 'foreign.image.yaml');
    const foreign = process.arch === 'arm64' ? 'linux/amd64' : 'linux/arm64';
    await writeFile(file, `platform: ${foreign}\nlayers:\n  - hostBinaries: { commands: [sh] }\n`);
    const { details } = await caught(loadImageSpec(file));
    expect(details?.problems).toEqual([{ path: 'platform', message: expect.stringMatching(/^expected the host platform linux\/\w+: hostBinaries copies the host's binaries$/) }]);
  });

  it('loads every shipped image spec', async () => {
    const specs = (await readdir(IMAGES_DIR)).filter((name) => name.endsWith('.image.yaml'));
    expect(specs.sort()).toEqual([
      'controller.image.yaml',
      'everything.image.yaml',
      'filesystem.image.yaml',
      'fixture.image.yaml',
      'layered-whiteouts.image.yaml',
      'memory.image.yaml',
      'runner.image.yaml',
    ]);
    for (const name of specs) await expect(loadImageSpec(join(IMAGES_DIR, name))).resolves.toMatchObject({ platform: { os: 'linux' } });
  });
});
