import type { Plugin } from 'graphql-yoga';
import type { ClientAuthenticator } from '../auth/client-keys.js';

/**
 * Refuses GraphQL requests without a valid client key, before anything is parsed, when keys are
 * configured. The GraphiQL page itself (a browser GET for HTML) stays open: it holds no data and
 * sends the key the user enters in its headers tab.
 */
export function useClientAuth(authenticator: ClientAuthenticator): Plugin {
  return {
    onRequest({ request, url, endResponse, fetchAPI }) {
      if (!authenticator.required) return;
      const wantsPage =
        request.method === 'GET' &&
        !url.searchParams.has('query') &&
        (request.headers.get('accept') ?? '').includes('text/html');
      if (wantsPage) return;
      const result = authenticator.authenticate(request.headers.get('authorization'));
      if (result.ok) return;
      const message =
        result.reason === 'missing'
          ? 'This API needs a client key: send Authorization: Bearer <key>.'
          : 'The client key is not valid.';
      endResponse(
        new fetchAPI.Response(
          JSON.stringify({ errors: [{ message, extensions: { code: 'UNAUTHENTICATED' } }] }),
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
