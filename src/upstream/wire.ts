/**
 * The upstream's JSON exactly as it travels (snake_case), per the OpenAI OpenAPI spec for
 * `POST /v1/completions` and `GET /v1/models`. Only `src/completions/mapping.ts` translates
 * between these and the GraphQL shapes.
 */

export type WirePrompt = string | string[] | number[] | number[][];

export interface WireCompletionRequest {
  model: string;
  prompt: WirePrompt;
  suffix?: string;
  max_tokens?: number;
  temperature?: number;
  top_p?: number;
  n?: number;
  logprobs?: number;
  echo?: boolean;
  stop?: string[];
  presence_penalty?: number;
  frequency_penalty?: number;
  best_of?: number;
  logit_bias?: Record<string, number>;
  user?: string;
  seed?: number;
  stream?: boolean;
  stream_options?: { include_usage?: boolean };
}

export interface WireLogprobs {
  tokens: string[];
  token_logprobs: (number | null)[];
  /** One map per token (token text -> logprob); `null` where the upstream has none (echoed first token). */
  top_logprobs: (Record<string, number> | null)[] | null;
  text_offset: number[];
}

export interface WireChoice {
  text: string;
  index: number;
  logprobs: WireLogprobs | null;
  /** `null` on every streamed chunk but the last of a choice; a string outside the spec's enum is possible. */
  finish_reason: string | null;
}

export interface WireUsage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  prompt_tokens_details?: Record<string, number | undefined> | null;
  completion_tokens_details?: Record<string, number | undefined> | null;
}

/** A whole completion, and also one streamed chunk: the upstream uses the same shape for both. */
export interface WireCompletionResponse {
  id: string;
  object: string;
  created: number;
  model: string;
  system_fingerprint?: string | null;
  choices: WireChoice[];
  usage?: WireUsage | null;
}

export interface WireModel {
  id: string;
  object: string;
  created: number;
  owned_by: string;
}
