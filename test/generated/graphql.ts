/* eslint-disable */
/** Internal type. DO NOT USE DIRECTLY. */
type Exact<T extends { [key: string]: unknown }> = { [K in keyof T]: T[K] };
/** Internal type. DO NOT USE DIRECTLY. */
export type Incremental<T> = T | { [P in keyof T]?: P extends ' $fragmentName' | '__typename' ? T[P] : never };
import type { TypedDocumentNode as DocumentNode } from '@graphql-typed-document-node/core';
/** The parameters of a text completion, as the upstream `POST /v1/completions` documents them. */
export type CreateCompletionInput = {
  /** Generates bestOf candidates server-side (at most 20, at least n) and returns the n with the highest log probability per token. Cannot be streamed; costs bestOf times the tokens. */
  bestOf?: number | null | undefined;
  /** Echo back the prompt in addition to the completion (default false). */
  echo?: boolean | null | undefined;
  /** Between -2.0 and 2.0 (default 0). Positive values penalize tokens by how often they appear in the text so far, making verbatim repetition less likely. */
  frequencyPenalty?: number | null | undefined;
  /** Biases added to the logits of chosen tokens before sampling (at most 300 entries). */
  logitBias?: Array<LogitBiasEntry> | null | undefined;
  /** Include the log probabilities of the `logprobs` most likely tokens (0 to 5) and of the chosen token, so up to logprobs + 1 entries per position. */
  logprobs?: number | null | undefined;
  /** The maximum number of tokens that can be generated in the completion (upstream default 16). The prompt’s tokens plus maxTokens cannot exceed the model’s context length. 0 is allowed only with echo. */
  maxTokens?: number | null | undefined;
  /** ID of the model to use; `Query.models` lists the ones this server can reach. */
  model: string;
  /** How many completions to generate for each prompt, 1 to 128 (default 1). Costs n times the tokens. */
  n?: number | null | undefined;
  /** Between -2.0 and 2.0 (default 0). Positive values penalize tokens that already appear in the text so far, making new topics more likely. */
  presencePenalty?: number | null | undefined;
  /** The prompt(s) to generate completions for. */
  prompt: PromptInput;
  /** If set, sampling is made deterministic on a best-effort basis: the same seed and parameters should return the same result. Compare systemFingerprint to see backend changes. */
  seed?: number | null | undefined;
  /** Up to 4 sequences where generation stops. The returned text does not contain the stop sequence. */
  stop?: Array<string> | null | undefined;
  /** Keep the finished completion (default false): `Query.completion(id)` and other subgraphs (through the CreateCompletionResponse entity) can read it later. A streamed completion is stored once it has ended. */
  store?: boolean | null | undefined;
  /** Options for `Subscription.completionStream` only; refused on `Mutation.createCompletion`. */
  streamOptions?: StreamOptionsInput | null | undefined;
  /** The suffix that comes after a completion of inserted text. Only some models support it. */
  suffix?: string | null | undefined;
  /** Sampling temperature between 0 and 2 (default 1). Higher values like 0.8 make the output more random, lower values like 0.2 more focused and deterministic. Alter this or topP, not both. */
  temperature?: number | null | undefined;
  /** Nucleus sampling between 0 and 1 (default 1): only the tokens comprising the topP probability mass are considered. Alter this or temperature, not both. */
  topP?: number | null | undefined;
  /** A unique identifier of your end user, which helps the upstream detect abuse. */
  user?: string | null | undefined;
};

/** Why the model stopped generating tokens. */
export type FinishReason =
  /** Content was omitted because of a flag from the upstream’s content filters. */
  | 'CONTENT_FILTER'
  /** The maximum number of tokens in the request was reached. */
  | 'LENGTH'
  /** A reason outside the spec that a compatible server sent (vLLM sends abort, error, repetition); see finishReasonRaw. */
  | 'OTHER'
  /** The model hit a natural stop point or a provided stop sequence. */
  | 'STOP';

