import type {
  WireChoice,
  WireCompletionRequest,
  WireCompletionResponse,
  WireLogprobs,
  WireModel,
  WirePrompt,
  WireUsage,
} from '../upstream/wire.js';
import type {
  Completion,
  CompletionChoice,
  CompletionLogprobs,
  CompletionRequestInput,
  CompletionUsage,
  FinishReason,
  Model,
  PromptInput,
  TopLogprob,
} from './model.js';

/**
 * The only place that knows both shapes: the upstream's wire JSON (snake_case) and the GraphQL
 * objects (camelCase, enums). Pure functions, no I/O.
 */

/** Wire parameter -> GraphQL argument path, so an error names what the client actually sent. */
const argumentByParam: Record<string, string> = {
  model: 'input.model',
  prompt: 'input.prompt',
  suffix: 'input.suffix',
  max_tokens: 'input.maxTokens',
  temperature: 'input.temperature',
  top_p: 'input.topP',
  n: 'input.n',
  logprobs: 'input.logprobs',
  echo: 'input.echo',
  stop: 'input.stop',
  presence_penalty: 'input.presencePenalty',
  frequency_penalty: 'input.frequencyPenalty',
  best_of: 'input.bestOf',
  logit_bias: 'input.logitBias',
  user: 'input.user',
  seed: 'input.seed',
  stream: 'input',
  stream_options: 'input.streamOptions',
  messages: 'input.prompt',
};

export function argumentForParam(param: string | undefined): string {
  if (param === undefined) return 'input';
  const root = param.split(/[.[]/, 1)[0] ?? param;
  return argumentByParam[root] ?? `input.${root.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase())}`;
}

/** Counts the prompt forms set; the `@oneOf` rule wants exactly one. */
export function promptForms(prompt: PromptInput): (keyof PromptInput)[] {
  return (['text', 'texts', 'tokens', 'tokenBatches'] as const).filter((key) => prompt[key] != null);
}

function toWirePrompt(prompt: PromptInput): WirePrompt {
  if (prompt.text != null) return prompt.text;
  if (prompt.texts != null) return [...prompt.texts];
  if (prompt.tokens != null) return [...prompt.tokens];
  if (prompt.tokenBatches != null) return prompt.tokenBatches.map((batch) => [...batch]);
  // Validation refuses an empty prompt input before this can matter; the spec's default prompt.
  return '<|endoftext|>';
}

/** GraphQL input -> wire request; absent arguments stay absent so the upstream applies its defaults. */
export function toWireRequest(input: CompletionRequestInput): WireCompletionRequest {
  const wire: WireCompletionRequest = { model: input.model, prompt: toWirePrompt(input.prompt) };
  // Plain `!= null` checks, one per field: a generic setter made this a hot spot on every call.
  if (input.suffix != null) wire.suffix = input.suffix;
  if (input.maxTokens != null) wire.max_tokens = input.maxTokens;
  if (input.temperature != null) wire.temperature = input.temperature;
  if (input.topP != null) wire.top_p = input.topP;
  if (input.n != null) wire.n = input.n;
  if (input.logprobs != null) wire.logprobs = input.logprobs;
  if (input.echo != null) wire.echo = input.echo;
  if (input.stop != null) wire.stop = [...input.stop];
  if (input.presencePenalty != null) wire.presence_penalty = input.presencePenalty;
  if (input.frequencyPenalty != null) wire.frequency_penalty = input.frequencyPenalty;
  if (input.bestOf != null) wire.best_of = input.bestOf;
  if (input.user != null) wire.user = input.user;
  if (input.seed != null) wire.seed = input.seed;
  if (input.logitBias != null) {
    wire.logit_bias = Object.fromEntries(input.logitBias.map(({ token, bias }) => [String(token), bias]));
  }
  if (input.streamOptions?.includeUsage != null) {
    wire.stream_options = { include_usage: input.streamOptions.includeUsage };
  }
  return wire;
}

export function toFinishReason(raw: string | null): FinishReason | null {
  switch (raw) {
    case null:
      return null;
    case 'stop':
      return 'STOP';
    case 'length':
      return 'LENGTH';
    case 'content_filter':
      return 'CONTENT_FILTER';
    default:
      return 'OTHER';
  }
}

function toTopLogprobs(map: Record<string, number> | null): TopLogprob[] | null {
  if (map === null) return null;
  return Object.entries(map)
    .map(([token, logprob]) => ({ token, logprob }))
    .sort((a, b) => b.logprob - a.logprob);
}

function toLogprobs(wire: WireLogprobs | null): CompletionLogprobs | null {
  if (wire === null) return null;
  return {
    tokens: wire.tokens,
    tokenLogprobs: wire.token_logprobs,
    textOffset: wire.text_offset,
    topLogprobs: wire.top_logprobs === null ? null : wire.top_logprobs.map(toTopLogprobs),
  };
}

export function toChoice(wire: WireChoice): CompletionChoice {
  return {
    text: wire.text,
    index: wire.index,
    logprobs: toLogprobs(wire.logprobs),
    finishReason: toFinishReason(wire.finish_reason),
    finishReasonRaw: wire.finish_reason,
  };
}

function detail(details: Record<string, number | undefined> | null | undefined, key: string): number | null {
  return details?.[key] ?? null;
}

export function toUsage(wire: WireUsage | null | undefined): CompletionUsage | null {
  if (wire == null) return null;
  const prompt = wire.prompt_tokens_details;
  const completion = wire.completion_tokens_details;
  return {
    promptTokens: wire.prompt_tokens,
    completionTokens: wire.completion_tokens,
    totalTokens: wire.total_tokens,
    promptTokensDetails:
      prompt == null
        ? null
        : {
            audioTokens: detail(prompt, 'audio_tokens'),
            cachedTokens: detail(prompt, 'cached_tokens'),
            textTokens: detail(prompt, 'text_tokens'),
            imageTokens: detail(prompt, 'image_tokens'),
            cacheWriteTokens: detail(prompt, 'cache_write_tokens'),
          },
    completionTokensDetails:
      completion == null
        ? null
        : {
            acceptedPredictionTokens: detail(completion, 'accepted_prediction_tokens'),
            audioTokens: detail(completion, 'audio_tokens'),
            reasoningTokens: detail(completion, 'reasoning_tokens'),
            rejectedPredictionTokens: detail(completion, 'rejected_prediction_tokens'),
            textTokens: detail(completion, 'text_tokens'),
          },
  };
}

export function toCompletion(wire: WireCompletionResponse): Completion {
  return {
    id: wire.id,
    object: wire.object,
    created: wire.created,
    model: wire.model,
    systemFingerprint: wire.system_fingerprint ?? null,
    choices: wire.choices.map(toChoice),
    usage: toUsage(wire.usage),
  };
}

export function toModel(wire: WireModel): Model {
  return {
    id: wire.id,
    object: wire.object,
    created: wire.created > 0 ? wire.created : null,
    ownedBy: wire.owned_by === '' ? null : wire.owned_by,
  };
}
