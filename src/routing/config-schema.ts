import { z } from 'zod';

/**
 * The shape of UPSTREAMS_FILE, as written by an operator. Strict objects: a misspelt field (or a key
 * pasted in as `apiKey`) is refused rather than silently ignored.
 */

const name = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'must be 1–64 letters, digits, ".", "_" or "-"');

const modelName = z.string().trim().min(1, 'must not be empty').max(256);

const envName = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be the NAME of an environment variable, not a key');

const positiveInt = (max: number) => z.number().int().min(1).max(max);

/** `[a, b]` serves each name as itself; `{ public: deploymentModel }` maps public names (aliases). */
const models = z.union([
  z.array(modelName).min(1, 'must list at least one model'),
  z.record(modelName, modelName),
]);

export const deploymentSchema = z.strictObject({
  name,
  kind: z.enum(['openai', 'local']),
  baseUrl: z.url({ protocol: /^https?$/, error: 'must be an absolute http(s) URL' }).optional(),
  apiKeyEnv: envName.optional(),
  models: models.optional(),
  weight: z.number().positive().max(1_000_000).default(1),
  /** Requests per minute this deployment may be sent, from this instance. */
  rpm: positiveInt(2_000_000_000).optional(),
  /** Estimated tokens per minute, reserved before a call and settled with the usage after it. */
  tpm: positiveInt(2_000_000_000).optional(),
  timeoutMs: positiveInt(600_000).optional(),
  maxRetries: z.number().int().min(0).max(10).optional(),
  maxConnections: positiveInt(100_000).optional(),
  /** This deployment's circuit breaker, where it should differ from the defaults. */
  breaker: z
    .strictObject({
      windowSize: positiveInt(10_000).optional(),
      minimumCalls: positiveInt(10_000).optional(),
      failureRatio: z.number().gt(0).max(1).optional(),
      coolDownMs: positiveInt(3_600_000).optional(),
    })
    .optional(),
});

export const balanceSchema = z.enum(['weighted', 'least-outstanding']);

const groups = z.array(z.array(name).min(1, 'a group names at least one deployment')).min(1);

export const routeSchema = z.union([groups, z.strictObject({ balance: balanceSchema.optional(), groups })]);

export const upstreamsFileSchema = z.strictObject({
  /** How a group shares calls unless a route says otherwise. */
  balance: balanceSchema.default('weighted'),
  deployments: z.array(deploymentSchema).min(1, 'must list at least one deployment'),
  routes: z.record(modelName, routeSchema).default({}),
});

export type UpstreamsFileInput = z.infer<typeof upstreamsFileSchema>;
