import type { GraphQLFieldResolver } from 'graphql';
import type { PromptCounter } from '../../completions/cost.js';
import {
  type PreparedCompletion,
  type PrepareSettings,
  prepareFromInput,
} from '../../completions/prepare.js';
import type { GraphQLContext } from '../../context.js';
import { extended } from '../../runtime/objects.js';
import type { GeneratedText } from '../../templates/call.js';
import { TemplateVariableError } from '../../templates/errors.js';
import type { PromptOutcome } from '../../templates/result-cache.js';
import { type PromptTemplate, renderPrompt, type TemplateVariable } from '../../templates/template.js';
import { UnplannedCallError } from '../call-options.js';
import { generatedText, runTemplateCall } from './run.js';

/**
 * Entity fields (`Product.aiSummary @requires(...)`): every entity of one `_entities` field that
 * selects the field is rendered into one prompt of ONE upstream call (the Completions API takes a
 * prompt array and answers choices indexed by prompt), priced as a whole by the plan. Each entity's
 * resolver waits for the batch's one call and takes its own choices; a failed call fails each
 * entity at its own path, and a prompt the upstream left without a choice is an error, never
 * another entity's text.
 */

/** The plan's key of a batch: the `_entities` response key, the entity type and the field's key. */
export function entityCallKey(entitiesKey: string, type: string, fieldKey: string): string {
  return `${entitiesKey}.${type}.${fieldKey}`;
}

interface EntityBatch {
  template: PromptTemplate;
  /** Representation index → prompt index in the call. */
  promptOf: ReadonlyMap<number, number>;
  /** Each prompt's outcome, worked out by the first entity resolver that needs it, shared by the others. */
  outcomes?: Promise<PromptOutcome[]>;
}

const batches = new WeakMap<PreparedCompletion, EntityBatch>();

const scalarChecks: Record<TemplateVariable['scalar'], (value: unknown) => boolean> = {
  String: (value) => typeof value === 'string',
  Int: (value) => Number.isInteger(value),
  Float: (value) => typeof value === 'number' && Number.isFinite(value),
  Boolean: (value) => typeof value === 'boolean',
};

/** A representation's required fields as the template's arguments, checked like GraphQL arguments. */
function argumentsOf(template: PromptTemplate, representation: Record<string, unknown>, index: number) {
  const args: Record<string, unknown> = {};
  for (const variable of template.variables) {
    const value = representation[variable.name];
    const at = `representations[${index}].${variable.name}`;
    if (value === undefined || value === null) {
      if (variable.required) throw new TemplateVariableError(at, `is required (${variable.scalar}!).`);
      continue;
    }
    if (!scalarChecks[variable.scalar](value))
      throw new TemplateVariableError(at, `must be a ${variable.scalar}.`);
    args[variable.name] = value;
  }
  try {
    renderPrompt(template, args);
  } catch (error) {
    if (error instanceof TemplateVariableError) {
      throw new TemplateVariableError(`representations[${index}].${error.argument}`, error.problem);
    }
    throw error;
  }
  return args;
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * The one call for the template's entities among the representations (none: undefined), prepared
 * and priced as `createCompletion` with a prompt array; any entity breaking a limit refuses it all.
 */
export function prepareEntityBatch(
  template: PromptTemplate,
  representations: readonly unknown[],
  settings: PrepareSettings,
  counter: PromptCounter,
): PreparedCompletion | undefined {
  const promptOf = new Map<number, number>();
  const prompts: string[] = [];
  representations.forEach((representation, index) => {
    if (!isRecord(representation) || representation.__typename !== template.entity?.type) return;
    promptOf.set(index, prompts.length);
    prompts.push(renderPrompt(template, argumentsOf(template, representation, index)));
  });
  if (prompts.length === 0) return undefined;
  const call = prepareFromInput(
    extended(template.parameters, { model: template.model, prompt: { texts: prompts } }),
    false,
    settings,
    counter,
  );
  batches.set(call, { template, promptOf });
  return call;
}

export const resolveEntityField: GraphQLFieldResolver<unknown, GraphQLContext> = async (
  _entity,
  _args,
  context,
  info,
): Promise<GeneratedText> => {
  const index = info.path.prev?.key;
  const entitiesKey = info.path.prev?.prev?.key;
  const key = entityCallKey(String(entitiesKey), info.parentType.name, String(info.path.key));
  const call = context.paidCalls?.get(key);
  const batch = call && batches.get(call);
  const prompt = typeof index === 'number' ? batch?.promptOf.get(index) : undefined;
  // Only a prompt of the batch the preflight prepared and priced.
  if (call === undefined || batch === undefined || prompt === undefined) throw new UnplannedCallError(key);
  batch.outcomes ??= runTemplateCall(context, batch.template, call, key, 'representations');
  return generatedText((await batch.outcomes)[prompt] as PromptOutcome);
};
