/**
 * Turns a wire request into the engine's settings, refusing what the engine cannot do with
 * OpenAI-style messages. Range validation lives above the provider; here out-of-range values are
 * clamped so nothing can crash or hang the engine.
 */
import { UpstreamRequestError } from '../upstream/errors.js';
import type { WireCompletionRequest } from '../upstream/wire.js';
import type { ChoiceSettings } from './choice.js';
import { encodePrompt } from './prompt-encoder.js';
import type { SamplingSettings } from './sampler.js';
import { isVocabToken } from './tokenizer.js';
import type { Pacer } from './yielder.js';

/** Prompt plus completion, in tokens: the model's context window. */
export const CONTEXT_LIMIT = 2048;
const DEFAULT_MAX_TOKENS = 16;
const MAX_LOGPROBS = 20;
/** Default of `LOCAL_MAX_CHOICES`: prompts × max(n, best_of) per request. */
export const DEFAULT_MAX_CHOICES = 128;

export interface NormalizeOptions {
  /** Candidates (prompts × max(n, best_of)) one request may ask for, checked before any work. */
  maxChoices: number;
  /** The request's yielder: tokenizing a long prompt takes turns with the rest of the server. */
  pacer: Pacer;
  /** Sees the tokenizer's work between two offers to yield (tests). */
  onTokenizerSlice?: (units: number) => void;
}

export interface EngineRequest {
  prompts: number[][];
  n: number;
  bestOf: number;
  seed: number | undefined;
  includeUsage: boolean;
  sampling: SamplingSettings;
  choice: ChoiceSettings;
}

function finiteOr(value: number | undefined, fallback: number): number {
  return typeof value === 'number' && Number.isFinite(value) ? value : fallback;
}

function clamp(value: number, min: number, max: number): number {
  return Math.min(Math.max(value, min), max);
}

function refuse(message: string, param: string, upstreamCode?: string): never {
  throw new UpstreamRequestError(message, { status: 400, param, ...(upstreamCode ? { upstreamCode } : {}) });
}

function tokenPrompt(tokens: readonly unknown[]): number[] {
  for (const id of tokens) {
    if (typeof id !== 'number' || !isVocabToken(id)) {
      refuse(
        `Invalid token in prompt: ${String(id)}. Token ids must be in the model's vocabulary.`,
        'prompt',
      );
    }
  }
  return tokens as number[];
}

/** How many prompts a request holds, from its shape alone (nothing tokenized). */
function promptCount(prompt: unknown): number {
  if (!Array.isArray(prompt) || prompt.length === 0) return 1;
  return prompt.every((p) => typeof p === 'number') ? 1 : prompt.length;
}

function refuseTooLong(promptTokens: number | null, maxTokens: number): never {
  // A prompt that is refused as soon as it passes the window has no exact count.
  const [requested, inPrompt] =
    promptTokens === null
      ? [`more than ${CONTEXT_LIMIT + maxTokens}`, `more than ${CONTEXT_LIMIT}`]
      : [String(promptTokens + maxTokens), String(promptTokens)];
  refuse(
    `This model's maximum context length is ${CONTEXT_LIMIT} tokens, however you requested ` +
      `${requested} tokens (${inPrompt} in your prompt; ${maxTokens} for the ` +
      'completion). Please reduce your prompt; or completion length.',
    'max_tokens',
    'context_length_exceeded',
  );
}

/**
 * Every prompt form OpenAI accepts: string, string[], token array, array of token arrays. Each
 * must fit the context window with `maxTokens`; a text is tokenized only up to the window.
 */
async function promptTokens(prompt: unknown, maxTokens: number, options: NormalizeOptions) {
  const withinWindow = (tokens: number[]) => {
    if (tokens.length + maxTokens > CONTEXT_LIMIT) refuseTooLong(tokens.length, maxTokens);
    return tokens;
  };
  const text = async (p: string) => {
    const tokens = await encodePrompt(p, {
      pacer: options.pacer,
      maxTokens: CONTEXT_LIMIT,
      ...(options.onTokenizerSlice ? { onSlice: options.onTokenizerSlice } : {}),
    });
    return tokens === null ? refuseTooLong(null, maxTokens) : withinWindow(tokens);
  };
  if (typeof prompt === 'string') return [await text(prompt)];
  if (!Array.isArray(prompt) || prompt.length === 0) {
    refuse('`prompt` must be a string, an array of strings, or (arrays of) token ids.', 'prompt');
  }
  const prompts: number[][] = [];
  if (prompt.every((p) => typeof p === 'string')) {
    for (const p of prompt) prompts.push(await text(p));
  } else if (prompt.every((p) => typeof p === 'number')) {
    prompts.push(withinWindow(tokenPrompt(prompt)));
  } else if (prompt.every((p) => Array.isArray(p))) {
    for (const p of prompt) prompts.push(withinWindow(tokenPrompt(p)));
  } else {
    refuse('`prompt` mixes strings, token ids and token arrays.', 'prompt');
  }
  return prompts;
}

