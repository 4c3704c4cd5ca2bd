import type { Plugin } from 'graphql-yoga';
import type { GraphQLContext } from '../context.js';

/**
 * Puts what resolvers collected into the result's extensions: `warnings`, and `usage` (tokens, cost
 * and upstream request id of each paid field, and the operation's cost: null when a model has no
 * price).
 */
export function useResponseExtensions(): Plugin {
  return {
    onExecute: ({ args }) => ({
      onExecuteDone: ({ result, setResult }) => {
        const { warnings, usageReport } = args.contextValue as Partial<GraphQLContext>;
        if (Symbol.asyncIterator in result) return;
        const hasWarnings = warnings !== undefined && warnings.length > 0;
        const hasUsage = usageReport !== undefined && usageReport.length > 0;
        if (!hasWarnings && !hasUsage) return;
        const costs = (usageReport ?? []).map((call) => call.costUsd);
        const usage = hasUsage
          ? {
              calls: usageReport,
              costUsd: costs.includes(null)
                ? null
                : costs.reduce<number>((sum, cost) => sum + (cost ?? 0), 0),
            }
          : undefined;
        setResult({
          ...result,
          extensions: {
            ...result.extensions,
            ...(hasWarnings ? { warnings } : {}),
            ...(usage ? { usage } : {}),
          },
        });
      },
    }),
  };
}
