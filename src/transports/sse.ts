import type { IncomingMessage, ServerResponse } from 'node:http';
import { type ExecutionResult, GraphQLError } from 'graphql';
import { LightAbortController } from '../abort.js';
import type { ClientAuthenticator } from '../auth/client-keys.js';
import { type CorsPolicy, corsResponseHeaders } from '../http/cors.js';
import { mediaTypes } from '../http/headers.js';
import { requestIdOf } from '../http/request-id.js';
import type { RouteHandler } from '../http/route.js';
import type { PersistedDocuments } from '../plugins/persisted-documents.js';
import { withRequestId } from '../plugins/request-id.js';
import type { Caller } from '../request-context.js';
import type { CompletionsYoga, ErrorMasker } from '../yoga.js';
import {
  admit,
  envelopedOperation,
  handToYoga,
  isCodedRefusal,
  type Params,
  parseParams,
  stringifyResult,
  withDocument,
} from './graphql-params.js';

/**
 * GraphQL subscriptions over SSE in yoga's own format (graphql-sse "distinct connections"),
 * written straight to the Node response. Why not through yoga: its HTTP pipeline (a WHATWG Request
 * built from the Node one, the body read as a web stream, a ReadableStream response pumped back
 * into Node) costs ~1.5–2 ms per request before the subscription's first pull, which is when the
 * upstream call starts — the whole of the time-to-first-event budget. The operation still runs
 * through yoga's envelop, as graphql-ws does: the same parser and validation caches, GraphQL
 * Armor, the completion preflight, error codes and masking.
 *
 * Only the plain case is served here: POST to the GraphQL endpoint, a JSON body, Accept asking for
 * text/event-stream first, a valid client key, and an operation that parses, validates and
 * subscribes, or is refused with a coded error before anything ran (sent as yoga sends it: one
 * event). Anything else is handed to yoga with the body already read (nothing has been paid for by
 * then), so its status codes, errors and headers stay yoga's.
 */

export interface SseRouteDeps {
  yoga: CompletionsYoga;
  documents: PersistedDocuments;
  authenticator: ClientAuthenticator;
  /** yoga's own masking function, for errors that end a stream. */
  maskError: ErrorMasker;
  maxBodyBytes: number;
  /** yoga's CORS policy, so a browser reads a stream from this route exactly when it could from yoga. */
  cors: CorsPolicy;
}

/** Some proxies close connections that stay silent; yoga pings at the same pace. */
const PING_INTERVAL_MS = 12_000;
const PING = ':\n\n';
/** Enough for undici to send the upstream request first; far below what a client notices. */
const HEADERS_DELAY_MS = 1;

export function createSseSubscriptionRoute(deps: SseRouteDeps): RouteHandler {
  const { yoga } = deps;
  return (req, res) => (isPlainEventStreamPost(req, yoga.graphqlEndpoint) ? serve(req, res) : false);

  async function serve(req: IncomingMessage, res: ServerResponse): Promise<boolean> {
    const admitted = await admit(req, res, deps);
    if (admitted === 'left') return false;
    if (admitted === 'answered') return true;
    const cancel = new LightAbortController();
    res.once('close', () => cancel.abort());
    const stream = await subscribe(yoga, req, withDocument(parseParams(admitted.body), deps.documents), {
      signal: cancel.signal,
      client: admitted.client,
    });
    if (stream === undefined) {
      await handToYoga(yoga, req, res, admitted.body);
      return true;
    }
    await writeEvents(stream, res, cancel.signal, deps);
    return true;
  }
}

const eventStream = /text\/event-stream/i;

function isPlainEventStreamPost(req: IncomingMessage, endpoint: string): boolean {
  if (req.method !== 'POST' || req.url !== endpoint) return false;
  // Every JSON POST to /graphql is asked this first: most are not for a stream, told without parsing.
  const accept = req.headers.accept;
  if (accept === undefined || !eventStream.test(accept)) return false;
  const [contentType] = mediaTypes(req.headers['content-type']);
  const [firstAccepted] = mediaTypes(accept);
  return contentType === 'application/json' && firstAccepted === 'text/event-stream';
}

