/**
 * A runner agent for fault tests, started by the process substrate in place of `mcpwarm agent`
 * (same flags, plus `--hang-tokens=DIR` first). Each start takes one token file from DIR, if any
 * is left, and then runs an agent that is ready (GET /ready answers 200) but accepts
 * `POST /activate` and never answers it; with no token left it runs the real agent. So a test
 * decides how many of the next runners hang by how many tokens it puts in DIR.
 */
import { readdirSync, renameSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';

const HANG_TOKENS = '--hang-tokens=';

/** Takes one token (renaming it is atomic: of concurrent starts, one wins each token). */
function takeToken(dir: string): boolean {
  for (const name of readdirSync(dir).filter((entry) => entry.startsWith('hang-'))) {
    try {
      renameSync(join(dir, name), join(dir, `taken-${name}-${process.pid}`));
      return true;
    } catch {
      // Taken by another start meanwhile: try the next one.
    }
  }
  return false;
}

function flag(args: string[], name: string): string | undefined {
  return args.find((arg) => arg.startsWith(`--${name}=`))?.slice(name.length + 3);
}

const args = process.argv.slice(2);
const tokens = flag(args, 'hang-tokens');
const agentArgs = args.filter((arg) => !arg.startsWith(HANG_TOKENS));

if (tokens !== undefined && takeToken(tokens)) {
  const server = createServer((req, res) => {
    if (req.method === 'GET' && req.url === '/ready') {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"ready":true}');
      return;
    }
    // Accepted, read, and never answered.
    req.resume();
  });
  server.listen(Number(flag(agentArgs, 'port') ?? 0), flag(agentArgs, 'host') ?? '127.0.0.1', () => {
    const address = server.address() as { address: string; port: number };
    process.stdout.write(`agent listening on http://${address.address}:${address.port} (hanging on POST /activate)\n`);
  });
} else {
  process.argv = [process.argv[0]!, process.argv[1]!, 'agent', ...agentArgs];
  await import('../../harness/cli/main.js');
}
