/**
 * The baseline `bench pool` compares the pool with: a Docker cold start, as `docker run -i REF`
 * does it with the image absent from the engine: pull from the registry, create a container with
 * stdin attached, start it, and send `initialize`; the clock stops at the answer. The container
 * runs the image's own entrypoint and user, on Docker's default network.
 */
import { PassThrough, type Writable } from 'node:stream';
import { performance } from 'node:perf_hooks';
import Docker from 'dockerode';
import { McpWarmError } from '../../runner/errors.js';
import { probeReadiness } from '../../runner/mcp/initialize.js';
import { StdioMcpConnection } from '../../runner/mcp/stdio-connection.js';
import type { ExitStatus } from '../../runner/sandbox/types.js';

export interface DockerColdStart {
  totalMs: number;
  /** No image with the same id was in the engine when the pull began. */
  imageAbsentBefore: boolean;
  /**
   * Layers the pull found already in the engine ("Already exists": other images there share
   * them), so it did not download them; a truly cold start has none.
   */
  layersAlreadyPresent: number;
  phases: { pullMs: number; createMs: number; startMs: number; initializeMs: number };
}

const LABEL = 'dev.mcpwarm.bench';
const STDERR_TAIL_BYTES = 4000;

function dockerFailure(what: string, error: unknown): McpWarmError {
  return new McpWarmError('DOCKER_UNAVAILABLE', `docker: ${what} failed: ${(error as Error).message}`, {
    cause: error,
    hint: 'The Docker engine refused the request; see the message and the engine log.',
  });
}

const notFound = (error: unknown): boolean => (error as { statusCode?: number }).statusCode === 404;

/** Cold starts on one engine; every container it makes carries `run` as a label, so cleanUp finds them all. */
export class DockerColdStarts {
  private readonly docker: Docker;
  private readonly pulled = new Set<string>();

  constructor(
    socketPath: string,
    private readonly run: string,
  ) {
    this.docker = new Docker({ socketPath });
  }

  /** Whether the engine holds an image with this id (its config digest), under any name. */
  async holds(imageId: string): Promise<boolean> {
    try {
      await this.docker.getImage(imageId).inspect();
      return true;
    } catch (error) {
      if (notFound(error)) return false;
      throw dockerFailure(`inspecting image ${imageId}`, error);
    }
  }

  /** Removes `reference` from the engine; an image other names still point at stays (and the pull is then not cold). */
  async forget(reference: string): Promise<void> {
    try {
      await this.docker.getImage(reference).remove();
    } catch (error) {
      if (!notFound(error)) throw dockerFailure(`removing image ${reference}`, error);
    }
  }

  /** Pulls `reference`; resolves with the number of layers the engine already had. */
  private async pull(reference: string): Promise<number> {
    this.pulled.add(reference);
    try {
      const progress = await this.docker.pull(reference);
      return await new Promise<number>((resolve, reject) =>
        this.docker.modem.followProgress(progress, (error: Error | null, events: Array<{ error?: string; status?: string; id?: string }>) => {
          const failed = error?.message ?? events.find((event) => event.error !== undefined)?.error;
          if (failed === undefined) resolve(new Set(events.filter((event) => event.status === 'Already exists').map((event) => event.id)).size);
          else reject(new Error(failed));
        }),
      );
    } catch (error) {
      throw dockerFailure(`pulling ${reference}`, error);
    }
  }

  /** One cold start of `reference` (by digest); `imageId` is its config digest. The container is removed after. */
  async coldStart(reference: string, imageId: string): Promise<DockerColdStart> {
    await this.forget(reference);
    const imageAbsentBefore = !(await this.holds(imageId));
    const start = performance.now();
    const layersAlreadyPresent = await this.pull(reference);
    const pulled = performance.now();
    const container = await this.docker
      .createContainer({
        Image: reference,
        OpenStdin: true,
        StdinOnce: true,
        AttachStdin: true,
        AttachStdout: true,
        AttachStderr: true,
        Tty: false,
        Labels: { [LABEL]: this.run },
      })
      .catch((error: unknown) => {
        throw dockerFailure(`creating a container of ${reference}`, error);
      });
    let stream: NodeJS.ReadWriteStream | undefined;
    try {
      stream = await container.attach({ stream: true, stdin: true, stdout: true, stderr: true, hijack: true });
      const stdout = new PassThrough();
      const stderr = new PassThrough();
      let stderrTail = '';
      stderr.on('data', (chunk: Buffer) => (stderrTail = (stderrTail + chunk.toString()).slice(-STDERR_TAIL_BYTES)));
      this.docker.modem.demuxStream(stream, stdout, stderr);
      const exited: Promise<ExitStatus> = container.wait({ condition: 'next-exit' }).then(
        (answer: { StatusCode?: number }) => ({ code: answer.StatusCode ?? null, signal: null }),
        () => ({ code: null, signal: null }),
      );
      const created = performance.now();
      await container.start().catch((error: unknown) => {
        throw dockerFailure(`starting a container of ${reference}`, error);
      });
      const started = performance.now();
      const connection = new StdioMcpConnection({ stdin: stream as unknown as Writable, stdout, exited });
      try {
        await probeReadiness(connection, { timeoutMs: 60_000, stderrTail: () => stderrTail, exited });
      } finally {
        connection.close();
      }
      const answered = performance.now();
      return {
        totalMs: answered - start,
        imageAbsentBefore,
        layersAlreadyPresent,
        phases: { pullMs: pulled - start, createMs: created - pulled, startMs: started - created, initializeMs: answered - started },
      };
    } finally {
      (stream as unknown as Writable | undefined)?.destroy();
      await container.remove({ force: true }).catch(() => undefined);
    }
  }

  /** Removes every container of this run and every image reference it pulled. */
  async cleanUp(): Promise<void> {
    const containers = await this.docker.listContainers({ all: true, filters: { label: [`${LABEL}=${this.run}`] } });
    await Promise.all(containers.map((info) => this.docker.getContainer(info.Id).remove({ force: true }).catch(() => undefined)));
    for (const reference of this.pulled) await this.forget(reference);
  }
}
