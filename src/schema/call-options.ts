import type { GraphQLResolveInfo } from 'graphql';
import { LightAbortController } from '../abort.js';
import type { PreparedCompletion } from '../completions/prepare.js';
import type { CompletionCallOptions } from '../completions/service.js';
import type { GraphQLContext, Warning } from '../context.js';
import { errorCodes, ShuttingDownError } from '../errors.js';
import { CompletionIdConflictError } from '../storage/index.js';

function storeWarning(error: unknown): Warning {
  if (error instanceof CompletionIdConflictError) {
    return {
      code: errorCodes.storeConflict,
      message:
        'The completion was created but not stored: this client already stored one with the same id (the first one is kept); it is returned all the same.',
    };
  }
  return {
    code: errorCodes.storeFailed,
    message: 'The completion was created but could not be stored; it is returned all the same.',
  };
}

/** How a completion resolver calls the service on behalf of the operation's caller. */
export function completionCallOptions(context: GraphQLContext, field: string): CompletionCallOptions {
  return {
    signal: context.signal,
    client: context.client.name,
    ...(context.upstreamApiKey === undefined ? {} : { apiKey: context.upstreamApiKey }),
    ...(context.requestId === undefined ? {} : { requestId: context.requestId }),
    ...(context.trace === undefined ? {} : { trace: context.trace }),
    onStoreFailure: (error) => context.warnings.push(storeWarning(error)),
    onWarning: (warning) => context.warnings.push(warning),
    onUsage: (usage) => context.usageReport.push({ field, ...usage }),
  };
}

/** A paid call that the preflight did not prepare: a path around it, refused rather than run unpriced. */
export class UnplannedCallError extends Error {
  constructor(field: string) {
    super(`The paid field "${field}" was not priced before execution; refusing to run it.`);
    this.name = 'UnplannedCallError';
  }
}

/** The call the preflight prepared for this field (by its response key), never one made here. */
export function plannedCall(context: GraphQLContext, info: GraphQLResolveInfo): PreparedCompletion {
  const call = context.paidCalls?.get(String(info.path.key));
  if (call === undefined) throw new UnplannedCallError(String(info.path.key));
  return call;
}

/**
 * A subscription's events, cancellable at once: transports stop a subscription with the iterator's
 * `return()`, which an async generator only runs after its pending `next()` settles, so a quiet
 * upstream would hold the connection until its own timeouts. Here `return()` first aborts the call.
 */
export function cancellableStream<T>(
  context: GraphQLContext,
  start: (signal: AbortSignal) => AsyncIterable<T>,
): AsyncIterable<T> {
  const controller = new LightAbortController();
  const parent = context.signal;
  const onAbort = () => controller.abort(parent.reason);
  if (parent.aborted) controller.abort(parent.reason);
  else parent.addEventListener('abort', onAbort, { once: true });
  // A shutdown's grace period ended: the stream ends with a coded error, not silently.
  let shuttingDown = false;
  const onShutdown = () => {
    shuttingDown = true;
    controller.abort(new ShuttingDownError());
  };
  context.shutdown.addEventListener('abort', onShutdown, { once: true });
  const inner = start(controller.signal)[Symbol.asyncIterator]();
  const done = () => {
    parent.removeEventListener('abort', onAbort);
    context.shutdown.removeEventListener('abort', onShutdown);
  };
  let unsubscribed = false;
  return {
    [Symbol.asyncIterator]: () => ({
      next: async () => {
        try {
          const result = await inner.next();
          if (result.done) done();
          return result;
        } catch (error) {
          // The read pending when the consumer left ends quietly: nobody is there to be told, and
          // a rejection here would be unhandled in the transport that already moved on.
          if (unsubscribed) return { done: true, value: undefined };
          done();
          throw shuttingDown ? new ShuttingDownError() : error;
        }
      },
      return: async () => {
        unsubscribed = true;
        done();
        controller.abort(new Error('unsubscribed'));
        return (await inner.return?.()) ?? { done: true, value: undefined };
      },
      throw: async (error?: unknown) => {
        done();
        controller.abort(error);
        if (inner.throw) return inner.throw(error);
        throw error;
      },
    }),
  };
}
