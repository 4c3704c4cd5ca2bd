import type { WireCompletionRequest, WireCompletionResponse, WireModel } from './wire.js';

export interface CallOptions {
  /** Aborts the upstream work: the caller's disconnect, or a deadline set above the provider. */
  signal?: AbortSignal;
  /** A stable identity of the calling client (a configured key's name), for limits and usage. */
  client?: string;
  /** The caller's own upstream key, in pass-through mode; never logged, never echoed. */
  apiKey?: string;
  /** Our request's id, sent to the upstream so one call can be found on both sides. */
  requestId?: string;
  /** W3C trace context of this call (`traceparent`, `tracestate`), sent to the upstream. */
  traceHeaders?: Readonly<Record<string, string>>;
  /** Told of each HTTP attempt: its status (or `connection_error`), and whether it is retried. */
  onAttempt?: (status: string, retried: boolean) => void;
  /** The call's priced tokens: a router reserves them from its deployments' tokens-per-minute. */
  estimatedTokens?: number;
  /** Told which deployment served the call (a router; a single provider never calls it). */
  onServed?: (served: ServedBy) => void;
}

export interface ServedBy {
  deployment: string;
  /** The deployment's own name for the model. */
  model: string;
}

export interface ProviderCompletion {
  response: WireCompletionResponse;
  /** The upstream's request id (`x-request-id`), when it sent one. */
  requestId?: string;
}

/**
 * What every completions backend offers: the HTTP provider over an OpenAI-compatible API and the
 * embedded local engine. Failures are thrown as the typed errors of `./errors.ts`, never as
 * GraphQL errors: this layer knows nothing of GraphQL.
 */
export interface CompletionsProvider {
  /** Short name for logs and start-up messages (`openai`, `local`). */
  readonly name: string;
  complete(request: WireCompletionRequest, options?: CallOptions): Promise<ProviderCompletion>;
  /** Chunks in the upstream's streaming shape; ends after the last chunk (the `[DONE]` marker is not yielded). */
  stream(request: WireCompletionRequest, options?: CallOptions): AsyncIterable<WireCompletionResponse>;
  listModels(options?: CallOptions): Promise<WireModel[]>;
}
