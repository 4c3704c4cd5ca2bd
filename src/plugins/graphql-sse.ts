import type { IncomingMessage } from 'node:http';
import { type ExecutionResult, GraphQLError, getOperationAST } from 'graphql';
import type { RequestParams } from 'graphql-sse';
import { createHandler } from 'graphql-sse/lib/use/fetch';
import type { Plugin } from 'graphql-yoga';
import { errorCodes } from '../error-codes.js';
import { requestIdOf } from '../http/request-id.js';
import { extended } from '../runtime/objects.js';
import { authenticatedClient } from './client-auth.js';
import { type PersistedDocuments, streamRefusal } from './persisted-documents.js';
import { withRequestId } from './request-id.js';

/**
 * graphql-sse (both of its modes) at `endpoint`, as `@graphql-yoga/plugin-graphql-sse` serves it,
 * with these differences: the operation's document goes through the persisted-documents resolver
 * (the packaged plugin hands graphql-sse's requests to the handler before yoga's `onParams` hooks
 * run, so `TRUSTED_DOCUMENTS_ONLY` would not hold there), `documentId` is read as on the other
 * transports, and nothing a client sends can throw out of the handler: graphql-sse answers a throw
 * from `onSubscribe` with a 500 and its stack, and one from a running stream crashes the process.
 * Documents that do not parse or validate, unknown operations and refusals are coded error
 * results; an error that ends a running stream is its last event, masked as everywhere else.
 */

export type ErrorMasker = (error: unknown, message: string) => Error;

type Result = ExecutionResult | AsyncIterable<ExecutionResult>;

const MAX_RESERVATIONS = 10_000;

const isAsyncIterable = (value: unknown): value is AsyncIterable<ExecutionResult> =>
  typeof value === 'object' && value !== null && Symbol.asyncIterator in value;

function coded(error: unknown, maskError: ErrorMasker): GraphQLError {
  const masked = maskError(error, 'Unexpected error.');
  const graphqlError = masked instanceof GraphQLError ? masked : new GraphQLError(masked.message);
  return streamRefusal(graphqlError);
}

/** One result graphql-sse sends as it is: with a `data` key (else it reads it as execution arguments). */
function single(result: ExecutionResult): ExecutionResult {
  const errors = result.errors?.map(streamRefusal);
  return extended(result, { data: result.data ?? null, ...(errors ? { errors } : {}) });
}

/**
 * The stream's events; a throw while it runs becomes its last event instead of escaping. Not an
 * async generator: its `return()` would wait for the pending `next()` of a stream gone quiet, so an
 * unsubscribe would leave the upstream call open; here it reaches the stream at once.
 */
function guarded(
  stream: AsyncIterable<ExecutionResult>,
  maskError: ErrorMasker,
  tag: (result: ExecutionResult) => ExecutionResult,
): AsyncIterableIterator<ExecutionResult> {
  const inner = stream[Symbol.asyncIterator]();
  let ended = false;
  const end = (): IteratorResult<ExecutionResult> => ({ done: true, value: undefined });
  return {
    [Symbol.asyncIterator]() {
      return this;
    },
    async next() {
      if (ended) return end();
      try {
        const step = await inner.next();
        return step.done === true ? step : { done: false, value: tag(step.value) };
      } catch (error) {
        ended = true;
        return { done: false, value: tag({ data: null, errors: [coded(error, maskError)] }) };
      }
    },
    async return() {
      ended = true;
      await inner.return?.();
      return end();
    },
    // graphql-sse stops only what has all three (next, return, throw), as a generator does.
    async throw(error: unknown) {
      ended = true;
      await inner.return?.();
      throw error;
    },
  };
}

/** `documentId` from a POST body or the URL (graphql-sse's own parsing keeps only its four keys). */
async function withDocumentId(request: Request): Promise<{ request: Request; documentId?: string }> {
  const fromUrl = new URL(request.url).searchParams.get('documentId') ?? undefined;
  if (request.method !== 'POST') return { request, ...(fromUrl ? { documentId: fromUrl } : {}) };
  const text = await request.text();
  let documentId: unknown = fromUrl;
  try {
    documentId = (JSON.parse(text) as { documentId?: unknown }).documentId ?? fromUrl;
  } catch {
    // graphql-sse answers the malformed body itself.
  }
  const copy = new Request(request.url, { method: 'POST', headers: request.headers, body: text });
  return { request: copy, ...(typeof documentId === 'string' ? { documentId } : {}) };
}

