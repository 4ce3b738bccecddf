/**
 * `mcpwarm proxy` as a user runs it: bad flags exit 2 with USAGE_INVALID; a command that cannot
 * start fails with a coded error and leaves nothing running; SIGTERM stops every backend and
 * exits 0. Backends carry a marker argument, so a leftover is found wherever it was reparented.
 */
import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli } from './support/cli.js';
import { processesMentioning } from './support/processes.js';
import { startProxyCli, type ProxyCli } from './support/proxy-cli.js';
import { callTool, FIXTURE_SERVER, messagesOf, post, rawSession, until } from './support/proxy-harness.js';

const marker = () => `--proxy-test-${randomBytes(6).toString('hex')}`;

const started: ProxyCli[] = [];
afterEach(async () => {
  // A failed test must not leave its proxy running: SIGTERM stops its backends with it.
  for (const cli of started.splice(0)) {
    if (cli.child.exitCode !== null || cli.child.signalCode !== null) continue;
    cli.child.kill('SIGTERM');
    await cli.exited;
  }
});

describe('mcpwarm proxy', () => {
  it('refuses bad flags with USAGE_INVALID and exit 2', async () => {
    const cases = [
      ['proxy', '--strategy', 'fastest', '--', 'node', FIXTURE_SERVER],
      ['proxy', '--strategy', 's-rard', '--backends', '3', '--max-queue', '-1', '--', 'node', FIXTURE_SERVER],
      ['proxy', '--strategy', 's-rard', '--image', 'x', '--', 'node', FIXTURE_SERVER],
    ];
    const results = await Promise.all(cases.map(([command, ...args]) => runCli([command!, '--json', ...args])));
    for (const [index, result] of results.entries()) {
      expect(result.code, `${cases[index]!.join(' ')}: ${result.stderr}`).toBe(2);
      expect(result.stderr).toMatch(/error USAGE_INVALID/);
    }
    expect(results[1]!.json).toMatchObject({
      error: { code: 'USAGE_INVALID', details: { problems: ['--backends: only p-rard has a pool of backends (s-rard decides its own)', '--max-queue: expected a whole number from 0 up, not -1'] } },
    });
  });

  it('fails with a coded error when the command cannot start, leaving nothing running', async () => {
    const missing = await runCli(['proxy', '--strategy', 'p-rard', '--port', '0', '--json', '--', '/no/such/server']);
    expect(missing.code).toBe(2);
    expect(missing.json).toMatchObject({ error: { code: 'ENTRYPOINT_NOT_FOUND' } });

    const tag = marker();
    const exits = await runCli(['proxy', '--strategy', 'p-rard', '--backends', '3', '--port', '0', '--json', '--', process.execPath, FIXTURE_SERVER, tag], {
      FIXTURE_EXIT_AT_START: '3',
    });
    expect(exits.code).toBe(1);
    expect(exits.json).toMatchObject({ error: { code: 'SERVER_EXITED', message: expect.stringMatching(/exited \(exit code 3\) before it was ready/) } });
    expect(await processesMentioning(tag)).toEqual([]);
  });

  it('serves MCP until SIGTERM, then stops every backend and exits 0', async () => {
    const tag = marker();
    const cli = await startProxyCli(['--strategy', 'p-rard', '--backends', '2', '--port', '0', '--json', '--', process.execPath, FIXTURE_SERVER, tag]);
    started.push(cli);
    await until(() => cli.stdout().endsWith('}\n'), 'the JSON document on stdout');
    expect(JSON.parse(cli.stdout())).toMatchObject({ url: cli.url, mcp: `${cli.url}/mcp`, strategy: 'p-rard' });
    // The backends, besides the CLI itself (whose command line holds the tag too).
    expect((await processesMentioning(tag)).filter((found) => found.pid !== cli.child.pid)).toHaveLength(2);
    const url = new URL(`${cli.url}/mcp`);
    const session = await rawSession(url);
    const inFlight = post(url, callTool(1, 'work', { latencyMs: 10_000 }), { 'mcp-session-id': session, accept: 'application/json' });
    expect(await messagesOf(await post(url, callTool(2, 'echo', { text: 'via the CLI' }), { 'mcp-session-id': session }))).toMatchObject([
      { id: 2, result: { content: [{ text: 'via the CLI' }] } },
    ]);
    cli.child.kill('SIGTERM');
    expect(await cli.exited).toBe(0);
    // The request in flight was given up with an answer, not dropped.
    expect(await (await inFlight).json()).toMatchObject({ id: 1, error: { message: expect.stringMatching(/cancelled/) } });
    await until(async () => (await processesMentioning(tag)).length === 0, 'the backends to be gone');
    expect(cli.stderr()).toMatch(/SIGTERM: stopping every backend/);
  });
});
