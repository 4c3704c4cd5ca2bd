import { estimateCompletionCost, PromptCounter } from '../../completions/cost.js';
import type { Completion, CompletionUsage } from '../../completions/model.js';
import type { PreparedCompletion } from '../../completions/prepare.js';
import type { GraphQLContext } from '../../context.js';
import { ModelNotAllowedError } from '../../limits/spend-budget.js';
import { extended } from '../../runtime/objects.js';
import { promptKey, reusableFor, samplingKey } from '../../templates/cache-key.js';
import type { GeneratedText } from '../../templates/call.js';
import type { PromptOutcome, PromptResult } from '../../templates/result-cache.js';
import { defaultMaxPromptsPerCall, type PromptTemplate } from '../../templates/template.js';
import { UpstreamBadResponseError, UpstreamRequestError } from '../../upstream/errors.js';
import { completionCallOptions } from '../call-options.js';

/**
 * How a template's planned call runs: its prompts answered from the cache where the template allows
 * reuse, the rest in upstream calls of at most `maxPromptsPerCall` prompts each (the whole batch in
 * one call unless the upstream's limit demands more). Every result is also noted for the response's
 * cache hint, and every reused one in the ledger and `extensions.usage` as free.
 */

/** The prompts of a planned call (a template field has one, an entity batch one per entity). */
function promptsOf(call: PreparedCompletion): string[] {
  const prompt = call.wire.prompt;
  if (typeof prompt === 'string') return [prompt];
  if (Array.isArray(prompt) && prompt.every((p): p is string => typeof p === 'string')) return prompt;
  throw new Error('a template call has text prompts');
}

/** `total` split in proportion to `weights`, in whole tokens that sum to it (largest remainder). */
export function splitTokens(total: number, weights: readonly number[]): number[] {
  const sum = weights.reduce((a, b) => a + b, 0);
  if (sum === 0) return weights.map((_, i) => (i === 0 ? total : 0));
  const exact = weights.map((w) => (total * w) / sum);
  const parts = exact.map(Math.floor);
  let left = total - parts.reduce((a, b) => a + b, 0);
  const order = exact.map((x, i) => [x - Math.floor(x), i] as const).sort((a, b) => b[0] - a[0]);
  for (const [, i] of order) {
    if (left <= 0) break;
    parts[i] = (parts[i] ?? 0) + 1;
    left--;
  }
  return parts;
}

/**
 * Each prompt's share of one call's answer: its choices (index / n is the prompt), and the usage
 * split by prompt length (in) and generated length (out), since the upstream reports it per call.
 * A prompt left without a choice gets an error, never another prompt's text.
 */
export function perPrompt(
  completion: Completion,
  prompts: readonly string[],
  n: number,
): (PromptResult | Error)[] {
  const byPrompt: Completion['choices'][number][][] = prompts.map(() => []);
  for (const choice of completion.choices) byPrompt[Math.floor(choice.index / n)]?.push(choice);
  let promptTokens: number[] = [];
  let completionTokens: number[] = [];
  if (completion.usage !== null) {
    promptTokens = splitTokens(
      completion.usage.promptTokens,
      prompts.map((p) => p.length),
    );
    completionTokens = splitTokens(
      completion.usage.completionTokens,
      byPrompt.map((choices) => choices.reduce((sum, c) => sum + c.text.length, 0)),
    );
  }
  return byPrompt.map((choices, p) => {
    if (choices.length === 0) {
      return new UpstreamBadResponseError(`The upstream answered no choice for this prompt (${p}).`);
    }
    choices.sort((a, b) => a.index - b.index);
    let usage: CompletionUsage | null = null;
    if (completion.usage !== null) {
      const input = promptTokens[p] ?? 0;
      const output = completionTokens[p] ?? 0;
      usage = {
        promptTokens: input,
        completionTokens: output,
        totalTokens: input + output,
        promptTokensDetails: null,
        completionTokensDetails: null,
      };
    }
    return {
      texts: choices.map((c) => c.text),
      finishReason: choices[0]?.finishReason ?? null,
      model: completion.model,
      usage,
      completionId: completion.id,
    };
  });
}

/** The planned call narrowed to some of its prompts, priced again for the smaller call. */
function narrowed(call: PreparedCompletion, prompts: string[]): PreparedCompletion {
  const wire = extended(call.wire, {
    prompt: prompts.length === 1 && typeof call.wire.prompt === 'string' ? (prompts[0] as string) : prompts,
  });
  return { wire, estimate: estimateCompletionCost(wire, new PromptCounter()) };
}

