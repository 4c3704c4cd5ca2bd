import type { IncomingMessage } from 'node:http';
import { normalizedExecutor } from '@graphql-tools/executor';
import type { ExecutionArgs, ExecutionResult, GraphQLError } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { Caller } from '../request-context.js';
import { extended } from '../runtime/objects.js';
import { type CompletionsYoga, directExecutionOf } from '../yoga.js';
import { callerOf, checkedDocument, type Params } from './graphql-params.js';

/**
 * A query or mutation run as yoga's envelop runs it, without the envelope: the context as yoga
 * builds it (the route's initial context, then the app's), our execute hooks as one, yoga's
 * executor, then yoga's masking — in envelop's order, a result set by a hook stopping the
 * execution and the masking with it. envelop's orchestration of the same three hooks cost every
 * operation closures, promise helpers and the enveloped instance itself.
 */

type ExecutePayload = Parameters<NonNullable<Plugin['onExecute']>>[0];
type ExecuteFn = ExecutePayload['executeFn'];
type DonePayload = Parameters<
  NonNullable<Exclude<Awaited<ReturnType<NonNullable<Plugin['onExecute']>>>, void>['onExecuteDone']>
>[0];

/** The operation's arguments, ready to run, or undefined when yoga should answer. */
export function directOperation(
  yoga: CompletionsYoga,
  req: IncomingMessage,
  params: Params,
  admitted: Pick<Caller, 'signal' | 'client'>,
): ExecutionArgs | undefined {
  const direct = directExecutionOf(yoga);
  const caller = callerOf(req, admitted);
  const document = checkedDocument(yoga, params, ['query', 'mutation'], () =>
    yoga.getEnveloped({ req, caller, params }),
  );
  if (document === undefined) return undefined;
  return {
    schema: direct.schema,
    document,
    variableValues: params.variables,
    operationName: params.operationName,
    contextValue: Object.assign({ req, caller, params }, direct.createContext(caller)),
  };
}

interface Masking {
  errorMessage: string;
  maskError: (error: unknown, message: string) => unknown;
}

/** yoga's own masking (its logging and its memory of errors already masked included). */
function maskingOf(yoga: CompletionsYoga): Masking | null {
  // Declared private in yoga's types; it is the object yoga hands its masking plugin.
  return (yoga as unknown as { maskedErrorsOpts: Masking | null }).maskedErrorsOpts;
}

export async function executeDirect(yoga: CompletionsYoga, args: ExecutionArgs): Promise<unknown> {
  const direct = directExecutionOf(yoga);
  let executeFn: ExecuteFn = normalizedExecutor as ExecuteFn;
  let stopped: ExecutionResult | undefined;
  const hooks = await direct.onExecute({
    args,
    executeFn,
    setExecuteFn(fn) {
      executeFn = fn;
    },
    setResultAndStopExecution(result) {
      stopped = result as ExecutionResult;
    },
    extendContext(extension) {
      Object.assign(args.contextValue as object, extension);
    },
  } as ExecutePayload);
  let result: unknown = stopped ?? (await executeFn(args));
  if (hooks?.onExecuteDone !== undefined) {
    await hooks.onExecuteDone({
      args,
      result,
      setResult(next: unknown) {
        result = next;
      },
    } as DonePayload);
  }
  // A hook that set the result stopped the hooks after it: yoga's masking among them.
  const masking = maskingOf(yoga);
  if (stopped !== undefined || masking === null) return result;
  const { errors } = result as ExecutionResult;
  if (errors == null) return result;
  return extended(result as ExecutionResult, {
    errors: errors.map((error) => masking.maskError(error, masking.errorMessage) as GraphQLError),
  });
}
