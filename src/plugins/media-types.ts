import { createGraphQLError, type Plugin } from 'graphql-yoga';
import { errorCodes } from '../error-codes.js';
import { mediaTypes } from '../http/headers.js';

/**
 * Refuses, with a coded GraphQL error instead of yoga's empty 415/406, a body in a media type this
 * API does not read and an Accept header it cannot satisfy.
 */

const readableBodies = ['application/json', 'application/graphql-response+json', 'application/graphql+json'];
const producible = [
  'application/json',
  'application/graphql-response+json',
  'text/event-stream',
  'multipart/mixed',
  'text/html',
  'application/*',
  'text/*',
  '*/*',
];

export function useMediaTypeChecks(): Plugin {
  return {
    onRequest({ request, endResponse, fetchAPI }) {
      const accepted = mediaTypes(request.headers.get('accept'));
      if (accepted.length > 0 && !accepted.some((type) => producible.includes(type))) {
        const body = JSON.stringify({
          errors: [
            {
              message:
                'This API answers in application/graphql-response+json, application/json or text/event-stream.',
              extensions: { code: errorCodes.notAcceptable },
            },
          ],
        });
        endResponse(
          new fetchAPI.Response(body, { status: 406, headers: { 'content-type': 'application/json' } }),
        );
      }
    },
    onRequestParse({ request }) {
      if (request.method === 'GET' || request.method === 'HEAD') return;
      const [type] = mediaTypes(request.headers.get('content-type'));
      if (type !== undefined && readableBodies.includes(type)) return;
      throw createGraphQLError(
        `Send the request body as application/json (got ${type ?? 'no content type'}).`,
        {
          extensions: { code: errorCodes.unsupportedMediaType, http: { status: 415 } },
        },
      );
    },
  };
}
