import type { IncomingMessage } from 'node:http';
import type { Plugin } from 'graphql-yoga';
import { requestIdOf } from '../http/request-id.js';

/** `extensions.requestId` on every single result yoga sends, refusals included (streams: the header). */
export function useRequestIdExtension(): Plugin {
  return {
    onResultProcess({ result, setResult, serverContext }) {
      const req = (serverContext as { req?: IncomingMessage }).req;
      if (req === undefined || Array.isArray(result) || Symbol.asyncIterator in result) return;
      const requestId = requestIdOf(req);
      setResult({ ...result, extensions: { ...result.extensions, requestId } });
    },
  };
}
