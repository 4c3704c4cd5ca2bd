/**
 * The REST face's server-sent events: a completion streamed as OpenAI streams it (`data:` lines,
 * `[DONE]`), paced by the client's reading, ended with a coded event when the server shuts down.
 */
import type { ServerResponse } from 'node:http';
import { LightAbortController } from '../abort.js';
import { errorCodes } from '../error-codes.js';
import type { WireCompletionResponse } from '../upstream/wire.js';
import { mapError, outcomeOf } from './error-envelope.js';

/** Writes one SSE event, waiting for the socket to drain when the client reads slowly. */
async function writeEvent(res: ServerResponse, data: string): Promise<void> {
  if (res.destroyed) return;
  if (!res.write(`data: ${data}\n\n`)) {
    await new Promise<void>((resolve) => {
      const done = () => {
        res.off('drain', done);
        res.off('close', done);
        resolve();
      };
      res.on('drain', done);
      res.on('close', done);
    });
  }
}

/**
 * Aborted when the client goes away before the answer is complete, or when the server's shutdown
 * grace ends. One controller, its shutdown listener removed when the response closes: not
 * AbortSignal.any, which in Node 20 ties every signal it makes to its sources for as long as they
 * live (the shutdown signal: the whole process), garbage the collector keeps tracing.
 */
export function requestSignal(res: ServerResponse, shutdown: AbortSignal | undefined): AbortSignal {
  const controller = new LightAbortController();
  const onShutdown = () => controller.abort(shutdown?.reason);
  shutdown?.addEventListener('abort', onShutdown, { once: true });
  res.on('close', () => {
    shutdown?.removeEventListener('abort', onShutdown);
    if (!res.writableFinished) controller.abort(new Error('client disconnected'));
  });
  return controller.signal;
}

const shuttingDownEvent = {
  error: {
    message: 'The server is shutting down; reconnect to continue.',
    type: 'server_error',
    param: null,
    code: 'server_shutting_down',
  },
};

export async function streamCompletion(
  res: ServerResponse,
  chunks: AsyncIterator<WireCompletionResponse>,
  signal: AbortSignal,
  shutdown: AbortSignal | undefined,
): Promise<string | undefined> {
  // The first chunk is awaited before any header goes out, so a refused request still gets a
  // plain JSON error with its status, as OpenAI answers.
  let next = await chunks.next();
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
  });
  try {
    while (!next.done) {
      await writeEvent(res, JSON.stringify(next.value));
      if (signal.aborted) {
        // The grace period ended: the client is told why its stream stops; a client gone is not.
        if (!shutdown?.aborted) return errorCodes.clientClosedRequest;
        await writeEvent(res, JSON.stringify(shuttingDownEvent));
        return errorCodes.shuttingDown;
      }
      next = await chunks.next();
    }
    await writeEvent(res, '[DONE]');
    return undefined;
  } catch (err) {
    if (shutdown?.aborted) {
      await writeEvent(res, JSON.stringify(shuttingDownEvent));
      return errorCodes.shuttingDown;
    }
    if (signal.aborted) return errorCodes.clientClosedRequest;
    await writeEvent(res, JSON.stringify(mapError(err).body));
    return outcomeOf(err);
  } finally {
    await chunks.return?.();
    if (!res.destroyed) res.end();
  }
}