export function useGraphqlSse(
  endpoint: string,
  documents: PersistedDocuments,
  maskError: ErrorMasker,
): Plugin {
  const serverContexts = new WeakMap<Request, Record<string, unknown>>();
  const documentIds = new WeakMap<Request, string>();
  /** The request yoga received (its client was authenticated on it) for the copy graphql-sse reads. */
  const originals = new WeakMap<Request, Request>();
  /** Single-connection reservations (their tokens) by the client that made them; the newest kept. */
  const owners = new Map<string, string>();
  let handler: ((request: Request) => Promise<Response>) | undefined;
  return {
    onYogaInit({ yoga }) {
      /** The operation's result or stream; its events are tagged with the request's id. */
      async function subscribe(
        raw: Request,
        params: RequestParams,
        tag: (result: ExecutionResult) => ExecutionResult,
      ): Promise<ExecutionResult | AsyncIterableIterator<ExecutionResult>> {
        const documentId = documentIds.get(raw);
        const resolved = documents.resolve(extended(params, documentId ? { documentId } : {}));
        if ('error' in resolved) return { data: null, errors: [streamRefusal(resolved.error)] };
        const enveloped = yoga.getEnveloped(
          extended(serverContexts.get(raw), {
            request: originals.get(raw) ?? raw,
            params: extended(params, { query: resolved.query }),
          }),
        );
        let document: ReturnType<typeof enveloped.parse>;
        try {
          // A syntax error, or a GraphQL Armor limit, may throw from either step.
          document = enveloped.parse(resolved.query);
          const errors = enveloped.validate(enveloped.schema, document);
          if (errors.length > 0) return { data: null, errors: errors.map(streamRefusal) };
        } catch (error) {
          return { data: null, errors: [coded(error, maskError)] };
        }
        const operation = getOperationAST(document, params.operationName);
        if (operation === null || operation === undefined) {
          const refusal = new GraphQLError(
            params.operationName
              ? `Unknown operation named "${params.operationName}".`
              : 'Must provide operation name if query contains multiple operations.',
            { extensions: { code: errorCodes.operationResolutionFailure } },
          );
          return { data: null, errors: [refusal] };
        }
        try {
          const args = {
            schema: enveloped.schema,
            document,
            contextValue: await enveloped.contextFactory(),
            variableValues: params.variables,
            operationName: params.operationName,
          };
          const result = (await (operation.operation === 'subscription'
            ? enveloped.subscribe(args)
            : enveloped.execute(args))) as Result;
          return isAsyncIterable(result) ? guarded(result, maskError, tag) : single(result);
        } catch (error) {
          return { data: null, errors: [coded(error, maskError)] };
        }
      }
      handler = createHandler(
        {
          async onSubscribe(req, params) {
            // Every event carries the request's id, as graphql-ws sends them.
            const node = serverContexts.get(req.raw)?.req as IncomingMessage | undefined;
            const tag = (result: ExecutionResult) =>
              node === undefined ? result : withRequestId(result, requestIdOf(node));
            const answer = await subscribe(req.raw, params, tag);
            return isAsyncIterable(answer) ? answer : tag(answer);
          },
        },
        yoga.fetchAPI,
      ) as (request: Request) => Promise<Response>;
    },
    onRequest({ request, endResponse, serverContext, fetchAPI }) {
      const [path] = request.url.split('?');
      if (handler === undefined || !path?.endsWith(endpoint)) return;
      const serve = handler;
      const client = authenticatedClient(request)?.name;
      // A single-connection stream is its reserving client's: another client holding its token
      // (it travels in URLs) can neither run operations on it nor stop them.
      const token =
        request.headers.get('x-graphql-event-stream-token') ?? new URL(request.url).searchParams.get('token');
      if (token !== null && owners.has(token) && owners.get(token) !== client) {
        endResponse(new fetchAPI.Response('Stream not found', { status: 404 }));
        return;
      }
      return withDocumentId(request).then(async ({ request: forwarded, documentId }) => {
        serverContexts.set(forwarded, serverContext as Record<string, unknown>);
        originals.set(forwarded, request);
        if (documentId !== undefined) documentIds.set(forwarded, documentId);
        const response = await serve(forwarded);
        if (request.method === 'PUT' && response.status === 201 && client !== undefined) {
          owners.set(await response.clone().text(), client);
          if (owners.size > MAX_RESERVATIONS) owners.delete(owners.keys().next().value as string);
        }
        endResponse(response);
      });
    },
  };
}