/** A prompt's outcome as the field answers it: its text, or its error thrown at the field's path. */
export function generatedText(outcome: PromptOutcome): GeneratedText {
  if (!outcome.ok) throw outcome.error;
  const { result } = outcome;
  return {
    text: result.texts[0] ?? '',
    texts: result.texts,
    finishReason: result.finishReason,
    model: result.model,
    usage: result.usage,
    cached: outcome.cached,
    completionId: result.completionId,
  };
}

/** Notes this field's results for the response's Cache-Control (see plugins/cache-hints.ts). */
function noteHint(context: GraphQLContext, outcomes: readonly PromptOutcome[], reusable: boolean): void {
  for (const outcome of outcomes) {
    if (!reusable || !outcome.ok) context.cacheHint = 'none';
    else if (context.cacheHint !== 'none') {
      context.cacheHint = Math.min(context.cacheHint ?? Number.POSITIVE_INFINITY, outcome.maxAgeSeconds);
    }
  }
}

/** Free results: one ledger row per model and one `extensions.usage` entry for the field. */
function account(
  context: GraphQLContext,
  template: PromptTemplate,
  field: string,
  outcomes: PromptOutcome[],
) {
  const byModel = new Map<string, number>();
  for (const outcome of outcomes) {
    if (outcome.ok && outcome.cached)
      byModel.set(outcome.result.model, (byModel.get(outcome.result.model) ?? 0) + 1);
  }
  const hits = [...byModel.values()].reduce((a, b) => a + b, 0);
  context.promptCache?.counted(template.name, hits, outcomes.length - hits);
  for (const [model, count] of byModel) {
    context.usage
      ?.record({
        clientName: context.client.name,
        model,
        promptTokens: 0,
        completionTokens: 0,
        requests: 0,
        cachedRequests: count,
      })
      .catch(() => undefined);
    context.usageReport.push({
      field,
      model,
      promptTokens: 0,
      completionTokens: 0,
      costUsd: 0,
      cachedResults: count,
    });
  }
}

/**
 * Runs a planned template call (one prompt, or an entity batch's prompts) and answers each prompt:
 * reused, or from upstream calls of at most `maxPromptsPerCall` prompts, concurrently.
 */
export async function runTemplateCall(
  context: GraphQLContext,
  template: PromptTemplate,
  call: PreparedCompletion,
  field: string,
  /** The GraphQL argument an upstream refusal is blamed on: the field's name, or `representations`. */
  argument: string,
): Promise<PromptOutcome[]> {
  const prompts = promptsOf(call);
  const n = call.wire.n ?? 1;
  const perCall = template.entity?.maxPromptsPerCall ?? defaultMaxPromptsPerCall;
  const run = async (indices: number[]): Promise<(PromptResult | Error)[]> => {
    const chunks: number[][] = [];
    for (let at = 0; at < indices.length; at += perCall) chunks.push(indices.slice(at, at + perCall));
    const answers = await Promise.all(
      chunks.map(async (chunk) => {
        const texts = chunk.map((index) => prompts[index] as string);
        // The whole planned call when nothing was reused: exactly what the plan priced.
        const sub = chunk.length === prompts.length ? call : narrowed(call, texts);
        try {
          const { completion } = await context.completions.create(sub, completionCallOptions(context, field));
          return perPrompt(completion, texts, n);
        } catch (caught) {
          // `input.prompt` or `input.model` would name an argument the template field does not have.
          const error =
            caught instanceof UpstreamRequestError || caught instanceof ModelNotAllowedError
              ? caught.withArgument(argument)
              : caught;
          return chunk.map(() => (error instanceof Error ? error : new Error(String(error))));
        }
      }),
    );
    return answers.flat();
  };
  const cache = context.promptCache;
  const ttlSeconds = reusableFor(template, call.wire);
  // A caller's own upstream key (pass-through) pays for its results, and an upstream may answer
  // differently per key: never served from, nor stored for, anyone else (nor read by a key the
  // upstream would refuse).
  if (cache === undefined || ttlSeconds === undefined || context.upstreamApiKey !== undefined) {
    const results = await run(prompts.map((_, index) => index));
    const outcomes = results.map(
      (result): PromptOutcome =>
        result instanceof Error
          ? { ok: false, error: result }
          : { ok: true, result, cached: false, maxAgeSeconds: 0 },
    );
    noteHint(context, outcomes, false);
    return outcomes;
  }
  try {
    cache.assertAllowed(context.client.name, template.model);
  } catch (error) {
    throw error instanceof ModelNotAllowedError ? error.withArgument(argument) : error;
  }
  const sampling = samplingKey(template, call.wire, context.client.name);
  const outcomes = await cache.resolve(
    prompts.map((prompt) => promptKey(sampling, prompt)),
    ttlSeconds,
    run,
  );
  noteHint(context, outcomes, true);
  account(context, template, field, outcomes);
  return outcomes;
}
