/**
 * Kernel rate shaping with `tc` (needs root and iproute2), two ways.
 *
 * A device of mcpwarm's own (one end of a link's veth pair) gets a tbf root qdisc, which goes
 * with the device.
 *
 * One loopback port gets an htb class at the link's bandwidth per direction, with u32 filters on
 * the port as source (bytes the service sends) and as destination (bytes it receives). The root
 * htb qdisc on `lo` is shared by every shaped port: unclassified traffic passes it unshaped, it is
 * created by the first port and removed with the last, under a lock directory so concurrent runs
 * do not race on it.
 *
 * This kernel has no netem, so delay is added by the shaping proxy, not here.
 */
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { findExecutable, isProcessAlive, run } from '../../runner/exec.js';

const DEVICE = 'lo';
const ROOT_HANDLE = '1:';
const LOCK_DIR = '/run/mcpwarm-tc-lo.lock';
/** Class minors (and filter priorities) this module uses; 1:1..1:9 are left alone. */
const FIRST_MINOR = 0x10;
const LAST_MINOR = 0xfff0;

export interface TcShapedPort {
  port: number;
  /** The htb classes (download, upload), for `tc -s class show dev lo`. */
  classIds: [string, string];
  remove(): Promise<void>;
}

/** Why kernel shaping cannot be used here, or undefined when it can. */
export function tcUnavailableReason(): string | undefined {
  if (process.getuid?.() !== 0) return 'not root';
  if (findExecutable('tc') === undefined) return 'tc (iproute2) is not installed';
  return undefined;
}

async function withLock<T>(body: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      await mkdir(LOCK_DIR);
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      // A holder that died leaves its lock behind: take it over.
      const holder = Number(await readFile(`${LOCK_DIR}/pid`, 'utf8').catch(() => 'NaN'));
      if (Number.isInteger(holder) && !isProcessAlive(holder)) await rm(LOCK_DIR, { recursive: true, force: true });
      else if (Date.now() > deadline) throw new Error(`${LOCK_DIR} is held by pid ${holder}`);
      else await sleep(20);
    }
  }
  await writeFile(`${LOCK_DIR}/pid`, String(process.pid));
  try {
    return await body();
  } finally {
    await rm(LOCK_DIR, { recursive: true, force: true });
  }
}

function tc(args: string[]): Promise<string> {
  return run(findExecutable('tc') ?? 'tc', args);
}

/** Minors of the htb classes under the shared root. */
async function usedMinors(): Promise<Set<number>> {
  const out = await tc(['class', 'show', 'dev', DEVICE]);
  return new Set([...out.matchAll(/class htb 1:([0-9a-f]+)/g)].map((m) => Number.parseInt(m[1]!, 16)));
}

async function ensureRootQdisc(): Promise<void> {
  const out = await tc(['qdisc', 'show', 'dev', DEVICE]);
  if (/qdisc htb 1: root/.test(out)) return;
  if (/ root /.test(out) && !/qdisc noqueue 0: root/.test(out)) {
    throw new Error(`${DEVICE} already has a root qdisc that is not mcpwarm's: ${out.trim()}`);
  }
  // No `default`: unclassified traffic goes straight through, unshaped.
  await tc(['qdisc', 'add', 'dev', DEVICE, 'root', 'handle', ROOT_HANDLE, 'htb']);
}

function freeMinors(used: Set<number>): [number, number] {
  for (let minor = FIRST_MINOR; minor < LAST_MINOR; minor += 2) {
    if (!used.has(minor) && !used.has(minor + 1)) return [minor, minor + 1];
  }
  throw new Error(`no free htb class under ${DEVICE} ${ROOT_HANDLE}`);
}

