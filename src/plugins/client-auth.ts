import type { IncomingMessage } from 'node:http';
import type { Plugin } from 'graphql-yoga';
import type { Client, ClientAuthenticator } from '../auth/client-keys.js';
import { errorCodes } from '../errors.js';
import { requestIdOf } from '../http/request-id.js';

/** Who each admitted HTTP request is, authenticated once here and read by the context factory. */
const clients = new WeakMap<Request, Client>();

export function authenticatedClient(request: Request): Client | undefined {
  return clients.get(request);
}

/**
 * Refuses GraphQL requests without a valid client key, before anything is parsed, when keys are
 * configured. The GraphiQL page itself (a browser GET for HTML) stays open: it holds no data and
 * sends the key the user enters in its headers tab.
 */
export function useClientAuth(authenticator: ClientAuthenticator): Plugin {
  return {
    onRequest({ request, url, endResponse, fetchAPI, serverContext }) {
      const result = authenticator.authenticate(request.headers.get('authorization'));
      if (result.ok) {
        clients.set(request, result.client);
        return;
      }
      const wantsPage =
        request.method === 'GET' &&
        !url.searchParams.has('query') &&
        (request.headers.get('accept') ?? '').includes('text/html');
      if (wantsPage) return;
      const req = (serverContext as { req?: IncomingMessage }).req;
      const message =
        result.reason === 'missing'
          ? 'This API needs a client key: send Authorization: Bearer <key>.'
          : 'The client key is not valid.';
      endResponse(
        new fetchAPI.Response(
          JSON.stringify({
            errors: [{ message, extensions: { code: errorCodes.unauthenticated } }],
            // As on every other answer (yoga's result hooks never see this one).
            ...(req === undefined ? {} : { extensions: { requestId: requestIdOf(req) } }),
          }),
          {
            status: 401,
            headers: {
              'content-type': 'application/json',
              'www-authenticate': 'Bearer realm="completions-subgraph"',
            },
          },
        ),
      );
    },
  };
}
