/** The token the controller's runners require: made once per state directory and kept, so a restarted controller can still reach the runners it finds. */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export async function runnerToken(stateDir: string): Promise<string> {
  const path = join(stateDir, 'runner-token');
  try {
    return (await readFile(path, 'utf8')).trim();
  } catch {
    await mkdir(stateDir, { recursive: true });
    const token = randomBytes(24).toString('base64url');
    await writeFile(path, token, { mode: 0o600, flag: 'wx' }).catch(async () => undefined);
    return (await readFile(path, 'utf8')).trim();
  }
}
