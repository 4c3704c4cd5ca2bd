import type { Plugin } from 'graphql-yoga';
import { currentRequestId } from '../http/request-id.js';

/** `extensions.requestId` on every single result yoga sends, refusals included (streams: the header). */
export function useRequestIdExtension(): Plugin {
  return {
    onResultProcess({ result, setResult }) {
      const requestId = currentRequestId();
      if (requestId === undefined || Array.isArray(result) || Symbol.asyncIterator in result) return;
      setResult({ ...result, extensions: { ...result.extensions, requestId } });
    },
  };
}
