import type { CompletionRequestInput } from '../completions/model.js';
import { TemplateVariableError } from './errors.js';

/**
 * A prompt template as the service runs it: checked once at start (see `config-file.ts`), its text
 * already split into literal pieces and placeholders, so rendering is one pass that never looks
 * inside a value: a variable holding `{{x}}` stays the four characters it is.
 */

export const variableTypes = ['String', 'Int', 'Float', 'Boolean'] as const;
export type VariableScalar = (typeof variableTypes)[number];

export interface TemplateVariable {
  name: string;
  scalar: VariableScalar;
  /** `String!`: the argument is non-null in the SDL. */
  required: boolean;
  /** Characters (code points) a String value may have; checked before any paid call. */
  maxLength?: number;
}

/** The parameters a template sets; the same names and ranges as `CreateCompletionInput`. */
export type TemplateParameters = Omit<CompletionRequestInput, 'model' | 'prompt' | 'streamOptions' | 'store'>;

/**
 * Reuse policy, parsed and kept for the cache: `deterministic` reuses only results meant to be
 * repeatable (temperature 0 or a fixed seed), `always` any result, for `ttlSeconds`; between all
 * clients (`shared`), or each client only its own (`client`: a hit would tell another client that
 * someone asked exactly this, which a template over private text must not).
 */
export interface CachePolicy {
  ttlSeconds: number;
  reuse: 'deterministic' | 'always';
  scope: 'shared' | 'client';
}

export type PromptPiece = { text: string } | { variable: string };

export interface PromptTemplate {
  name: string;
  description: string;
  /** The prompt as written in the file (placeholders included). */
  prompt: string;
  pieces: readonly PromptPiece[];
  variables: readonly TemplateVariable[];
  model: string;
  parameters: Readonly<TemplateParameters>;
  cache?: CachePolicy;
  /** Also served as `<type>.<field> @requires(...)` on another subgraph's entity, resolved in batches. */
  entity?: EntityBinding;
}

/** Prompts per upstream call when PROMPTS_FILE does not say. */
export const defaultMaxPromptsPerCall = 100;

export interface EntityBinding {
  type: string;
  /** The `@key` field (an `ID!`). */
  key: string;
  field: string;
  /**
   * Prompts one upstream call may carry (PROMPTS_FILE `maxPromptsPerCall`, for every entity
   * template, or the binding's own): a bigger batch is split into that many calls, no more.
   */
  maxPromptsPerCall?: number;
}

export const promptCacheStores = ['auto', 'database', 'redis', 'memory', 'off'] as const;
/** PROMPT_CACHE_STORE: `auto` is Redis when REDIS_URL is set, else the database. */
export type PromptCacheChoice = (typeof promptCacheStores)[number];

/** What the service reads from PROMPTS_FILE, ALLOW_RAW_PROMPTS and PROMPT_CACHE_STORE. */
export interface PromptsConfig {
  templates: readonly PromptTemplate[];
  /** false: createCompletion, completionStream and the REST face refuse raw prompts. */
  allowRawPrompts: boolean;
  /** Where reusable results are kept; `auto` when not said. */
  cacheStore?: PromptCacheChoice;
}

export const defaultPromptsConfig: PromptsConfig = { templates: [], allowRawPrompts: true };

/** A placeholder: `{{name}}`, spaces inside the braces allowed. */
export const placeholderPattern = /\{\{\s*([^{}]*?)\s*\}\}/g;

export const graphqlName = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Splits a prompt into pieces; throws with the offending text when a placeholder is no name. */
export function splitPrompt(prompt: string): PromptPiece[] {
  const pieces: PromptPiece[] = [];
  let at = 0;
  for (const match of prompt.matchAll(placeholderPattern)) {
    const name = match[1] ?? '';
    if (!graphqlName.test(name) || name.startsWith('__')) {
      throw new Error(`"${match[0]}" is not a placeholder: a name is letters, digits and "_"`);
    }
    if (match.index > at) pieces.push({ text: prompt.slice(at, match.index) });
    pieces.push({ variable: name });
    at = match.index + match[0].length;
  }
  if (at < prompt.length) pieces.push({ text: prompt.slice(at) });
  return pieces;
}

function codePoints(value: string, limit: number): number {
  // UTF-16 length bounds the code points from above: only a long value needs counting.
  if (value.length <= limit) return value.length;
  let count = 0;
  for (const _ of value) count++;
  return count;
}

function textOf(value: unknown): string {
  if (value === null || value === undefined) return '';
  return typeof value === 'string' ? value : String(value);
}

/**
 * The prompt for these (already coerced) arguments: each placeholder replaced by its value as
 * data, an absent optional one by nothing. Throws `TemplateVariableError` past a `maxLength`.
 */
export function renderPrompt(template: PromptTemplate, args: Readonly<Record<string, unknown>>): string {
  for (const variable of template.variables) {
    const value = args[variable.name];
    if (variable.maxLength !== undefined && typeof value === 'string') {
      const length = codePoints(value, variable.maxLength);
      if (length > variable.maxLength) {
        throw new TemplateVariableError(
          variable.name,
          `must be at most ${variable.maxLength} characters (got ${length}).`,
        );
      }
    }
  }
  let prompt = '';
  for (const piece of template.pieces) prompt += 'text' in piece ? piece.text : textOf(args[piece.variable]);
  return prompt;
}
