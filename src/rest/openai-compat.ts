/**
 * An OpenAI-compatible REST face for any `CompletionsProvider`: `POST /v1/completions` (JSON or
 * server-sent events), `GET /v1/models` and `GET /v1/models/:id`. Mounted in front of the GraphQL
 * server: the handler answers `false` for any other URL so the caller can pass the request on.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { PreparedCompletion } from '../completions/prepare.js';
import type { CallUsage, CompletionsService } from '../completions/service.js';
import { errorCodes } from '../error-codes.js';
import { requestIdOf } from '../http/request-id.js';
import { extended } from '../runtime/objects.js';
import type { CallOptions } from '../upstream/provider.js';
import type { WireCompletionRequest, WireModel } from '../upstream/wire.js';
import { mapError, outcomeOf } from './error-envelope.js';
import { requestSignal, streamCompletion } from './event-stream.js';
import { BadRequest, parseCompletionRequest, readJsonBody } from './request-body.js';

export interface OpenAiCompatDeps {
  /** The same use case as GraphQL: client budgets, ledger, breaker. */
  completions: CompletionsService;
  /** The models this client may use (a key limited to some models sees only those). */
  listModels: (client: string | undefined) => Promise<WireModel[]>;
  /**
   * Checks and prices a parsed request as one operation (the rules, the default max_tokens and the
   * per-operation ceiling GraphQL uses); throws the same typed errors.
   */
  prepare: (request: WireCompletionRequest) => PreparedCompletion;
  /** Largest accepted request body; default 1 MiB. */
  maxBodyBytes?: number;
  /** Fires when a shutdown's grace period ends: open streams end with an error event. */
  shutdown?: AbortSignal;
  /** Who calls: options for the call (client identity, pass-through key), or null for 401. */
  identify?: (req: IncomingMessage) => Omit<CallOptions, 'signal'> | null;
  /** Watches each completion request: its span (when tracing) and its access line. */
  observe?: (req: IncomingMessage) => RestObservation;
}

/** One completion request watched: its trace parents the call's span; told when it is answered. */
export interface RestObservation {
  /** The request's trace context, opaque here (see GraphQLContext.trace). */
  readonly trace: unknown;
  answered(entry: RestAccess): void;
}

/** One answered `POST /v1/completions`, as the access line reports it. */
export interface RestAccess {
  requestId: string;
  client: string | undefined;
  status: number;
  /** `OK`, or the error's OpenAI-style code (or type). */
  outcome: string;
  durationMs: number;
  usage: CallUsage | undefined;
}

type Handler = (req: IncomingMessage, res: ServerResponse) => boolean | Promise<boolean>;

function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

function sendError(res: ServerResponse, err: unknown): void {
  const mapped = mapError(err);
  if (res.destroyed) return;
  // A body over the cap is not read to its end to keep the connection alive.
  sendJson(
    res,
    mapped.status,
    mapped.body,
    mapped.status === 413 ? extended(mapped.headers, { connection: 'close' }) : mapped.headers,
  );
}

async function handleCompletion(
  deps: OpenAiCompatDeps,
  caller: Omit<CallOptions, 'signal'>,
  req: IncomingMessage,
  res: ServerResponse,
  onUsage: (usage: CallUsage) => void,
  trace: unknown,
): Promise<string | undefined> {
  const body = await readJsonBody(req, deps.maxBodyBytes ?? 1024 * 1024);
  const call = deps.prepare(parseCompletionRequest(body));
  // Only a stream is ended by the shutdown's grace (a coded event); a plain call is let finish
  // as the GraphQL route lets it, without a listener on the process-wide signal per request.
  const signal = requestSignal(res, call.wire.stream === true ? deps.shutdown : undefined);
  const options = extended(caller, { signal, requestId: requestIdOf(req), onUsage, trace });
  if (call.wire.stream === true) {
    const chunks = deps.completions.streamChunks(call, options)[Symbol.asyncIterator]();
    return streamCompletion(res, chunks, signal, deps.shutdown);
  }
  const response = await deps.completions.complete(call, options);
  // x-request-id is ours (set for every request); the upstream's own id is kept beside it.
  sendJson(
    res,
    200,
    response.response,
    response.requestId ? { 'x-upstream-request-id': response.requestId } : {},
  );
  return undefined;
}

