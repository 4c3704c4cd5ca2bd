import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  type DocumentNode,
  type ExecutionArgs,
  type ExecutionResult,
  type FormattedExecutionResult,
  type GraphQLError,
  type GraphQLFormattedError,
  getOperationAST,
} from 'graphql';
import type { Client, ClientAuthenticator } from '../auth/client-keys.js';
import { readLimitedBody, sendPayloadTooLarge } from '../http/body-limit.js';
import { headerText } from '../http/headers.js';
import { requestIdOf } from '../http/request-id.js';
import type { PersistedDocuments } from '../plugins/persisted-documents.js';
import { type Caller, upstreamKeyHeader } from '../request-context.js';
import { extended } from '../runtime/objects.js';
import type { CompletionsYoga } from '../yoga.js';

/**
 * What the routes that run operations through yoga's envelop themselves (SSE, plain JSON POST)
 * share: reading a GraphQL-over-HTTP body, and writing results as yoga serialises them.
 */

/**
 * A route's admission: a caller with a valid key and a body under the cap, or `left` (no valid key:
 * yoga answers the 401) or `answered` (413 sent).
 */
export async function admit(
  req: IncomingMessage,
  res: ServerResponse,
  deps: { authenticator: ClientAuthenticator; maxBodyBytes: number },
): Promise<{ client: Client; body: Buffer } | 'left' | 'answered'> {
  const auth = deps.authenticator.authenticate(req.headers.authorization);
  if (!auth.ok) return 'left';
  const body = await readLimitedBody(req, deps.maxBodyBytes);
  if (body === 'too-large') {
    sendPayloadTooLarge(res, deps.maxBodyBytes);
    return 'answered';
  }
  return { client: auth.client, body };
}

/** Lets yoga answer a request whose body a route has already read. */
export async function handToYoga(
  yoga: CompletionsYoga,
  req: IncomingMessage,
  res: ServerResponse,
  body: Buffer,
): Promise<void> {
  // whatwg-node reads `req.body` in place of the stream consumed.
  (req as IncomingMessage & { body?: Buffer }).body = body;
  await yoga(req, res);
}

/**
 * Documents that parsed and validated here before, by their text, per yoga instance (its schema and
 * its GraphQL Armor limits decide). yoga's caches would give the same document and the same empty
 * list of errors again, but only after running every plugin's parse and validate hooks, which cost
 * ~5 % of a request's CPU; a document that did not validate is never kept. Bounded in number and
 * in the size of each text, so a client sending ever new documents cannot grow it.
 */
class KnownDocuments {
  private readonly documents = new Map<string, DocumentNode>();

  get(query: string): DocumentNode | undefined {
    return this.documents.get(query);
  }

  remember(query: string, document: DocumentNode): void {
    if (query.length > MAX_KNOWN_DOCUMENT_CHARS) return;
    if (this.documents.size >= MAX_KNOWN_DOCUMENTS) {
      const oldest = this.documents.keys().next();
      if (!oldest.done) this.documents.delete(oldest.value);
    }
    this.documents.set(query, document);
  }
}

const MAX_KNOWN_DOCUMENTS = 1_000;
const MAX_KNOWN_DOCUMENT_CHARS = 16 * 1024;
const knownByYoga = new WeakMap<CompletionsYoga, KnownDocuments>();

function knownDocuments(yoga: CompletionsYoga): KnownDocuments {
  let known = knownByYoga.get(yoga);
  if (known === undefined) {
    known = new KnownDocuments();
    knownByYoga.set(yoga, known);
  }
  return known;
}

/**
 * The operation of a route's request, ready to run through yoga's envelop (the same caches, Armor,
 * preflight, masking), or undefined when yoga should answer: a document that does not parse or
 * validate, or an operation of another type than the route serves.
 */
export async function envelopedOperation(
  yoga: CompletionsYoga,
  req: IncomingMessage,
  params: Params,
  admitted: Pick<Caller, 'signal' | 'client'>,
  types: readonly ('query' | 'mutation' | 'subscription')[],
): Promise<{ enveloped: ReturnType<CompletionsYoga['getEnveloped']>; args: ExecutionArgs } | undefined> {
  const caller = callerOf(req, admitted);
  const enveloped = yoga.getEnveloped({ req, caller, params });
  const document = checkedDocument(yoga, params, types, () => enveloped);
  if (document === undefined) return undefined;
  const args: ExecutionArgs = {
    schema: enveloped.schema,
    document,
    variableValues: params.variables,
    operationName: params.operationName,
    contextValue: await enveloped.contextFactory(),
  };
  return { enveloped, args };
}

