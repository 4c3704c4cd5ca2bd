import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ExecutionResult, GraphQLError } from 'graphql';
import { LightAbortController } from '../abort.js';
import type { Client, ClientAuthenticator } from '../auth/client-keys.js';
import { type CorsPolicy, corsResponseHeaders } from '../http/cors.js';
import { headerText } from '../http/headers.js';
import { requestIdOf } from '../http/request-id.js';
import type { RouteHandler } from '../http/route.js';
import { cacheControlFor } from '../plugins/cache-hints.js';
import type { PersistedDocuments } from '../plugins/persisted-documents.js';
import { withRequestId } from '../plugins/request-id.js';
import type { CompletionsYoga } from '../yoga.js';
import { directOperation, executeDirect } from './direct-execution.js';
import {
  admit,
  handToYoga,
  isCodedRefusal,
  parseParams,
  stringifyResult,
  withDocument,
} from './graphql-params.js';

/**
 * The common request — a JSON POST of a query or mutation to /graphql — run as yoga's envelop runs
 * it (the same parser and validation caches, GraphQL Armor, preflight, masking, warnings; without
 * envelop's orchestration: direct-execution.ts) and written straight to the Node response. yoga's
 * fetch-API layer (a WHATWG Request built from the Node one, the body as a web stream, a Response
 * pumped back into Node, promise helpers, AbortSignals) cost more CPU per request than the GraphQL
 * execution itself.
 *
 * Only the plain case is served here; anything else goes to yoga with the body already read, so
 * its answers stay yoga's: other methods, content types or Accept headers, a gateway asking for a
 * federated trace, a missing or bad client key, a body that is not a plain GraphQL request, a
 * document that does not parse or validate, a subscription, and a refusal before execution whose
 * errors lack a code (no `data`: nothing ran, so yoga running it again pays for nothing). Coded
 * refusals (the preflight's, the variables') are answered here with yoga's status rules. Tests
 * hold this route to yoga's status, headers and body for the same requests.
 */

export interface JsonRouteDeps {
  yoga: CompletionsYoga;
  authenticator: ClientAuthenticator;
  maxBodyBytes: number;
  cors: CorsPolicy;
  documents: PersistedDocuments;
  /** Told of each operation answered here rather than by yoga (a count for tests and metrics). */
  onServed?: () => void;
}

type ResponseType = 'application/json' | 'application/graphql-response+json';

const jsonTypes = new Set(['application/json', 'application/graphql-response+json', '*/*', 'application/*']);

/**
 * The answer's media type as yoga picks it for a single result: the first listed type wins, and
 * of the two JSON types, `application/json` when it matches. Undefined when the header holds
 * anything else (other types, parameters, charsets): yoga decides those.
 */
export function responseType(accept: string | undefined): ResponseType | undefined {
  if (accept === undefined || accept.trim() === '') return 'application/json';
  let first: string | undefined;
  for (const part of accept.split(',')) {
    const [type = '', ...params] = part.split(';').map((piece) => piece.trim().toLowerCase());
    if (!jsonTypes.has(type)) return undefined;
    if (!params.every((param) => param === 'charset=utf-8' || /^q=[01](\.\d{0,3})?$/.test(param))) {
      return undefined;
    }
    first ??= type;
  }
  return first === 'application/graphql-response+json' ? first : 'application/json';
}

function isPlainJsonPost(req: IncomingMessage, endpoint: string): boolean {
  if (req.method !== 'POST' || req.url !== endpoint) return false;
  const contentType = req.headers['content-type']?.replace(/\s/g, '').toLowerCase();
  if (contentType !== 'application/json' && contentType !== 'application/json;charset=utf-8') return false;
  // A gateway asking for a federated trace gets yoga's inline-trace plugin.
  return req.headers['apollo-federation-include-trace'] === undefined;
}

/** yoga's status for a result that ran: an error's own HTTP status (not a spec one for legacy JSON), else 200. */
function statusOf(result: ExecutionResult, type: ResponseType): number {
  let status = 0;
  for (const error of result.errors ?? []) {
    const http = (error as GraphQLError).extensions?.http as { status?: number; spec?: boolean } | undefined;
    if (http?.status === undefined || (type === 'application/json' && http.spec === true)) continue;
    if (http.status > status) status = http.status;
  }
  return status || 200;
}

/** An AbortSignal that fires when the client goes away before the response is complete. */
function disconnectSignal(res: ServerResponse): AbortSignal {
  const controller = new LightAbortController();
  res.once('close', () => {
    if (!res.writableFinished) controller.abort(new Error('client disconnected'));
  });
  return controller.signal;
}

export function createJsonRoute(deps: JsonRouteDeps): RouteHandler {
  const { yoga } = deps;
  return (req, res) => {
    if (!isPlainJsonPost(req, yoga.graphqlEndpoint)) return false;
    const type = responseType(headerText(req.headers.accept));
    return type === undefined ? false : serve(req, res, type);
  };

  async function serve(req: IncomingMessage, res: ServerResponse, type: ResponseType): Promise<boolean> {
    const admitted = await admit(req, res, deps);
    if (admitted === 'left') return false;
    if (admitted === 'answered') return true;
    const ran = await run(deps, req, res, admitted.body, admitted.client);
    const result = ran?.result;
    // A refusal made before execution is answered here too when every error carries its code (the
    // preflight's, the variables'): handing it to yoga would parse and price the body again, which
    // a client sending refused 500 KB prompts turns into twice the garbage. Anything else: yoga.
    if (result === undefined || (!('data' in result) && !isCodedRefusal(result))) {
      await handToYoga(yoga, req, res, admitted.body);
      return true;
    }
    const text = stringifyResult(withRequestId(result, requestIdOf(req)));
    res.writeHead(statusOf(result, type), {
      'content-type': `${type}; charset=utf-8`,
      'content-length': Buffer.byteLength(text),
      ...corsResponseHeaders(deps.cors, req),
      ...(ran?.cacheControl === undefined ? {} : { 'cache-control': ran.cacheControl }),
    });
    res.end(text);
    deps.onServed?.();
    return true;
  }
}

/** The operation's result, or undefined when yoga should answer (the document, the operation type). */
async function run(
  deps: JsonRouteDeps,
  req: IncomingMessage,
  res: ServerResponse,
  body: Buffer,
  client: Client,
): Promise<{ result: ExecutionResult; cacheControl: string | undefined } | undefined> {
  const params = withDocument(parseParams(body), deps.documents);
  if (params === undefined) return undefined;
  const args = directOperation(deps.yoga, req, params, { signal: disconnectSignal(res), client });
  if (args === undefined) return undefined;
  const result = await executeDirect(deps.yoga, args);
  // Past this point the operation ran: it is answered here, never handed to yoga to run again.
  // (The schema has no @defer/@stream, so a query or mutation gives one result.)
  if (typeof result !== 'object' || result === null || Symbol.asyncIterator in result) {
    throw new Error('a query or mutation gave more than one result');
  }
  return {
    result: result as ExecutionResult,
    cacheControl: cacheControlFor(args.contextValue as object),
  };
}
