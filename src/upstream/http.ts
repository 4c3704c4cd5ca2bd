import { setTimeout as sleep } from 'node:timers/promises';
import { Agent, type Dispatcher } from 'undici';
import { headerText } from '../http/headers.js';
import { isSaneRequestId } from '../http/request-id.js';
import { extended } from '../runtime/objects.js';
import { CallDeadline } from './deadline.js';
import { errorFromResponse, isRetryableRateLimit } from './error-response.js';
import {
  UpstreamBadResponseError,
  UpstreamCallerKeyError,
  type UpstreamError,
  UpstreamUnavailableError,
} from './errors.js';
import { defaultMaxSseLineBytes, type StreamTimeouts, streamCompletion } from './http-stream.js';
import type { CallOptions, CompletionsProvider, ProviderCompletion } from './provider.js';
import { discardBody, readBodyText } from './read-body.js';
import { redactSecrets, secretsDetector } from './redact.js';
import { checkCompletion, checkModelList, ShapeError } from './response-check.js';
import {
  type BackoffPolicy,
  isRetryableConnectionError,
  isRetryableStatus,
  nextRetryDelayMs,
  parseRetryAfterMs,
} from './retry.js';
import type { WireCompletionRequest, WireCompletionResponse, WireModel } from './wire.js';

/**
 * The provider over any OpenAI-compatible HTTP API (OpenAI, vLLM, llama.cpp, Ollama, LiteLLM).
 * Plain undici with a keep-alive pool: about 2.5x less CPU per call than the `openai` client.
 */

export interface HttpProviderOptions {
  baseUrl: string;
  apiKey: string | undefined;
  /** Deadline for a whole non-streamed call, retries and backoff included. */
  timeoutMs: number;
  maxRetries: number;
  /** Also bounds a whole stream, counted as it arrives. */
  maxResponseBytes: number;
  /** The longest SSE line (or event) of a stream; at most `maxResponseBytes`. */
  maxSseLineBytes?: number;
  backoff?: Partial<BackoffPolicy>;
  stream?: Partial<StreamTimeouts>;
  /** Injected in tests; by default a keep-alive pool owned (and closed) by the provider. */
  dispatcher?: Dispatcher;
  /**
   * Connections per upstream origin. Each open stream holds one, and undici queues requests past
   * the cap without honouring their abort signals, so it must exceed the streams expected at once.
   */
  maxConnections?: number;
  /**
   * Whether a 429 without a retry-after is retried here after a backoff. Behind a router it is not:
   * another deployment answers sooner than this one's guessed wait.
   */
  retryRateLimitWithoutRetryAfter?: boolean;
}

export interface HttpProvider extends CompletionsProvider {
  close(): Promise<void>;
}

export interface UpstreamResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Dispatcher.ResponseData['body'];
  requestId: string | undefined;
}

const ERROR_BODY_LIMIT = 64 * 1024;

/**
 * The upstream's request id, passed on to clients (`upstreamRequestId`, `x-upstream-request-id`):
 * only a short id of safe characters with nothing key-shaped in it; anything else is not passed on.
 */
function upstreamRequestId(
  headers: Record<string, string | string[] | undefined>,
  holdsSecret: (text: string) => boolean,
): string | undefined {
  const id = headerText(headers['x-request-id']);
  if (id === undefined || !isSaneRequestId(id)) return undefined;
  return holdsSecret(id) ? undefined : id;
}

export const defaultBackoff: BackoffPolicy = { baseDelayMs: 500, maxDelayMs: 8_000, maxRetryAfterMs: 20_000 };

