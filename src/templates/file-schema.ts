import { z } from 'zod';
import { graphqlName } from './template.js';

/**
 * The shape of PROMPTS_FILE as an operator writes it. Strict objects: a misspelt field is refused
 * rather than silently ignored (a `temprature: 0` that did nothing would change what is paid for).
 */

const name = z
  .string()
  .regex(graphqlName, 'must be a GraphQL name: letters, digits and "_", not starting with a digit')
  .refine((value) => !value.startsWith('__'), 'must not start with "__" (reserved by GraphQL)');

const variableType = z
  .string()
  .regex(/^(String|Int|Float|Boolean)!?$/, 'must be String, Int, Float or Boolean, with ! when required');

const variable = z.union([
  variableType,
  z.strictObject({
    type: variableType,
    /** Characters a String value may have; longer is BAD_USER_INPUT before any paid call. */
    maxLength: z.number().int().min(1).max(10_000_000).optional(),
  }),
]);

const finite = z.number().finite();

const maxPromptsPerCall = z.number().int().min(1).max(2048);

/** The template's defaults; ranges are checked by the service's own request rules at start. */
const parameters = z.strictObject({
  maxTokens: z.number().int().min(0).optional(),
  temperature: finite.optional(),
  topP: finite.optional(),
  n: z.number().int().optional(),
  bestOf: z.number().int().optional(),
  stop: z.union([z.string(), z.array(z.string())]).optional(),
  seed: z.number().int().optional(),
  presencePenalty: finite.optional(),
  frequencyPenalty: finite.optional(),
  logprobs: z.number().int().optional(),
  echo: z.boolean().optional(),
  suffix: z.string().optional(),
  user: z.string().optional(),
  /** `{ "<token id>": bias }`, as the upstream's `logit_bias`. */
  logitBias: z.record(z.string().regex(/^\d+$/, 'must be a token id'), finite).optional(),
});

const cache = z.strictObject({
  ttlSeconds: z.number().int().min(1).max(31_536_000),
  /** `deterministic` (default): only temperature 0 or a fixed seed; `always`: any result. */
  reuse: z.enum(['deterministic', 'always']).default('deterministic'),
  /** `shared` (default): every client reuses what any paid for; `client`: each client its own. */
  scope: z.enum(['shared', 'client']).default('shared'),
});

export const templateSchema = z.strictObject({
  description: z.string().trim().min(1, 'must say what the field is for (it becomes its SDL description)'),
  prompt: z.string().min(1, 'must not be empty'),
  variables: z.record(name, variable).default({}),
  model: z.string().trim().min(1, 'must name a model the service serves').max(256),
  parameters: parameters.default({}),
  cache: cache.optional(),
  /**
   * A field on another subgraph's entity: `type` (its name), `key` (its key field, an ID), `field`
   * (the new field's name) and `requires` (the entity's fields the prompt reads: the template's
   * variables, with the same types).
   */
  entity: z
    .strictObject({
      type: name,
      key: name.default('id'),
      field: name,
      requires: z.record(name, variableType).optional(),
      /** Prompts one upstream call may carry for this field; PROMPTS_FILE's `maxPromptsPerCall` otherwise. */
      maxPromptsPerCall: maxPromptsPerCall.optional(),
    })
    .optional(),
});

export const promptsFileSchema = z.strictObject({
  /**
   * Prompts one upstream call may carry: an entity batch above it is split into several calls.
   * Set it to the upstream's own limit (the default suits OpenAI and vLLM).
   */
  maxPromptsPerCall: maxPromptsPerCall.optional(),
  templates: z
    .record(name, templateSchema)
    .refine((templates) => Object.keys(templates).length > 0, 'must define at least one template'),
});

export type PromptsFileInput = z.infer<typeof promptsFileSchema>;
export type TemplateInput = z.infer<typeof templateSchema>;
