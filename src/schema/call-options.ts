import type { CompletionCallOptions } from '../completions/service.js';
import type { GraphQLContext } from '../context.js';

/** How a completion resolver calls the service on behalf of the operation's caller. */
export function completionCallOptions(context: GraphQLContext): CompletionCallOptions {
  return {
    signal: context.signal,
    client: context.client.name,
    ...(context.upstreamApiKey === undefined ? {} : { apiKey: context.upstreamApiKey }),
    onStoreFailure: () =>
      context.warnings.push({
        code: 'STORE_FAILED',
        message: 'The completion was created but could not be stored; it is returned all the same.',
      }),
  };
}