/** The caller of a route's request: its admission, with the pass-through key and the request id. */
export function callerOf(req: IncomingMessage, admitted: Pick<Caller, 'signal' | 'client'>): Caller {
  return extended(admitted, {
    upstreamApiKey: headerText(req.headers[upstreamKeyHeader]),
    requestId: requestIdOf(req),
  });
}

/**
 * The request's document when it parses and validates (from the cache of known ones, else through
 * yoga's envelop, made only then) and holds an operation of one of `types`; undefined when yoga
 * should answer.
 */
export function checkedDocument(
  yoga: CompletionsYoga,
  params: Params,
  types: readonly ('query' | 'mutation' | 'subscription')[],
  envelope: () => ReturnType<CompletionsYoga['getEnveloped']>,
): DocumentNode | undefined {
  const known = knownDocuments(yoga);
  let document = known.get(params.query);
  if (document === undefined) {
    const enveloped = envelope();
    try {
      const parsed: DocumentNode = enveloped.parse(params.query);
      // GraphQL Armor's limits may throw from either step instead of returning errors.
      if (enveloped.validate(enveloped.schema, parsed).length > 0) return undefined;
      document = parsed;
    } catch {
      return undefined;
    }
    known.remember(params.query, document);
  }
  const operation = getOperationAST(document, params.operationName)?.operation;
  return operation !== undefined && types.includes(operation) ? document : undefined;
}

/**
 * A refusal made before execution whose errors all carry their code (the preflight's, the
 * variables'): nothing ran, and the route can answer it as yoga would.
 */
export function isCodedRefusal(result: ExecutionResult): boolean {
  return (
    !('data' in result) && (result.errors ?? []).every((error) => typeof error.extensions?.code === 'string')
  );
}

export interface Params {
  query: string;
  documentId?: string;
  variables: Record<string, unknown> | null;
  operationName: string | null;
  extensions?: Record<string, unknown>;
}

/** A GraphQL-over-HTTP body this route can run as it is; anything odd is left to yoga's checks. */
export function parseParams(body: Buffer): Params | undefined {
  let value: unknown;
  try {
    value = JSON.parse(body.toString('utf8'));
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const { query, variables, operationName, extensions, documentId } = value as Record<string, unknown>;
  if (query != null && typeof query !== 'string') return undefined;
  if (documentId != null && typeof documentId !== 'string') return undefined;
  if (!isObjectOrAbsent(variables) || !isObjectOrAbsent(extensions)) return undefined;
  if (operationName != null && typeof operationName !== 'string') return undefined;
  return {
    query: (query as string | null | undefined) ?? '',
    ...(documentId == null ? {} : { documentId: documentId as string }),
    variables: (variables as Record<string, unknown> | null | undefined) ?? null,
    operationName: operationName ?? null,
    ...(extensions == null ? {} : { extensions: extensions as Record<string, unknown> }),
  };
}

/**
 * The params with their document resolved (a trusted or learnt document by id), or undefined when
 * yoga should answer: its persisted-documents plugin gives the same refusal.
 */
export function withDocument(params: Params | undefined, documents: PersistedDocuments): Params | undefined {
  if (params === undefined) return undefined;
  const resolved = documents.resolve(params);
  if ('error' in resolved || resolved.query === '') return undefined;
  return resolved.query === params.query ? params : extended(params, { query: resolved.query });
}

function isObjectOrAbsent(value: unknown): boolean {
  return value == null || (typeof value === 'object' && !Array.isArray(value));
}

/** As yoga serialises results: the internal `http` and `unexpected` extensions stay on the server. */
export function stringifyResult(result: ExecutionResult): string {
  return JSON.stringify(publicResult(result));
}

/**
 * A result as a client may see it (the same object when nothing is to be hidden), with
 * `extensions.requestId` when given: what every transport sends.
 */
export function publicResult(result: ExecutionResult, requestId?: string): FormattedExecutionResult {
  if (result.errors === undefined && result.extensions?.http === undefined && requestId === undefined)
    return result;
  const { http: _http, ...extensions } = result.extensions ?? {};
  if (requestId !== undefined) extensions.requestId = requestId;
  // `errors` keeps its place in the result; `extensions`, when new, goes last, as a spread puts them.
  return extended(result, {
    extensions: Object.keys(extensions).length > 0 ? extensions : undefined,
    ...(result.errors === undefined ? {} : { errors: result.errors.map(publicError) }),
  });
}

function publicError(error: GraphQLError): GraphQLFormattedError {
  const { http: _http, unexpected: _unexpected, ...extensions } = error.extensions ?? {};
  const json: GraphQLFormattedError =
    typeof error.toJSON === 'function' ? error.toJSON() : { ...(error as GraphQLFormattedError) };
  return extended(json, { extensions: Object.keys(extensions).length > 0 ? extensions : undefined });
}
