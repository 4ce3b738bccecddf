/**
 * The one catalogue of coded errors. Codes are stable: scripts and the HTTP API match on them.
 * Every code here is documented in README.md ("Error codes"); a test checks that.
 *
 * `exit` is the CLI exit status (2: bad usage or input, 1: a failed operation or check);
 * `http` is the status the HTTP APIs answer with.
 */
interface CatalogueEntry {
  readonly exit: 1 | 2;
  readonly http: number;
  readonly hint: string;
}

export const ERROR_CATALOGUE = {
  INTERNAL: { exit: 1, http: 500, hint: 'An unexpected failure: the message and the log (stderr) have the details; please report it.' },
  USAGE_INVALID: { exit: 2, http: 400, hint: 'Run the command with --help to see its usage.' },

  REF_INVALID: { exit: 2, http: 400, hint: 'Use name[:tag][@sha256:<64 hex>], host[:port]/path:tag, or oci:DIR[:TAG].' },

  REGISTRY_UNREACHABLE: { exit: 1, http: 502, hint: 'Check that the registry is running and reachable (for the local one: mcpwarm registry status).' },
  REGISTRY_INSECURE_REFUSED: { exit: 2, http: 400, hint: 'Plain HTTP is used only for loopback registries, those named with --insecure-registry or MCPWARM_INSECURE_REGISTRIES, or with --insecure.' },
  REGISTRY_AUTH_FAILED: { exit: 1, http: 502, hint: 'Check the credentials in your Docker config.json (DOCKER_CONFIG) for this registry.' },
  REGISTRY_PROTOCOL: { exit: 1, http: 502, hint: 'The registry answered something the OCI distribution API does not allow; see the message.' },
  REGISTRY_UNAVAILABLE: { exit: 1, http: 503, hint: 'The registry kept failing with 5xx responses or dropped connections; retry later.' },
  IMAGE_NOT_FOUND: { exit: 2, http: 404, hint: 'Check the repository, tag or digest; `mcpwarm image pull` resolves tags against the registry.' },

  MANIFEST_INVALID: { exit: 1, http: 502, hint: 'The manifest, index or image config is not valid JSON of the expected shape.' },
  MANIFEST_UNSUPPORTED: { exit: 2, http: 422, hint: 'Supported: OCI and Docker schema 2 manifests and indexes (manifest lists).' },
  PLATFORM_NOT_FOUND: { exit: 2, http: 422, hint: 'Pick a platform the index lists (--platform os/arch[/variant]).' },

  BLOB_DIGEST_MISMATCH: { exit: 1, http: 502, hint: 'The content does not match its digest; nothing was cached. The source is corrupt or was tampered with.' },
  BLOB_SIZE_MISMATCH: { exit: 1, http: 502, hint: 'The content is shorter or longer than its descriptor says (a truncated transfer?); nothing was cached.' },

  LAYOUT_INVALID: { exit: 2, http: 400, hint: 'An OCI image layout directory has an oci-layout file, index.json and blobs/<alg>/<hex>.' },

  LAYER_MEDIA_TYPE_UNSUPPORTED: { exit: 2, http: 422, hint: 'Supported layer encodings: uncompressed tar, gzip and zstd.' },
  UNPACK_PATH_ESCAPE: { exit: 2, http: 422, hint: 'A layer entry or hardlink names a path outside the root filesystem; the layer was refused.' },
  UNPACK_SYMLINK_TRAVERSAL: { exit: 2, http: 422, hint: 'A layer entry would be written through a symbolic link; the layer was refused.' },
  UNPACK_LIMIT_EXCEEDED: { exit: 2, http: 422, hint: 'The image unpacks to more bytes or entries than allowed (--max-unpacked-bytes, --max-entries).' },
  UNPACK_CORRUPT: { exit: 2, http: 422, hint: 'The layer is not a readable tar archive in the encoding its media type names.' },

  SIZE_INVALID: { exit: 2, http: 400, hint: 'Give a size such as 10Gi, 500Mi, 2G or a number of bytes.' },
  CACHE_BUDGET_EXCEEDED: { exit: 1, http: 507, hint: 'The image does not fit in the cache budget even after evicting every unused entry; raise IMAGE_CACHE_SIZE.' },

  ROOTFS_TARGET_INVALID: { exit: 2, http: 400, hint: 'The rootfs target must be an empty directory or a path that does not exist yet.' },
  ROOTFS_COMPOSE_FAILED: { exit: 1, http: 500, hint: 'Composing the root filesystem failed; run as root for overlay mounts or pass --mode copy.' },
  ROOTFS_NOT_FOUND: { exit: 2, http: 404, hint: 'No rootfs composed by mcpwarm is recorded at that path.' },

  TOOL_MISSING: { exit: 1, http: 500, hint: 'Install the Debian package the message names (`make setup` does it when run as root).' },
  SANDBOX_UNAVAILABLE: { exit: 2, http: 422, hint: 'The sandbox asked for cannot run here (see the reason); use --sandbox auto to pick the strongest available.' },
  SANDBOX_LAUNCH_FAILED: { exit: 1, http: 500, hint: 'The sandbox runtime failed to start the server; the message has its output.' },
  USER_NOT_FOUND: { exit: 2, http: 422, hint: "The image's User names a user or group that its /etc/passwd or /etc/group does not list." },
  ENTRYPOINT_NOT_FOUND: { exit: 2, http: 422, hint: 'The entrypoint (or command override) names a program that is not in the image.' },
  SERVER_EXITED: { exit: 1, http: 502, hint: 'The MCP server exited before it was ready; the message ends with the last lines of its stderr.' },
  SERVER_INIT_TIMEOUT: { exit: 1, http: 504, hint: 'The MCP server did not answer initialize in time (readiness.timeoutMs); its stderr tail is in the message.' },
  SERVER_PROTOCOL: { exit: 1, http: 502, hint: 'The MCP server wrote something on stdout that is not JSON-RPC, or answered initialize with an error.' },

  REQUEST_INVALID: { exit: 2, http: 400, hint: 'Fix the request body: every problem is listed with its field.' },
  REQUEST_TOO_LARGE: { exit: 2, http: 413, hint: 'Request bodies are limited in size (see the message).' },
  AUTH_REQUIRED: { exit: 2, http: 401, hint: 'Send Authorization: Bearer <token> with the token the server was started with.' },
  AUTH_MISCONFIGURED: { exit: 2, http: 500, hint: 'Give a token (--token-file or the environment), or --insecure-no-auth with a loopback --host.' },
  IMAGE_NOT_ALLOWED: { exit: 2, http: 403, hint: 'The image is not on the allowlist (--allow registry/repository globs or pinned digests).' },
  SERVICE_UNREACHABLE: { exit: 1, http: 502, hint: 'Nothing answered at that URL: is the agent (or controller) running there?' },
  ROUTE_NOT_FOUND: { exit: 2, http: 404, hint: 'See the API in README.md for the paths and methods served.' },
  INSTANCE_NOT_FOUND: { exit: 2, http: 404, hint: 'No instance has that id (it may have been deleted or exited).' },
  SESSION_NOT_FOUND: { exit: 2, http: 404, hint: 'Start a new session: POST initialize without Mcp-Session-Id.' },
  SESSION_CONFLICT: { exit: 2, http: 409, hint: 'The instance already has a client session; end it with DELETE on its MCP endpoint first.' },

  POOL_EXHAUSTED: { exit: 1, http: 503, hint: 'No warm runner came free in time; retry after the Retry-After delay, or raise the pool size.' },
  PROXY_SATURATED: { exit: 1, http: 503, hint: 'The proxy queue (--max-queue) or its session and backend cap (--max-sessions) is full; retry after the Retry-After delay, or raise the limit.' },
  SERVER_NOT_FOUND: { exit: 2, http: 404, hint: 'Named servers come from the controller configuration (--server NAME=IMAGE or --config FILE).' },
  RUNNER_CONFLICT: { exit: 1, http: 409, hint: 'The runner changed since it was read (another claim won); re-read and retry.' },
  RUNNER_NOT_FOUND: { exit: 2, http: 404, hint: 'No runner has that id on this substrate.' },
  DOCKER_UNAVAILABLE: { exit: 1, http: 503, hint: 'Start the Docker engine (mcpwarm docker up, as root) or point DOCKER_HOST at a unix socket where one answers.' },
  SUBSTRATE_FAILED: { exit: 1, http: 503, hint: 'The substrate could not create or reach a runner; the message has the cause.' },
  KUBERNETES_UNREACHABLE: { exit: 1, http: 503, hint: 'Check the kubeconfig (--kubeconfig, KUBECONFIG, in-cluster) and that its API server answers (kubectl get --raw /readyz).' },
  KUBERNETES_FORBIDDEN: { exit: 1, http: 503, hint: 'The service account lacks the verb on the resource the message names; apply deploy/base/rbac.yaml (or grant it in your Role).' },

  LOCAL_REGISTRY_START_FAILED: { exit: 1, http: 500, hint: 'See the registry log named in the message; is the port already in use?' },

  BUILD_SPEC_INVALID: { exit: 2, http: 400, hint: 'Fix every problem listed; the image spec format is described in README.md (Image builder).' },
  BUILD_STEP_FAILED: { exit: 1, http: 500, hint: 'A build step (npm install, collecting the Node runtime, reading a file) failed; see the message.' },
  SCENARIO_INVALID: { exit: 2, http: 400, hint: 'Fix every problem listed; the scenario format is described in README.md (Scenarios).' },
  RESULTS_INVALID: { exit: 2, http: 400, hint: 'Give a results.json written by mcpwarm bench (schemaVersion 1); every problem is listed with its field.' },
} as const satisfies Record<string, CatalogueEntry>;

export type ErrorCode = keyof typeof ERROR_CATALOGUE;

export interface McpWarmErrorOptions {
  hint?: string;
  cause?: unknown;
  /** Machine-readable particulars (the entry name, every spec problem, ...). */
  details?: Record<string, unknown>;
}

export class McpWarmError extends Error {
  readonly code: ErrorCode;
  readonly hint: string;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, options: McpWarmErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'McpWarmError';
    this.code = code;
    this.hint = options.hint ?? ERROR_CATALOGUE[code].hint;
    this.details = options.details;
  }

  get exitCode(): 1 | 2 {
    return ERROR_CATALOGUE[this.code].exit;
  }

  get httpStatus(): number {
    return ERROR_CATALOGUE[this.code].http;
  }

  toJSON(): { code: ErrorCode; message: string; hint: string; details?: Record<string, unknown> } {
    return this.details === undefined
      ? { code: this.code, message: this.message, hint: this.hint }
      : { code: this.code, message: this.message, hint: this.hint, details: this.details };
  }
}

export function isMcpWarmError(value: unknown): value is McpWarmError {
  return value instanceof McpWarmError;
}
