import type { IncomingMessage } from 'node:http';
import type { Plugin } from 'graphql-yoga';
import { requestIdOf } from '../http/request-id.js';
import { extended } from '../runtime/objects.js';

/** A result with the request's id in `extensions.requestId`, as every transport answers it. */
export function withRequestId<R extends { extensions?: Record<string, unknown> }>(
  result: R,
  requestId: string,
): R {
  return extended(result, { extensions: extended(result.extensions, { requestId }) }) as R;
}

/**
 * Each event of a stream with the request's id; its end and errors pass as they were. Not an async
 * generator: its `return()` would wait for the pending `next()` of a stream gone quiet, so a client
 * leaving would leave the upstream call open until the next chunk; here it reaches the stream at once.
 */
function tagged<R extends { extensions?: Record<string, unknown> }>(
  events: AsyncIterable<R>,
  requestId: string,
): AsyncIterableIterator<R> {
  const inner = events[Symbol.asyncIterator]();
  return {
    [Symbol.asyncIterator]() {
      return this;
    },
    async next() {
      const step = await inner.next();
      return step.done === true ? step : { done: false, value: withRequestId(step.value, requestId) };
    },
    async return(value?: unknown) {
      return (await inner.return?.(value)) ?? { done: true, value: undefined };
    },
    async throw(error?: unknown) {
      if (inner.throw === undefined) throw error;
      return inner.throw(error);
    },
  };
}

/**
 * `extensions.requestId` on every result yoga sends, refusals included, and on every event of its
 * streams (an EventSource-style reader never sees the header; graphql-ws and the SSE routes do the same).
 */
export function useRequestIdExtension(): Plugin {
  return {
    onResultProcess({ result, setResult, serverContext }) {
      const req = (serverContext as { req?: IncomingMessage }).req;
      if (req === undefined || Array.isArray(result)) return;
      const requestId = requestIdOf(req);
      setResult(
        Symbol.asyncIterator in result ? tagged(result, requestId) : withRequestId(result, requestId),
      );
    },
  };
}