/** The subscription's event stream, or undefined when yoga should answer (refusals, non-subscriptions). */
async function subscribe(
  yoga: CompletionsYoga,
  req: IncomingMessage,
  params: Params | undefined,
  admitted: Pick<Caller, 'signal' | 'client'>,
): Promise<AsyncIterable<ExecutionResult> | undefined> {
  if (params === undefined) return undefined;
  const operation = await envelopedOperation(yoga, req, params, admitted, ['subscription']);
  if (operation === undefined) return undefined;
  // The subscription's resolver is an async generator: nothing upstream starts before the first pull.
  const result: unknown = await operation.enveloped.subscribe(operation.args);
  if (isAsyncIterable(result)) return result;
  // A coded refusal before execution is sent here as yoga sends it (one event), rather than having
  // yoga parse and price the body again: refused requests are a hostile client's cheapest load.
  const single = result as ExecutionResult;
  if (!isCodedRefusal(single)) return undefined;
  const event = withRequestId(single, requestIdOf(req));
  return (async function* () {
    yield event;
  })();
}

async function writeEvents(
  stream: AsyncIterable<ExecutionResult>,
  res: ServerResponse,
  signal: AbortSignal,
  { maskError, cors }: Pick<SseRouteDeps, 'maskError' | 'cors'>,
): Promise<void> {
  const iterator = stream[Symbol.asyncIterator]();
  // On every event, as graphql-ws sends it: an EventSource-style reader never sees the header.
  const requestId = requestIdOf(res.req);
  // The first pull starts the upstream call. The response headers follow a moment later (or with
  // an earlier event): written at once, their write (~0.2 ms here) would go out before the
  // upstream request, which undici sends a turn of the event loop later.
  let step = iterator.next();
  let ping: NodeJS.Timeout | undefined;
  const open = () => {
    if (res.headersSent) return;
    res.writeHead(200, {
      'content-type': 'text/event-stream',
      connection: 'keep-alive',
      'cache-control': 'no-cache',
      'content-encoding': 'none',
      ...corsResponseHeaders(cors, res.req),
    });
    // Some browsers stall a fetch until the first body bytes arrive.
    res.write(PING);
    ping = setInterval(() => {
      if (!res.writableNeedDrain) res.write(PING);
    }, PING_INTERVAL_MS);
  };
  const opening = setTimeout(open, HEADERS_DELAY_MS);
  // A client that leaves ends the subscription (and with it the upstream call); a failure while
  // winding down has nobody left to tell.
  const stop = () => Promise.resolve(iterator.return?.()).catch(() => {});
  signal.addEventListener('abort', stop, { once: true });
  try {
    for (let event = await step; event.done !== true; event = await step) {
      open();
      const more = res.write(
        `event: next\ndata: ${stringifyResult(withRequestId(event.value, requestId))}\n\n`,
      );
      // Backpressure: the next chunk is pulled from upstream only once the client has drained.
      if (!more && !(await drained(res))) return;
      step = iterator.next();
    }
    open();
    res.end('event: complete\ndata:\n\n');
  } catch (error) {
    if (signal.aborted) return;
    // As yoga does: an error that ends the stream (an upstream failure, a timeout) is its last
    // event, coded by the same masking as everything else; an unexpected one's message stays in
    // the log (yoga's isDev off).
    const masked = maskError(error, 'Unexpected error.');
    const errors = [masked instanceof GraphQLError ? masked : new GraphQLError(masked.message)];
    open();
    res.end(
      `event: next\ndata: ${stringifyResult({ errors, extensions: { requestId } })}\n\nevent: complete\ndata:\n\n`,
    );
  } finally {
    clearTimeout(opening);
    clearInterval(ping);
  }
}

/** Resolves true on 'drain', false when the client went away first. */
function drained(res: ServerResponse): Promise<boolean> {
  return new Promise((resolve) => {
    const onDrain = () => settle(true);
    const onClose = () => settle(false);
    const settle = (value: boolean) => {
      res.off('drain', onDrain);
      res.off('close', onClose);
      resolve(value);
    };
    res.once('drain', onDrain);
    res.once('close', onClose);
  });
}

function isAsyncIterable(value: unknown): value is AsyncIterable<ExecutionResult> {
  return typeof value === 'object' && value !== null && Symbol.asyncIterator in value;
}