function logitBias(bias: Record<string, number> | undefined): Map<number, number> {
  const out = new Map<number, number>();
  for (const [key, value] of Object.entries(bias ?? {})) {
    const id = /^\d+$/.test(key) ? Number(key) : Number.NaN;
    if (!isVocabToken(id))
      refuse(`Invalid key in logit_bias: ${key} is not a token id of this model.`, 'logit_bias');
    if (typeof value !== 'number' || !Number.isFinite(value)) {
      refuse(`Invalid value in logit_bias for token ${key}: expected a number.`, 'logit_bias');
    }
    if (value !== 0) out.set(id, clamp(value, -100, 100));
  }
  return out;
}

/** OpenAI also takes a lone string; the wire type says array, but the JSON may not. */
function stopList(stop: unknown): string[] {
  const list: unknown[] = typeof stop === 'string' ? [stop] : Array.isArray(stop) ? stop : [];
  return list.filter((s): s is string => typeof s === 'string' && s !== '');
}

export async function normalizeRequest(
  req: WireCompletionRequest,
  modelId: string,
  streaming: boolean,
  options: NormalizeOptions,
): Promise<EngineRequest> {
  if (req.model !== modelId) {
    throw new UpstreamRequestError(
      `The model \`${req.model}\` does not exist or you do not have access to it.`,
      {
        status: 404,
        param: 'model',
        upstreamCode: 'model_not_found',
      },
    );
  }
  if (typeof req.suffix === 'string' && req.suffix !== '') {
    refuse(
      `The model \`${modelId}\` does not support insertion: \`suffix\` must be empty or omitted.`,
      'suffix',
    );
  }
  const n = Math.trunc(clamp(finiteOr(req.n, 1), 1, 128));
  const bestOf = Math.trunc(clamp(finiteOr(req.best_of, n), 1, 128));
  if (bestOf < n) refuse('`best_of` must be greater than or equal to `n`.', 'best_of');
  if (streaming && finiteOr(req.best_of, 1) > 1) {
    refuse(
      'Cannot stream results with best_of > 1: candidates are ranked only once all are finished.',
      'best_of',
    );
  }
  // Counted from the request's shape, so an oversized request costs no tokenizing at all.
  const prompts = promptCount(req.prompt);
  const perPrompt = Math.max(n, bestOf);
  if (prompts * perPrompt > options.maxChoices) {
    refuse(
      `This request asks for ${prompts * perPrompt} completions (${prompts} prompt(s) × ${perPrompt}); ` +
        `this server's local engine generates at most ${options.maxChoices} per request.`,
      prompts > options.maxChoices ? 'prompt' : bestOf > n ? 'best_of' : 'n',
    );
  }
  // Not clamped to the window: a request past it is refused naming what was asked, as OpenAI does.
  const maxTokens = Math.trunc(Math.max(0, finiteOr(req.max_tokens, DEFAULT_MAX_TOKENS)));
  const logprobs = req.logprobs === undefined || req.logprobs === null ? null : req.logprobs;
  const topLogprobs = logprobs === null ? -1 : Math.trunc(clamp(finiteOr(logprobs, 0), 0, MAX_LOGPROBS));
  return {
    prompts: await promptTokens(req.prompt, maxTokens, options),
    n,
    bestOf,
    seed: typeof req.seed === 'number' && Number.isFinite(req.seed) ? req.seed : undefined,
    includeUsage: streaming && req.stream_options?.include_usage === true,
    sampling: {
      temperature: clamp(finiteOr(req.temperature, 1), 0, 2),
      topP: clamp(finiteOr(req.top_p, 1), 0, 1),
      bias: logitBias(req.logit_bias),
      presencePenalty: clamp(finiteOr(req.presence_penalty, 0), -2, 2),
      frequencyPenalty: clamp(finiteOr(req.frequency_penalty, 0), -2, 2),
      topLogprobs,
    },
    choice: {
      maxTokens,
      stop: stopList(req.stop),
      logprobs: logprobs === null ? null : topLogprobs,
      echo: req.echo === true,
    },
  };
}
