import type { PromptCounter } from '../completions/cost.js';
import type { CompletionRequestInput, CompletionUsage, FinishReason } from '../completions/model.js';
import { type PreparedCompletion, type PrepareSettings, prepareFromInput } from '../completions/prepare.js';
import { InvalidRequestError } from '../completions/validation.js';
import { extended } from '../runtime/objects.js';
import { TemplateVariableError } from './errors.js';
import { type PromptTemplate, renderPrompt, type TemplateParameters } from './template.js';

/**
 * A template field's call: the template's prompt rendered from the field's arguments, its model and
 * parameters with the caller's overrides, then prepared exactly as `createCompletion`'s input is
 * (the same rules, default max_tokens and price), so the plan prices both alike.
 */

/** What `overrides` may change; the rest of a template is the operator's. */
export interface TemplateOverrides {
  maxTokens?: number | null;
  temperature?: number | null;
  topP?: number | null;
  stop?: readonly string[] | null;
  seed?: number | null;
  user?: string | null;
}

const overridable = ['maxTokens', 'temperature', 'topP', 'stop', 'seed', 'user'] as const;

/** What a template field answers. */
export interface GeneratedText {
  text: string;
  texts: string[];
  finishReason: FinishReason | null;
  model: string;
  usage: CompletionUsage | null;
  cached: boolean;
  completionId: string;
}

function withOverrides(parameters: TemplateParameters, overrides: TemplateOverrides | null | undefined) {
  const merged: TemplateParameters = extended(parameters, {});
  for (const key of overridable) {
    const value = overrides?.[key];
    // An explicit null keeps the template's value: it is the operator's default, not "unset".
    if (value !== null && value !== undefined) (merged as Record<string, unknown>)[key] = value;
  }
  return merged;
}

const camel = (param: string) => param.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());

/** The checked, priced call for one template field; throws before anything is paid for. */
export function prepareTemplateCall(
  template: PromptTemplate,
  args: Readonly<Record<string, unknown>>,
  settings: PrepareSettings,
  counter: PromptCounter,
): PreparedCompletion {
  const overrides = args.overrides as TemplateOverrides | null | undefined;
  const input: CompletionRequestInput = extended(withOverrides(template.parameters, overrides), {
    model: template.model,
    prompt: { text: renderPrompt(template, args) },
  });
  try {
    return prepareFromInput(input, false, settings, counter);
  } catch (error) {
    // Name the override the caller sent when it is the one at fault; else the field as a whole
    // (a prompt its values made too long).
    if (error instanceof InvalidRequestError) {
      const field = camel(error.violation.param.split(/[.[]/, 1)[0] ?? '');
      const sent =
        (overridable as readonly string[]).includes(field) &&
        overrides?.[field as keyof TemplateOverrides] != null;
      throw new TemplateVariableError(sent ? `overrides.${field}` : template.name, error.violation.problem);
    }
    throw error;
  }
}
