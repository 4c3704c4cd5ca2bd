/**
 * The GraphQL-side shapes of the completion domain (camelCase, enums), independent of Pothos so
 * the service and the mapping can be tested without a schema. The schema layer exposes them.
 */

export interface PromptInput {
  text?: string | null;
  texts?: readonly string[] | null;
  tokens?: readonly number[] | null;
  tokenBatches?: readonly (readonly number[])[] | null;
}

export interface LogitBiasEntry {
  token: number;
  bias: number;
}

export interface StreamOptionsInput {
  includeUsage?: boolean | null;
}

export interface CompletionRequestInput {
  model: string;
  prompt: PromptInput;
  suffix?: string | null;
  maxTokens?: number | null;
  temperature?: number | null;
  topP?: number | null;
  n?: number | null;
  logprobs?: number | null;
  echo?: boolean | null;
  stop?: readonly string[] | null;
  presencePenalty?: number | null;
  frequencyPenalty?: number | null;
  bestOf?: number | null;
  logitBias?: readonly LogitBiasEntry[] | null;
  user?: string | null;
  seed?: number | null;
  streamOptions?: StreamOptionsInput | null;
  /** Keep the finished completion, readable later by id (and by other subgraphs, as an entity). */
  store?: boolean | null;
}

export const finishReasons = ['STOP', 'LENGTH', 'CONTENT_FILTER', 'OTHER'] as const;
export type FinishReason = (typeof finishReasons)[number];

export interface TopLogprob {
  token: string;
  logprob: number;
}

export interface CompletionLogprobs {
  tokens: string[];
  tokenLogprobs: (number | null)[];
  textOffset: number[];
  topLogprobs: (TopLogprob[] | null)[] | null;
}

export interface CompletionChoice {
  text: string;
  index: number;
  logprobs: CompletionLogprobs | null;
  finishReason: FinishReason | null;
  /** The upstream's own word, kept because compatible servers invent values (`abort`, `repetition`). */
  finishReasonRaw: string | null;
}

export interface PromptTokensDetails {
  audioTokens: number | null;
  cachedTokens: number | null;
  textTokens: number | null;
  imageTokens: number | null;
  cacheWriteTokens: number | null;
}

export interface CompletionTokensDetails {
  acceptedPredictionTokens: number | null;
  audioTokens: number | null;
  reasoningTokens: number | null;
  rejectedPredictionTokens: number | null;
  textTokens: number | null;
}

export interface CompletionUsage {
  promptTokens: number;
  completionTokens: number;
  totalTokens: number;
  promptTokensDetails: PromptTokensDetails | null;
  completionTokensDetails: CompletionTokensDetails | null;
}

export interface Completion {
  id: string;
  object: string;
  /** Unix seconds, as the upstream sends it. */
  created: number;
  model: string;
  systemFingerprint: string | null;
  choices: CompletionChoice[];
  usage: CompletionUsage | null;
  /** Set once the completion is stored. */
  storedAt?: Date;
  /** The request parameters, on a completion read back from storage. */
  parameters?: CompletionRequestInput;
}

export interface Model {
  id: string;
  object: string;
  created: number | null;
  ownedBy: string | null;
}
