/** The bodies of `POST /activate` and `POST /images`, validated with every problem reported at once. */
import { z } from 'zod';
import { McpWarmError } from '../errors.js';

const INSTANCE_ID = /^[a-z0-9][a-z0-9-]{0,62}$/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

export const activationRequestSchema = z
  .strictObject({
    image: z.string().min(1, 'expected an image reference'),
    entrypoint: z.array(z.string().min(1)).min(1).optional(),
    command: z.array(z.string()).optional(),
    env: z.record(z.string().regex(ENV_NAME, 'expected an environment variable name'), z.string()).optional(),
    workingDir: z.string().startsWith('/', 'expected an absolute path').optional(),
    instanceId: z.string().regex(INSTANCE_ID, 'expected [a-z0-9][a-z0-9-]*, at most 63 characters').optional(),
    network: z.boolean().optional(),
    limits: z
      .strictObject({
        memoryMiB: z.number().int().min(16).max(1_048_576).optional(),
        cpus: z.number().positive().max(1024).optional(),
        pids: z.number().int().min(8).max(1_000_000).optional(),
      })
      .optional(),
    readiness: z
      .strictObject({
        toolsList: z.boolean().optional(),
        timeoutMs: z.number().int().min(100).max(600_000).optional(),
      })
      .optional(),
  });

export type ActivationRequest = z.infer<typeof activationRequestSchema>;

/** `POST /images`: an image to pull into the cache without activating it. */
export const imageRequestSchema = activationRequestSchema.pick({ image: true });

export type ImageRequest = z.infer<typeof imageRequestSchema>;

/** Parses a `POST /activate` body; REQUEST_INVALID lists every problem as `{field, message}`. */
export function parseActivationRequest(body: unknown): ActivationRequest {
  return parseRequest(activationRequestSchema, body);
}

/** Parses a `POST /images` body, as parseActivationRequest. */
export function parseImageRequest(body: unknown): ImageRequest {
  return parseRequest(imageRequestSchema, body);
}

function parseRequest<T>(schema: z.ZodType<T>, body: unknown): T {
  const result = schema.safeParse(body);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => ({
    field: issue.path.length > 0 ? issue.path.join('.') : '(body)',
    message: issue.code === 'unrecognized_keys' ? `unknown field(s): ${issue.keys.join(', ')}` : issue.message,
  }));
  throw new McpWarmError('REQUEST_INVALID', problems.map((p) => `${p.field}: ${p.message}`).join('; '), { details: { problems } });
}
