/**
 * The runner image, built by the project's own image builder from scenarios/images/runner.image.yaml
 * (FROM scratch: the Node runtime, the host programs the agent's sandboxes need, the production
 * packages and the compiled CLI) and loaded into the engine as a `docker load` archive, so no
 * registry is involved. Its tag is the fingerprint of everything the build reads: an unchanged
 * tree is found in the engine and neither rebuilt nor loaded again.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import type Docker from 'dockerode';
import { McpWarmError } from '../../errors.js';
import { digestHex } from '../../oci/digest.js';
import { buildImage } from '../../oci/build/builder.js';
import { dockerArchiveStream } from '../../oci/build/docker-archive.js';
import { specFingerprint } from '../../oci/build/fingerprint.js';
import { dockerClient, engineCall, engineCallIfPresent } from './engine.js';

export const RUNNER_IMAGE_REPOSITORY = 'mcpwarm-runner';
const TAG_HEX_LENGTH = 16;

export interface RunnerImageOptions {
  socketPath: string;
  /** The image spec (default: the shipped scenarios/images/runner.image.yaml). */
  spec?: string;
}

export interface RunnerImage {
  /** `mcpwarm-runner:<fingerprint>`, as containers name it. */
  tag: string;
  /** The engine's image id (the config's digest). */
  imageId: string;
  /** False when the engine had it already. */
  loaded: boolean;
  /** Time to fingerprint the inputs, and to build and load when it was not there. */
  phases: { fingerprintMs: number; buildMs?: number; loadMs?: number };
}

/** The directory of this package (the one with its package.json), from the source tree or dist/. */
function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json')) || (JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string }).name !== 'mcpwarm') {
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`no mcpwarm package.json above ${fileURLToPath(import.meta.url)}`);
    dir = parent;
  }
  return dir;
}

export function defaultRunnerSpec(): string {
  return join(packageRoot(), 'scenarios', 'images', 'runner.image.yaml');
}

/** Reads a `docker load` answer to its end; the engine reports failures inside it, with HTTP 200. */
function loadOutcome(docker: Docker, stream: NodeJS.ReadableStream): Promise<void> {
  return new Promise((resolve, reject) => {
    docker.modem.followProgress(stream, (error: Error | null, messages: Array<{ error?: string }>) => {
      const failed = error?.message ?? messages.find((message) => message.error !== undefined)?.error;
      if (failed === undefined) resolve();
      else reject(new McpWarmError('SUBSTRATE_FAILED', `docker load of the runner image failed: ${failed}`));
    });
  });
}

/** This tree's runner image tag: the repository (`mcpwarm-runner`) and the fingerprint of what the build reads. */
async function runnerImageTag(spec: string, repository = RUNNER_IMAGE_REPOSITORY): Promise<string> {
  return `${repository}:${digestHex(await specFingerprint(spec)).slice(0, TAG_HEX_LENGTH)}`;
}

/** The runner image in the engine: found by its fingerprint tag, else built and loaded. */
export async function ensureRunnerImage(options: RunnerImageOptions): Promise<RunnerImage> {
  const { socketPath } = options;
  const docker = dockerClient(socketPath);
  await engineCall(socketPath, 'ping', () => docker.ping());
  const spec = options.spec ?? defaultRunnerSpec();
  let start = performance.now();
  const tag = await runnerImageTag(spec);
  const fingerprintMs = performance.now() - start;
  const existing = await engineCallIfPresent(socketPath, `inspecting image ${tag}`, () => docker.getImage(tag).inspect());
  if (existing !== undefined) return { tag, imageId: existing.Id, loaded: false, phases: { fingerprintMs } };

  start = performance.now();
  const image = await buildImage(spec);
  try {
    const buildMs = performance.now() - start;
    start = performance.now();
    const answer = await engineCall(socketPath, `loading image ${tag}`, () => docker.loadImage(dockerArchiveStream(image, [tag])));
    await loadOutcome(docker, answer);
    return { tag, imageId: image.config.descriptor.digest, loaded: true, phases: { fingerprintMs, buildMs, loadMs: performance.now() - start } };
  } finally {
    await image.cleanup();
  }
}

export interface RunnerImagePrune {
  /** This tree's tag, never removed. */
  current: string;
  removed: string[];
  /** Tags the engine would not remove (a container still uses the image), with its answer. */
  kept: Array<{ tag: string; reason: string }>;
}

/**
 * Removes the runner images of other trees: every tag of the repository (`mcpwarm-runner`) but
 * this tree's, each
 * built once per change of the tree (about 265 MB). The engine refuses to remove an image a
 * container still uses (409): that one is kept and reported. Run on purpose, not after each build,
 * since another checkout on the same engine may be about to start runners from its own tag.
 */
export async function pruneRunnerImages(options: RunnerImageOptions & { repository?: string }): Promise<RunnerImagePrune> {
  const { socketPath, repository = RUNNER_IMAGE_REPOSITORY } = options;
  const docker = dockerClient(socketPath);
  const current = await runnerImageTag(options.spec ?? defaultRunnerSpec(), repository);
  const images = await engineCall(socketPath, 'listing the runner images', () => docker.listImages({ filters: { reference: [repository] } }));
  const tags = images.flatMap((image) => image.RepoTags ?? []).filter((tag) => tag.startsWith(`${repository}:`) && tag !== current);
  const result: RunnerImagePrune = { current, removed: [], kept: [] };
  for (const tag of tags.sort()) {
    try {
      // Undefined: removed by someone else meanwhile.
      if ((await engineCallIfPresent(socketPath, `removing image ${tag}`, () => docker.getImage(tag).remove())) !== undefined) result.removed.push(tag);
    } catch (error) {
      if ((error as McpWarmError).details?.status !== 409) throw error;
      result.kept.push({ tag, reason: (error as Error).message });
    }
  }
  return result;
}
