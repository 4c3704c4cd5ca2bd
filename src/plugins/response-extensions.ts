import type { ExecutionResult } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { roundUsd } from '../completions/prices.js';
import type { GraphQLContext } from '../context.js';
import { extended } from '../runtime/objects.js';

/**
 * Puts what resolvers collected into the result's extensions: `warnings`, and `usage` (tokens, cost
 * and upstream request id of each paid field, and the operation's cost: null when a model has no
 * price). A stream carries them on the event that follows them: its last one, since the service
 * settles a stream's usage before that event goes out.
 */

type Collected = Partial<Pick<GraphQLContext, 'warnings' | 'usageReport'>>;

function withExtensions(
  result: ExecutionResult,
  collected: Collected,
  from: { warnings: number; calls: number },
): ExecutionResult | undefined {
  const warnings = (collected.warnings ?? []).slice(from.warnings);
  const calls = (collected.usageReport ?? []).slice(from.calls);
  if (warnings.length === 0 && calls.length === 0) return undefined;
  const costs = calls.map((call) => call.costUsd);
  const usage =
    calls.length === 0
      ? undefined
      : {
          calls,
          costUsd: costs.includes(null)
            ? null
            : roundUsd(costs.reduce<number>((sum, cost) => sum + (cost ?? 0), 0)),
        };
  const extensions: Record<string, unknown> = extended(result.extensions, {});
  if (warnings.length > 0) extensions.warnings = warnings;
  if (usage) extensions.usage = usage;
  return extended(result, { extensions });
}

export function useResponseExtensions(): Plugin {
  return {
    onExecute: ({ args }) => ({
      onExecuteDone: ({ result, setResult }) => {
        if (Symbol.asyncIterator in result) return;
        const extended = withExtensions(result, args.contextValue as Collected, { warnings: 0, calls: 0 });
        if (extended !== undefined) setResult(extended);
      },
    }),
    onSubscribe: ({ args }) => ({
      onSubscribeResult: () => {
        const collected = args.contextValue as Collected;
        // Each warning and each call's usage goes out once, on the first event after it was noted.
        const sent = { warnings: 0, calls: 0 };
        return {
          onNext: ({ result, setResult }) => {
            const extended = withExtensions(result, collected, sent);
            if (extended === undefined) return;
            sent.warnings = collected.warnings?.length ?? 0;
            sent.calls = collected.usageReport?.length ?? 0;
            setResult(extended);
          },
        };
      },
    }),
  };
}