/** The model id in `/v1/models/<id>`; a path that does not decode names no model (404, not a 500). */
function modelIdFromPath(encoded: string): string {
  try {
    return decodeURIComponent(encoded);
  } catch {
    throw new BadRequest(
      `The model '${encoded.slice(0, 256)}' does not exist`,
      'model',
      404,
      'model_not_found',
    );
  }
}

async function handleModel(
  deps: OpenAiCompatDeps,
  client: string | undefined,
  id: string | undefined,
  res: ServerResponse,
): Promise<void> {
  const models = await deps.listModels(client);
  if (id === undefined) {
    sendJson(res, 200, { object: 'list', data: models });
    return;
  }
  const model = models.find((m) => m.id === id);
  if (model === undefined) {
    throw new BadRequest(`The model '${id}' does not exist`, 'model', 404, 'model_not_found');
  }
  sendJson(res, 200, model);
}

function methodNotAllowed(res: ServerResponse, allowed: string): void {
  const message = `Method not allowed: use ${allowed}.`;
  sendJson(
    res,
    405,
    { error: { message, type: 'invalid_request_error', param: null, code: null } },
    { allow: allowed },
  );
}

export function createOpenAiCompatHandler(deps: OpenAiCompatDeps): Handler {
  // Every path served here starts /v1/, and no URL without a "1" normalises to one (the parser
  // drops tabs and folds dots, but never decodes %31): those, /graphql among them, are not
  // parsed at all.
  return (req, res) => (req.url?.includes('1') ? serve(req, res) : false);

  async function serve(req: IncomingMessage, res: ServerResponse): Promise<boolean> {
    // The common request's path as it is; any other is normalised as the URL parser does.
    const path =
      req.url === '/v1/completions'
        ? req.url
        : new URL(req.url ?? '/', 'http://localhost').pathname.replace(/\/+$/, '');
    const modelMatch = /^\/v1\/models(?:\/(.+))?$/.exec(path);
    if (path !== '/v1/completions' && modelMatch === null) {
      if (!path.startsWith('/v1/')) return false;
      // As OpenAI answers a path it does not serve: an envelope, not yoga's empty 404.
      const message = `Invalid URL (${req.method} ${path.slice(0, 200)})`;
      sendJson(res, 404, { error: { message, type: 'invalid_request_error', param: null, code: null } });
      return true;
    }
    const caller = deps.identify ? deps.identify(req) : {};
    if (caller === null) {
      sendJson(
        res,
        401,
        {
          error: {
            message: 'Incorrect or missing client key.',
            type: 'invalid_request_error',
            param: null,
            code: 'invalid_api_key',
          },
        },
        { 'www-authenticate': 'Bearer' },
      );
      return true;
    }
    const started = performance.now();
    let usage: CallUsage | undefined;
    let outcome = 'OK';
    const observation = path === '/v1/completions' && req.method === 'POST' ? deps.observe?.(req) : undefined;
    try {
      if (path === '/v1/completions') {
        if (req.method !== 'POST') methodNotAllowed(res, 'POST');
        else {
          const onUsage = (reported: CallUsage) => {
            usage = reported;
          };
          outcome = (await handleCompletion(deps, caller, req, res, onUsage, observation?.trace)) ?? outcome;
        }
      } else if (req.method !== 'GET' && req.method !== 'HEAD') methodNotAllowed(res, 'GET, HEAD');
      else
        await handleModel(
          deps,
          caller.client,
          modelMatch?.[1] === undefined ? undefined : modelIdFromPath(modelMatch[1]),
          res,
        );
    } catch (err) {
      outcome = outcomeOf(err);
      sendError(res, err);
    }
    // A client that left before the answer was complete (a stream cut short) is not an OK.
    if (outcome === 'OK' && !res.writableFinished) outcome = errorCodes.clientClosedRequest;
    observation?.answered({
      requestId: requestIdOf(req),
      client: caller.client,
      status: res.statusCode,
      outcome,
      durationMs: performance.now() - started,
      usage,
    });
    return true;
  }
}
