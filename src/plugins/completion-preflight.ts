import { GraphQLError } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { exactCharsPerOperation, PromptCounter } from '../completions/cost.js';
import type { CompletionRequestInput } from '../completions/model.js';
import { assertWithinCeilings, type OperationCeilings } from '../completions/operation-limits.js';
import { type PreparedCompletion, type PrepareSettings, prepareFromInput } from '../completions/prepare.js';
import type { GraphQLContext } from '../context.js';
import { errorCodes, toClientError } from '../errors.js';
import { extended } from '../runtime/objects.js';
import { prepareEntityBatch } from '../schema/templates/entities.js';
import { prepareTemplateCall } from '../templates/call.js';
import { RawPromptForbiddenError } from '../templates/errors.js';
import { stageCodes } from './error-codes.js';
import { findPaidFields } from './paid-fields.js';

/**
 * The plan of an operation, made after validation and before any resolver: every paid field with
 * its checked wire request and price, refused as a whole when anything about it cannot be worked
 * out or breaks a rule. The resolvers run the prepared calls from the plan and nothing else, so
 * no paid call can start that was not counted and priced here. Not a validation rule: it depends
 * on the variables, and yoga caches validation results per document.
 */

export interface PreflightOptions extends OperationCeilings, PrepareSettings {
  /** false: only template fields may run; createCompletion and completionStream are refused. */
  allowRawPrompts?: boolean;
}

/** Status 400 under `application/graphql-response+json`, 200 for legacy JSON clients, as yoga does. */
const requestError = { spec: true, status: 400 } as const;

type ExecutionArgs = Parameters<NonNullable<Plugin['onExecute']>>[0]['args'];

function refusal(error: unknown): GraphQLError {
  const mapped = toClientError(error);
  if (mapped !== undefined) {
    return new GraphQLError(mapped.message, {
      extensions: extended(mapped.extensions, { http: requestError }),
    });
  }
  if (error instanceof GraphQLError) {
    // Variables, arguments or directives that do not coerce: the client's input.
    const code = typeof error.extensions.code === 'string' ? error.extensions.code : stageCodes.variables;
    return new GraphQLError(error.message, {
      extensions: extended(error.extensions, { code, http: requestError }),
      ...(error.nodes ? { nodes: error.nodes } : {}),
    });
  }
  // Our own failure to price: refused all the same, never run unpriced.
  return new GraphQLError('The operation could not be priced; nothing was run.', {
    extensions: { code: errorCodes.internal, http: { status: 500 } },
  });
}

/**
 * A plain GET that would run paid fields (a template is a Query field): a page on another site can
 * send one with an `<img>`, no preflight, so it runs only with a header such a page cannot add.
 * The WebSocket and JSON routes bring no fetch `request`; yoga's GET for an event stream was
 * already held to the same header by the CSRF plugin.
 */
function crossSiteGet(context: unknown): boolean {
  const request = (context as { request?: Request }).request;
  if (request?.method !== 'GET') return false;
  return !request.headers.has('x-graphql-yoga-csrf') && !request.headers.has('apollo-require-preflight');
}

function crossSiteRefusal(): GraphQLError {
  return new GraphQLError(
    'A GET that runs a paid field needs the x-graphql-yoga-csrf header (a browser page on another site cannot add it); or POST JSON.',
    { extensions: { code: errorCodes.csrfHeaderRequired, http: { status: 403 } } },
  );
}

function prepareRaw(
  input: CompletionRequestInput,
  stream: boolean,
  options: PreflightOptions,
  counter: PromptCounter,
): PreparedCompletion {
  if (options.allowRawPrompts === false) throw new RawPromptForbiddenError();
  return prepareFromInput(input, stream, options, counter);
}

/** The operation's prepared paid calls by response key, or the errors refusing the whole of it. */
export function planOperation(
  args: ExecutionArgs,
  options: PreflightOptions,
): Map<string, PreparedCompletion> | readonly GraphQLError[] {
  const variables = args.variableValues as Record<string, unknown> | null | undefined;
  const found = findPaidFields(args.schema, args.document, args.operationName, variables);
  if ('errors' in found) return found.errors.map(refusal);
  const plan = new Map<string, PreparedCompletion>();
  try {
    // One prompt counter for the operation: its budget of exact tokenization is per operation.
    const client = (args.contextValue as Partial<GraphQLContext> | undefined)?.client?.name;
    const counter = new PromptCounter(exactCharsPerOperation, client);
    for (const field of found.fields) {
      const call =
        'template' in field
          ? prepareTemplateCall(field.template, field.args, options, counter)
          : 'entity' in field
            ? prepareEntityBatch(field.entity, field.representations, options, counter)
            : prepareRaw(field.input, field.name === 'completionStream', options, counter);
      // An `_entities` field with no entity of the template's type calls nothing.
      if (call !== undefined) plan.set(field.responseKey, call);
    }
    assertWithinCeilings([...plan.values()], options);
  } catch (error) {
    return [refusal(error)];
  }
  return plan;
}

export function useCompletionPreflight(options: PreflightOptions): Plugin {
  const preflight = ({
    args,
    setResultAndStopExecution,
  }: {
    args: ExecutionArgs;
    setResultAndStopExecution: (result: { errors: readonly GraphQLError[] }) => void;
  }) => {
    const plan = planOperation(args, options);
    if (!(plan instanceof Map)) setResultAndStopExecution({ errors: plan });
    else if (plan.size > 0 && crossSiteGet(args.contextValue))
      setResultAndStopExecution({ errors: [crossSiteRefusal()] });
    else (args.contextValue as unknown as GraphQLContext).paidCalls = plan;
  };
  return { onExecute: preflight, onSubscribe: preflight };
}