export function createHttpProvider(options: HttpProviderOptions): HttpProvider {
  const ownsDispatcher = options.dispatcher === undefined;
  const dispatcher =
    options.dispatcher ??
    new Agent({
      keepAliveTimeout: 30_000,
      keepAliveMaxTimeout: 600_000,
      connections: options.maxConnections ?? 2048,
    });
  const backoff: BackoffPolicy = extended(defaultBackoff, options.backoff);
  const baseUrl = options.baseUrl.replace(/\/+$/, '');
  // Each path's origin and path parsed once: undici's top-level request() parses a URL string on
  // every call (a WHATWG URL each time); the dispatcher takes them as they are.
  const targets = new Map<string, { origin: string; path: string }>();
  const target = (path: string) => {
    let found = targets.get(path);
    if (found === undefined) {
      const url = new URL(`${baseUrl}${path}`);
      found = { origin: url.origin, path: `${url.pathname}${url.search}` };
      targets.set(path, found);
    }
    return found;
  };
  const secrets = [options.apiKey];
  const holdsOurSecret = secretsDetector(secrets);
  const headers: Record<string, string> = {
    accept: 'application/json',
    'user-agent': 'completions-subgraph',
  };
  if (options.apiKey !== undefined) headers.authorization = `Bearer ${options.apiKey}`;

  /** Sends one logical request, retrying only where a repeat cannot bill twice. */
  async function send(
    method: 'GET' | 'POST',
    path: string,
    body: string | undefined,
    deadline: CallDeadline,
    callOptions: CallOptions,
    accept = 'application/json',
  ): Promise<UpstreamResponse> {
    const requestHeaders: Record<string, string> = extended(headers, {
      accept,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    });
    // Pass-through mode: the client's own key replaces the server's, for this call only. A key no
    // header can carry (a WebSocket's connection params can hold anything) is the caller's to fix:
    // sent, undici would refuse it as a connection failure, and the breaker would count that
    // against the upstream, for every client.
    if (callOptions.apiKey !== undefined) {
      if (!/^[\x21-\x7e]{1,1024}$/.test(callOptions.apiKey)) {
        throw new UpstreamCallerKeyError('The key in x-upstream-api-key is not a valid API key.');
      }
      requestHeaders.authorization = `Bearer ${callOptions.apiKey}`;
    }
    if (callOptions.requestId !== undefined) requestHeaders['x-request-id'] = callOptions.requestId;
    if (callOptions.traceHeaders !== undefined) Object.assign(requestHeaders, callOptions.traceHeaders);
    const onAttempt = callOptions.onAttempt;
    const callSecrets = callOptions.apiKey === undefined ? secrets : [...secrets, callOptions.apiKey];
    for (let attempt = 0; ; attempt++) {
      let response: Dispatcher.ResponseData;
      try {
        response = await dispatcher.request(
          extended(target(path), {
            method,
            headers: requestHeaders,
            body,
            signal: deadline.signal,
            headersTimeout: 0,
            bodyTimeout: 0,
          }),
        );
      } catch (error) {
        deadline.throwIfAborted(error);
        const retried = attempt < options.maxRetries && isRetryableConnectionError(error);
        onAttempt?.('connection_error', retried);
        if (retried) {
          await waitBeforeRetry(attempt, undefined, deadline, () => unreachable(error));
          continue;
        }
        throw unreachable(error);
      }
      const requestId = upstreamRequestId(
        response.headers,
        callOptions.apiKey === undefined ? holdsOurSecret : (id) => redactSecrets(id, callSecrets) !== id,
      );
      if (response.statusCode >= 200 && response.statusCode < 300) {
        onAttempt?.(String(response.statusCode), false);
        return { status: response.statusCode, headers: response.headers, body: response.body, requestId };
      }
      const bodyText = await readBodyText(response.body, ERROR_BODY_LIMIT, deadline).catch(() => '');
      const retryAfterMs = parseRetryAfterMs(response.headers);
      const upstreamError = () =>
        errorFromResponse({
          status: response.statusCode,
          bodyText,
          requestId,
          retryAfterMs,
          secrets: callSecrets,
          callerKey: callOptions.apiKey !== undefined,
        });
      const retryable =
        isRetryableStatus(response.statusCode) &&
        (response.statusCode !== 429 ||
          (isRetryableRateLimit(bodyText) &&
            (retryAfterMs !== undefined || options.retryRateLimitWithoutRetryAfter !== false)));
      onAttempt?.(String(response.statusCode), attempt < options.maxRetries && retryable);
      if (attempt < options.maxRetries && retryable) {
        await waitBeforeRetry(attempt, retryAfterMs, deadline, upstreamError);
        continue;
      }
      throw upstreamError();
    }
  }

  async function waitBeforeRetry(
    retryIndex: number,
    retryAfterMs: number | undefined,
    deadline: CallDeadline,
    giveUp: () => UpstreamError,
  ): Promise<void> {
    const delay = nextRetryDelayMs({
      retryIndex,
      retryAfterMs,
      remainingMs: deadline.remainingMs(),
      policy: backoff,
    });
    if (delay === undefined) throw giveUp();
    try {
      await sleep(delay, undefined, { signal: deadline.signal });
    } catch (error) {
      deadline.throwIfAborted(error);
      throw error;
    }
  }

  async function readJson(response: UpstreamResponse, deadline: CallDeadline): Promise<unknown> {
    const contentType = headerText(response.headers['content-type']) ?? '';
    if (!/^application\/(?:[\w.+-]+\+)?json\b/i.test(contentType)) {
      discardBody(response.body);
      throw new UpstreamBadResponseError(
        `The upstream answered with content type "${contentType || 'none'}".`,
        {
          status: response.status,
          requestId: response.requestId,
        },
      );
    }
    const declared = Number(headerText(response.headers['content-length']) ?? Number.NaN);
    const text = await readBodyText(
      response.body,
      options.maxResponseBytes,
      deadline,
      response.requestId,
      Number.isSafeInteger(declared) && declared >= 0 ? declared : undefined,
    );
    try {
      return JSON.parse(text);
    } catch {
      throw new UpstreamBadResponseError('The upstream answered with malformed JSON.', {
        status: response.status,
        requestId: response.requestId,
      });
    }
  }

  function checked<T>(check: () => T, response: UpstreamResponse): T {
    try {
      return check();
    } catch (error) {
      if (!(error instanceof ShapeError)) throw error;
      throw new UpstreamBadResponseError(`The upstream answered with an invalid body: ${error.message}.`, {
        status: response.status,
        requestId: response.requestId,
      });
    }
  }

  return {
    name: 'openai',

    async complete(wire: WireCompletionRequest, callOptions: CallOptions = {}): Promise<ProviderCompletion> {
      const deadline = new CallDeadline(options.timeoutMs, callOptions.signal);
      try {
        const body = JSON.stringify(extended(wire, { stream: false }));
        const response = await send('POST', '/completions', body, deadline, callOptions);
        const json = await readJson(response, deadline);
        const checkedResponse = checked(() => checkCompletion(json), response);
        return response.requestId === undefined
          ? { response: checkedResponse }
          : { response: checkedResponse, requestId: response.requestId };
      } finally {
        deadline.dispose();
      }
    },

    stream(
      wire: WireCompletionRequest,
      callOptions: CallOptions = {},
    ): AsyncIterable<WireCompletionResponse> {
      return streamCompletion({
        wire,
        callOptions,
        timeouts: options.stream,
        maxBytes: options.maxResponseBytes,
        maxLineBytes: Math.min(options.maxSseLineBytes ?? defaultMaxSseLineBytes, options.maxResponseBytes),
        open: (body, deadline) =>
          send('POST', '/completions', body, deadline, callOptions, 'text/event-stream'),
        secrets: callOptions.apiKey === undefined ? secrets : [...secrets, callOptions.apiKey],
      });
    },

    async listModels(callOptions: CallOptions = {}): Promise<WireModel[]> {
      const deadline = new CallDeadline(options.timeoutMs, callOptions.signal);
      try {
        const response = await send('GET', '/models', undefined, deadline, callOptions);
        const json = await readJson(response, deadline);
        return checked(() => checkModelList(json), response);
      } finally {
        deadline.dispose();
      }
    },

    async close(): Promise<void> {
      if (ownsDispatcher) await dispatcher.close();
    },
  };
}

function unreachable(cause: unknown): UpstreamUnavailableError {
  return new UpstreamUnavailableError('The upstream could not be reached.', { cause });
}
