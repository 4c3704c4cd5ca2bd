import { getOperationAST } from 'graphql';
import { createHandler } from 'graphql-sse/lib/use/fetch';
import type { Plugin } from 'graphql-yoga';
import { type PersistedDocuments, streamRefusal } from './persisted-documents.js';

/**
 * graphql-sse (both of its modes) at `endpoint`, as `@graphql-yoga/plugin-graphql-sse` serves it,
 * with one difference: the operation's document goes through the persisted-documents resolver.
 * The packaged plugin hands graphql-sse's requests to the handler before yoga's `onParams` hooks
 * run, so `TRUSTED_DOCUMENTS_ONLY` would not hold there. graphql-sse wants a `query` string:
 * persisted requests send `query: ""` with the id in `extensions.persistedQuery`.
 */
export function useGraphqlSse(endpoint: string, documents: PersistedDocuments): Plugin {
  const serverContexts = new WeakMap<Request, Record<string, unknown>>();
  let handler: ((request: Request) => Promise<Response>) | undefined;
  return {
    onYogaInit({ yoga }) {
      handler = createHandler(
        {
          onSubscribe(req, params) {
            const resolved = documents.resolve(params);
            // graphql-sse takes a result for one only with a `data` key (else it reads it as
            // execution arguments and answers 400 with no reason).
            if ('error' in resolved) return { data: null, errors: [streamRefusal(resolved.error)] };
            const enveloped = yoga.getEnveloped({
              ...serverContexts.get(req.raw),
              request: req.raw,
              params: { ...params, query: resolved.query },
            });
            const document = enveloped.parse(resolved.query);
            const errors = enveloped.validate(enveloped.schema, document);
            if (errors.length > 0) return { data: null, errors };
            return Promise.resolve(enveloped.contextFactory()).then((contextValue) => {
              const args = {
                schema: enveloped.schema,
                document,
                contextValue,
                variableValues: params.variables,
                operationName: params.operationName,
              };
              const operation = getOperationAST(document, params.operationName);
              return operation?.operation === 'subscription'
                ? enveloped.subscribe(args)
                : enveloped.execute(args);
            });
          },
        },
        yoga.fetchAPI,
      ) as (request: Request) => Promise<Response>;
    },
    onRequest({ request, endResponse, serverContext }) {
      const [path] = request.url.split('?');
      if (handler === undefined || !path?.endsWith(endpoint)) return;
      serverContexts.set(request, serverContext as Record<string, unknown>);
      return handler(request).then(endResponse);
    },
  };
}