/** Limits `port`'s traffic on loopback to `bitsPerSecond` each way. */
export async function shapePort(port: number, bitsPerSecond: number): Promise<TcShapedPort> {
  const rate = `${Math.round(bitsPerSecond)}bit`;
  const classes: Array<{ minor: number; match: 'sport' | 'dport' }> = [];
  await withLock(async () => {
    await ensureRootQdisc();
    const [down, up] = freeMinors(await usedMinors());
    for (const [minor, match] of [[down, 'sport'], [up, 'dport']] as const) {
      const classId = `1:${minor.toString(16)}`;
      // A quantum of one loopback packet (64 KiB with segmentation offload) keeps htb from warning.
      await tc(['class', 'add', 'dev', DEVICE, 'parent', ROOT_HANDLE, 'classid', classId, 'htb', 'rate', rate, 'ceil', rate, 'quantum', '65536']);
      classes.push({ minor, match });
      // The class minor doubles as the filter's priority, so the filter can be deleted alone.
      await tc(['filter', 'add', 'dev', DEVICE, 'parent', ROOT_HANDLE, 'protocol', 'ip', 'prio', String(minor), 'u32', 'match', 'ip', match, String(port), '0xffff', 'flowid', classId]);
    }
  }).catch(async (error: unknown) => {
    await removeClasses(classes.map((c) => c.minor));
    throw error;
  });
  return {
    port,
    classIds: classes.map((c) => `1:${c.minor.toString(16)}`) as [string, string],
    remove: () => removeClasses(classes.map((c) => c.minor)),
  };
}

async function removeClasses(minors: number[]): Promise<void> {
  if (minors.length === 0) return;
  await withLock(async () => {
    for (const minor of minors) {
      await tc(['filter', 'del', 'dev', DEVICE, 'parent', ROOT_HANDLE, 'protocol', 'ip', 'prio', String(minor)]).catch(() => undefined);
      await tc(['class', 'del', 'dev', DEVICE, 'classid', `1:${minor.toString(16)}`]).catch(() => undefined);
    }
    if ((await usedMinors()).size === 0) await tc(['qdisc', 'del', 'dev', DEVICE, 'root']).catch(() => undefined);
  });
}

/** The htb classes on `lo` now (for checks that shaping left nothing behind). */
export async function loopbackShaping(): Promise<{ rootQdisc: boolean; classes: number }> {
  const qdisc = await tc(['qdisc', 'show', 'dev', DEVICE]);
  return { rootQdisc: /qdisc htb 1: root/.test(qdisc), classes: (await usedMinors()).size };
}

/**
 * Limits what `device` sends to `bitsPerSecond` with a tbf root qdisc (inside network namespace
 * `namespace` when given). The device must be mcpwarm's own: the qdisc is removed with it.
 */
export async function limitDeviceRate(device: string, bitsPerSecond: number, namespace?: string): Promise<void> {
  const bytesPerSecond = bitsPerSecond / 8;
  // A burst of 1 ms at the rate (at least a few full-size packets, which tbf needs to pass one),
  // and a queue of 100 ms: enough for TCP to keep the link busy, small enough to add little delay.
  const burst = Math.max(16 * 1024, Math.ceil(bytesPerSecond / 1000));
  const limit = Math.max(4 * burst, Math.ceil(bytesPerSecond / 10));
  await tc([...(namespace === undefined ? [] : ['-n', namespace]), 'qdisc', 'add', 'dev', device, 'root', 'tbf', 'rate', `${Math.round(bitsPerSecond)}bit`, 'burst', String(burst), 'limit', String(limit)]);
}

/** The rate of `device`'s tbf root qdisc in bits per second, or undefined when it has none. */
export async function deviceRateLimit(device: string, namespace?: string): Promise<number | undefined> {
  const out = await tc([...(namespace === undefined ? [] : ['-n', namespace]), '-j', 'qdisc', 'show', 'dev', device]);
  const root = (JSON.parse(out) as Array<{ kind: string; root?: boolean; options?: { rate?: number } }>).find((q) => q.root === true && q.kind === 'tbf');
  return root?.options?.rate === undefined ? undefined : root.options.rate * 8;
}
