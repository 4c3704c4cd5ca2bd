import { estimateCompletionCost } from '../completions/cost.js';
import { prepareFromInput } from '../completions/prepare.js';
import { InvalidRequestError } from '../completions/validation.js';
import { type ConfigPath as Path, parseConfigFile } from '../config-file.js';
import { ConfigError, type Env, readBoolean, readChoice, readFileVariable } from '../config-values.js';
import { extended } from '../runtime/objects.js';
import { PromptsFileError } from './errors.js';
import { promptsFileSchema, type TemplateInput } from './file-schema.js';
import {
  defaultMaxPromptsPerCall,
  type EntityBinding,
  type PromptsConfig,
  type PromptTemplate,
  promptCacheStores,
  renderPrompt,
  splitPrompt,
  type TemplateParameters,
  type TemplateVariable,
  type VariableScalar,
} from './template.js';

/**
 * PROMPTS_FILE (YAML or JSON) and ALLOW_RAW_PROMPTS, checked once at start. Every problem names
 * its line and field, so a template that could not run stops the start instead of a request.
 */

/** PROMPTS_FILE and ALLOW_RAW_PROMPTS; `env` is the configuration's environment (config.ts reads it). */
export function readPromptsConfig(env: Env): PromptsConfig {
  const templates = readFileVariable(env, 'PROMPTS_FILE', parsePromptsFile, PromptsFileError) ?? [];
  return {
    templates,
    allowRawPrompts: readBoolean(env, 'ALLOW_RAW_PROMPTS', true),
    cacheStore: readChoice(env, 'PROMPT_CACHE_STORE', promptCacheStores, 'auto'),
  };
}

/** A template naming a model no route serves would fail every call: it stops the start instead. */
export function assertTemplatesRouted(
  templates: readonly PromptTemplate[],
  routes: readonly { model: string }[],
): void {
  assertTemplatesServed(
    templates,
    routes.map((route) => route.model),
    'UPSTREAMS_FILE',
  );
}

/**
 * A template whose own text (its variables empty, `maxTokens` at the least a caller may ask, 1) is
 * already over the operation ceiling would be refused on every call: it stops the start instead.
 */
export function assertTemplatesFit(templates: readonly PromptTemplate[], maxEstimatedTokens: number): void {
  for (const template of templates) {
    const text = template.pieces.map((piece) => ('text' in piece ? piece.text : '')).join('');
    const { n, bestOf } = template.parameters;
    const least = estimateCompletionCost({
      model: template.model,
      prompt: text,
      max_tokens: 1,
      ...(n == null ? {} : { n }),
      ...(bestOf == null ? {} : { best_of: bestOf }),
    });
    if (least.totalTokens > maxEstimatedTokens) {
      throw new ConfigError(
        `PROMPTS_FILE: template ${template.name} can never run: its own text is estimated at ${least.totalTokens} tokens, over MAX_ESTIMATED_TOKENS_PER_OPERATION (${maxEstimatedTokens})`,
      );
    }
  }
}

/** Stops the start when a template names a model `by` (a provider, a routes file) does not serve. */
export function assertTemplatesServed(
  templates: readonly PromptTemplate[],
  models: readonly string[],
  by: string,
): void {
  for (const template of templates) {
    if (!models.includes(template.model)) {
      const hint =
        by === 'UPSTREAMS_FILE'
          ? ''
          : '; set OPENAI_API_KEY (or OPENAI_BASE_URL) to call an OpenAI-compatible upstream, or name one of these models in the template';
      throw new ConfigError(
        `PROMPTS_FILE: template ${template.name} uses model ${template.model}, which ${by} does not serve (it serves: ${models.join(', ')})${hint}`,
      );
    }
  }
}

export function parsePromptsFile(text: string): PromptTemplate[] {
  const { data, problem } = parseConfigFile(
    text,
    promptsFileSchema,
    (message) => new PromptsFileError(message),
    // A bad template or variable name: zod's own words are "Invalid key in record".
    (issue) => (issue.code === 'invalid_key' ? issue.issues[0]?.message : undefined) ?? issue.message,
  );
  const perCall = data.maxPromptsPerCall;
  return Object.entries(data.templates).map(([name, input]) =>
    compileTemplate(name, input, perCall, (path, message) => problem(['templates', name, ...path], message)),
  );
}

function toVariable(name: string, input: TemplateInput['variables'][string]): TemplateVariable {
  const spec = typeof input === 'string' ? { type: input } : input;
  const required = spec.type.endsWith('!');
  const scalar = spec.type.replace('!', '') as VariableScalar;
  return {
    name,
    scalar,
    required,
    ...('maxLength' in spec && spec.maxLength !== undefined ? { maxLength: spec.maxLength } : {}),
  };
}