/** A bias added to the logit of one token before sampling. Values between -1 and 1 nudge the token; -100 bans it and 100 forces it. */
export type LogitBiasEntry = {
  /** The bias, from -100 to 100. */
  bias: number;
  /** The token id in the model’s GPT tokenizer (for example 50256, <|endoftext|>). */
  token: number;
};

/** The prompt(s) to generate completions for: exactly one of a string, a list of strings, a list of tokens, or a list of token lists. Note that <|endoftext|> is the document separator that the model sees during training. */
export type PromptInput =
  {   /** One prompt as text. */
  text: string; texts?: never; tokenBatches?: never; tokens?: never; }
  |  { text?: never;   /** Several prompts as text; each gets its own choices (indexed promptIndex * n + i). */
  texts: Array<string>; tokenBatches?: never; tokens?: never; }
  |  { text?: never; texts?: never;   /** Several prompts, each as a non-empty list of token ids. */
  tokenBatches: Array<Array<number>>; tokens?: never; }
  |  { text?: never; texts?: never; tokenBatches?: never;   /** One prompt as token ids of the model’s tokenizer. */
  tokens: Array<number>; };

/** Options for a streamed completion. */
export type StreamOptionsInput = {
  /** If true, a last event before the end of the stream carries the token usage of the whole request, with no choices. If the stream is interrupted, that event may never come. */
  includeUsage?: boolean | null | undefined;
};

export type CreateCompletionMutationVariables = Exact<{
  input: CreateCompletionInput;
}>;


export type CreateCompletionMutation = { createCompletion: { id: string, model: string, created: number, createdAt: string, choices: Array<{ index: number, text: string, finishReason: FinishReason | null, finishReasonRaw: string | null }>, usage: { promptTokens: number, completionTokens: number, totalTokens: number } | null } };

export type ModelsQueryVariables = Exact<{ [key: string]: never; }>;


export type ModelsQuery = { models: Array<{ id: string, ownedBy: string | null }> };

export type StoredCompletionQueryVariables = Exact<{
  id: string | number;
}>;


export type StoredCompletionQuery = { completion: { id: string, storedAt: string | null, choices: Array<{ text: string }> } | null };


export const CreateCompletionDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"mutation","name":{"kind":"Name","value":"CreateCompletion"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"input"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"CreateCompletionInput"}}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"createCompletion"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"input"},"value":{"kind":"Variable","name":{"kind":"Name","value":"input"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"model"}},{"kind":"Field","name":{"kind":"Name","value":"created"}},{"kind":"Field","name":{"kind":"Name","value":"createdAt"}},{"kind":"Field","name":{"kind":"Name","value":"choices"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"index"}},{"kind":"Field","name":{"kind":"Name","value":"text"}},{"kind":"Field","name":{"kind":"Name","value":"finishReason"}},{"kind":"Field","name":{"kind":"Name","value":"finishReasonRaw"}}]}},{"kind":"Field","name":{"kind":"Name","value":"usage"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"promptTokens"}},{"kind":"Field","name":{"kind":"Name","value":"completionTokens"}},{"kind":"Field","name":{"kind":"Name","value":"totalTokens"}}]}}]}}]}}]} as unknown as DocumentNode<CreateCompletionMutation, CreateCompletionMutationVariables>;
export const ModelsDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"query","name":{"kind":"Name","value":"Models"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"models"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"ownedBy"}}]}}]}}]} as unknown as DocumentNode<ModelsQuery, ModelsQueryVariables>;
export const StoredCompletionDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"query","name":{"kind":"Name","value":"StoredCompletion"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"id"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"ID"}}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"completion"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"id"},"value":{"kind":"Variable","name":{"kind":"Name","value":"id"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"storedAt"}},{"kind":"Field","name":{"kind":"Name","value":"choices"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"text"}}]}}]}}]}}]} as unknown as DocumentNode<StoredCompletionQuery, StoredCompletionQueryVariables>;