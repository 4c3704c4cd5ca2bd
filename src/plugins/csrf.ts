import { useCSRFPrevention } from '@graphql-yoga/plugin-csrf-prevention';
import { createGraphQLError, type Plugin } from 'graphql-yoga';
import { errorCodes } from '../error-codes.js';

/**
 * Yoga's CSRF prevention for requests with a body: a form-encoded, multipart or text/plain POST
 * (which a browser sends cross-site without a CORS preflight) needs a custom header to run.
 * A GET asking for an event stream is checked too: it can start a paid subscription, and
 * EventSource sends it cross-site without a preflight. Other GETs are left alone: yoga never runs
 * a mutation over GET, and queries here cost nothing.
 */
export function usePostCsrfPrevention(): Plugin {
  const csrf = useCSRFPrevention({ requestHeaders: ['x-graphql-yoga-csrf', 'apollo-require-preflight'] });
  const check = csrf.onRequestParse;
  return {
    onRequestParse(payload) {
      const { request } = payload;
      const streamingGet =
        request.method === 'GET' && (request.headers.get('accept') ?? '').includes('text/event-stream');
      if ((request.method === 'GET' && !streamingGet) || check === undefined) return;
      try {
        return check(payload);
      } catch {
        throw createGraphQLError(
          'This request could be sent cross-site by a browser: send JSON, or add the x-graphql-yoga-csrf header.',
          { extensions: { code: errorCodes.csrfHeaderRequired, http: { status: 403 } } },
        );
      }
    },
  };
}
