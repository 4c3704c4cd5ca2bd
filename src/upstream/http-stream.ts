import { extended } from '../runtime/objects.js';
import { CallDeadline } from './deadline.js';
import { errorFromResponse, parseErrorEnvelope } from './error-response.js';
import { UpstreamBadResponseError, UpstreamError, UpstreamUnavailableError } from './errors.js';
import type { CallOptions } from './provider.js';
import { discardBody, type ReleasableBody, releaseBody } from './read-body.js';
import { checkCompletion, ShapeError } from './response-check.js';
import { readSseData, SseLimitError } from './sse.js';
import type { WireCompletionRequest, WireCompletionResponse } from './wire.js';

/** A streamed completion over HTTP: the SSE body, checked chunk by chunk, under three timeouts. */

export interface StreamTimeouts {
  /** Until the first byte of the answer (headers included). */
  firstByteMs: number;
  /** The longest silence between two pieces of the body once it has started. */
  idleMs: number;
  /** The whole stream, from request to `[DONE]`. */
  totalMs: number;
}

export const defaultStreamTimeouts: StreamTimeouts = {
  firstByteMs: 10_000,
  idleMs: 30_000,
  totalMs: 600_000,
};

/** A chunk is one token's worth of JSON; a megabyte line is a server that lost its way. */
export const defaultMaxSseLineBytes = 1024 * 1024;

interface OpenedStream {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: ReleasableBody;
  requestId: string | undefined;
}

export interface StreamCompletionArgs {
  wire: WireCompletionRequest;
  callOptions: CallOptions;
  timeouts: Partial<StreamTimeouts> | undefined;
  /** The whole body, in bytes as received; past it the stream is refused and its connection closed. */
  maxBytes?: number;
  maxLineBytes?: number;
  open: (body: string, deadline: CallDeadline) => Promise<OpenedStream>;
  secrets: readonly (string | undefined)[];
}

export async function* streamCompletion(args: StreamCompletionArgs): AsyncGenerator<WireCompletionResponse> {
  const timeouts = extended(defaultStreamTimeouts, args.timeouts);
  const deadline = new CallDeadline(timeouts.totalMs, args.callOptions.signal);
  let cancelIdle = deadline.timeoutAfter(
    timeouts.firstByteMs,
    `The upstream sent nothing for ${timeouts.firstByteMs} ms.`,
  );
  const resetIdle = () => {
    cancelIdle();
    cancelIdle = deadline.timeoutAfter(
      timeouts.idleMs,
      `The upstream stream was silent for ${timeouts.idleMs} ms.`,
    );
  };
  let opened: OpenedStream | undefined;
  let done = false;
  try {
    opened = await args.open(JSON.stringify(extended(args.wire, { stream: true })), deadline);
    resetIdle();
    const requestId = opened.requestId;
    const contentType = String(opened.headers['content-type'] ?? '');
    if (!contentType.toLowerCase().startsWith('text/event-stream')) {
      throw new UpstreamBadResponseError(
        `The upstream answered a stream with content type "${contentType}".`,
        {
          requestId,
        },
      );
    }
    const finished = new Map<number, boolean>();
    let reportedUsage = false;
    // Node's decoder keeps characters split across chunks whole (cheaper than a TextDecoder per
    // stream); leaving the loop at [DONE] must not destroy the body: see releaseBody.
    opened.body.setEncoding('utf8');
    const body = opened.body.iterator({ destroyOnReturn: false });
    const metered = touching(body, resetIdle, args.maxBytes ?? Number.POSITIVE_INFINITY, requestId);
    const readOptions = args.maxLineBytes === undefined ? {} : { maxLineBytes: args.maxLineBytes };
    for await (const data of readSseData(metered, readOptions)) {
      if (data.trim() === '[DONE]') {
        done = true;
        break;
      }
      const chunk = parseChunk(data, requestId, args.secrets, args.callOptions.apiKey !== undefined);
      // The usage counts the whole stream: text after it would go uncounted (and unbilled).
      if (reportedUsage && chunk.choices.length > 0) {
        throw new UpstreamBadResponseError('The upstream sent text after the usage of its stream.', {
          requestId,
        });
      }
      if (chunk.usage != null) reportedUsage = true;
      for (const choice of chunk.choices) {
        finished.set(choice.index, finished.get(choice.index) === true || choice.finish_reason !== null);
      }
      // While the caller holds a chunk the upstream is not the one being slow: the idle clock
      // stops, so a slow reader is never reported as an upstream timeout.
      cancelIdle();
      yield chunk;
      resetIdle();
    }
    if (!done) throw new UpstreamBadResponseError('The upstream stream ended without [DONE].', { requestId });
    // A choice never finished is a cut stream, unless the upstream reported its usage before
    // [DONE] (some OpenAI-compatible servers leave finish_reason out, but count what they made).
    if (!reportedUsage && [...finished.values()].some((ended) => !ended)) {
      throw new UpstreamBadResponseError('The upstream stream ended without a finish reason.', { requestId });
    }
  } catch (error) {
    if (error instanceof SseLimitError)
      throw new UpstreamBadResponseError(error.message, { requestId: opened?.requestId });
    if (error instanceof UpstreamError && !deadline.signal.aborted) throw error;
    deadline.throwIfAborted(error);
    throw new UpstreamUnavailableError('The upstream stream failed.', {
      requestId: opened?.requestId,
      cause: error,
    });
  } finally {
    deadline.dispose();
    // Closing the socket is how the upstream learns that nobody is listening any more; after
    // [DONE] the connection is kept for the next call instead.
    if (opened !== undefined && done) releaseBody(opened.body);
    else if (opened !== undefined) discardBody(opened.body);
  }
}

/** Resets the idle clock on every piece and refuses a body past `maxBytes`. */
async function* touching(
  source: AsyncIterable<string | Buffer>,
  onData: () => void,
  maxBytes: number,
  requestId: string | undefined,
): AsyncGenerator<string | Buffer> {
  let size = 0;
  for await (const piece of source) {
    onData();
    size += typeof piece === 'string' ? Buffer.byteLength(piece, 'utf8') : piece.length;
    if (size > maxBytes) {
      throw new UpstreamBadResponseError(`The upstream stream is larger than ${maxBytes} bytes.`, {
        requestId,
      });
    }
    yield piece;
  }
}

function parseChunk(
  data: string,
  requestId: string | undefined,
  secrets: readonly (string | undefined)[],
  callerKey: boolean,
): WireCompletionResponse {
  let payload: unknown;
  try {
    payload = JSON.parse(data);
  } catch {
    throw new UpstreamBadResponseError('The upstream sent a malformed stream chunk.', { requestId });
  }
  if (typeof payload === 'object' && payload !== null && 'error' in payload) {
    const envelope = parseErrorEnvelope(data);
    const numeric = Number(envelope?.code);
    const status = numeric >= 400 && numeric < 600 ? numeric : /invalid_request/.test(data) ? 400 : 502;
    throw errorFromResponse({
      status,
      bodyText: data,
      requestId,
      retryAfterMs: undefined,
      secrets,
      callerKey,
    });
  }
  try {
    return checkCompletion(payload);
  } catch (error) {
    if (!(error instanceof ShapeError)) throw error;
    throw new UpstreamBadResponseError(`The upstream sent an invalid stream chunk: ${error.message}.`, {
      requestId,
    });
  }
}