function toParameters(input: TemplateInput['parameters']): TemplateParameters {
  const { stop, logitBias, ...rest } = input;
  const parameters: TemplateParameters = { ...rest };
  if (stop !== undefined) parameters.stop = typeof stop === 'string' ? [stop] : stop;
  if (logitBias !== undefined) {
    parameters.logitBias = Object.entries(logitBias).map(([token, bias]) => ({ token: Number(token), bias }));
  }
  return parameters;
}

/**
 * An entity binding's `requires` are the template's variables: the same names and types, since the
 * gateway sends those fields of the entity as the values. Without `requires`, the variables are it.
 */
function checkEntity(
  input: NonNullable<TemplateInput['entity']>,
  variables: readonly TemplateVariable[],
  maxPromptsPerCall: number | undefined,
  problem: (path: Path, message: string) => PromptsFileError,
): EntityBinding {
  const requires = input.requires ?? {};
  const typeOf = (v: TemplateVariable) => `${v.scalar}${v.required ? '!' : ''}`;
  for (const [field, type] of Object.entries(requires)) {
    const variable = variables.find((v) => v.name === field);
    if (variable === undefined) {
      throw problem(['entity', 'requires', field], 'is not a variable of the template');
    }
    if (typeOf(variable) !== type) {
      throw problem(['entity', 'requires', field], `is ${type} here but the variable is ${typeOf(variable)}`);
    }
  }
  for (const variable of variables) {
    if (input.requires !== undefined && !(variable.name in requires)) {
      throw problem(['entity', 'requires'], `must list every variable: ${variable.name} is missing`);
    }
    if (variable.name === input.key) {
      throw problem(['entity', 'key'], 'is sent by the gateway, not a variable: rename the variable');
    }
  }
  if (variables.length === 0) {
    throw problem(['entity'], 'an entity template reads at least one field of the entity');
  }
  return {
    type: input.type,
    key: input.key,
    field: input.field,
    maxPromptsPerCall: input.maxPromptsPerCall ?? maxPromptsPerCall ?? defaultMaxPromptsPerCall,
  };
}

/** snake_case wire parameter → the file's camelCase name, for errors that point into the file. */
const camel = (param: string) => param.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());

function compileTemplate(
  name: string,
  input: TemplateInput,
  maxPromptsPerCall: number | undefined,
  problem: (path: Path, message: string) => PromptsFileError,
): PromptTemplate {
  let pieces: ReturnType<typeof splitPrompt>;
  try {
    pieces = splitPrompt(input.prompt);
  } catch (error) {
    throw problem(['prompt'], (error as Error).message);
  }
  const variables = Object.entries(input.variables).map(([variable, spec]) => toVariable(variable, spec));
  const used = new Set(pieces.flatMap((piece) => ('variable' in piece ? [piece.variable] : [])));
  for (const placeholder of used) {
    if (!variables.some((v) => v.name === placeholder)) {
      throw problem(
        ['prompt'],
        `the placeholder {{${placeholder}}} is not a declared variable (add it under variables)`,
      );
    }
  }
  for (const variable of variables) {
    if (variable.name === 'overrides') {
      throw problem(
        ['variables', variable.name],
        '"overrides" is the name of the field\'s parameter overrides',
      );
    }
    if (!used.has(variable.name)) {
      throw problem(['variables', variable.name], `is declared but the prompt has no {{${variable.name}}}`);
    }
    if (variable.maxLength !== undefined && variable.scalar !== 'String') {
      throw problem(['variables', variable.name, 'maxLength'], 'applies to String variables only');
    }
  }
  const template: PromptTemplate = {
    name,
    description: input.description,
    prompt: input.prompt,
    pieces,
    variables,
    model: input.model,
    parameters: toParameters(input.parameters),
    ...(input.cache === undefined ? {} : { cache: input.cache }),
    ...(input.entity === undefined
      ? {}
      : { entity: checkEntity(input.entity, variables, maxPromptsPerCall, problem) }),
  };
  try {
    // The service's own request rules, on the template with empty values: a default out of range
    // stops the start rather than failing every call.
    prepareFromInput(
      extended(template.parameters, { model: template.model, prompt: { text: renderPrompt(template, {}) } }),
      false,
    );
  } catch (error) {
    if (error instanceof InvalidRequestError) {
      const { param, problem: what } = error.violation;
      throw problem(['parameters', camel(param)], what);
    }
    throw error;
  }
  return template;
}
