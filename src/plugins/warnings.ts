import type { Plugin } from 'graphql-yoga';
import type { Warning } from '../context.js';

/** Puts the warnings resolvers collected into `extensions.warnings` of the result. */
export function useWarnings(): Plugin<{ warnings?: Warning[] }> {
  return {
    onExecute: ({ args }) => ({
      onExecuteDone: ({ result, setResult }) => {
        const warnings = (args.contextValue as { warnings?: Warning[] }).warnings;
        if (warnings === undefined || warnings.length === 0 || Symbol.asyncIterator in result) return;
        setResult({ ...result, extensions: { ...result.extensions, warnings } });
      },
    }),
  };
}
