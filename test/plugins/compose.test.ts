import { GraphQLError } from 'graphql';
import { createSchema, createYoga, type Plugin } from 'graphql-yoga';
import { describe, expect, it } from 'vitest';
import { composeExecuteHooks } from '../../src/plugins/compose.js';

/** Several plugins' execute hooks as one envelop hook: the same order, stops and results as apart. */

const schema = createSchema({
  typeDefs: 'type Query { hello: String }',
  resolvers: { Query: { hello: () => 'hi' } },
});

function recorder(name: string, seen: string[], options: { stop?: boolean; mark?: boolean } = {}): Plugin {
  return {
    onExecute({ setResultAndStopExecution }) {
      seen.push(`execute ${name}`);
      if (options.stop) setResultAndStopExecution({ errors: [new GraphQLError(`stopped by ${name}`)] });
      return {
        onExecuteDone({ result, setResult }) {
          const single = result as { extensions?: Record<string, unknown> };
          seen.push(`done ${name} saw ${JSON.stringify(single.extensions?.marks ?? [])}`);
          if (options.mark) {
            const marks = [...((single.extensions?.marks as string[]) ?? []), name];
            setResult({ ...single, extensions: { ...single.extensions, marks } });
          }
        },
      };
    },
  };
}

async function run(plugins: Plugin[]) {
  const yoga = createYoga({ schema, plugins, logging: false, maskedErrors: false });
  const response = await yoga.fetch('http://localhost/graphql', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query: '{ hello }' }),
  });
  return (await response.json()) as { data?: unknown; errors?: { message: string }[]; extensions?: unknown };
}

describe('composeExecuteHooks', () => {
  it('runs the hooks in order, each done hook seeing the result the one before set', async () => {
    const apart: string[] = [];
    const together: string[] = [];
    const make = (seen: string[]) => [
      recorder('a', seen, { mark: true }),
      recorder('b', seen),
      recorder('c', seen, { mark: true }),
    ];
    const separate = await run(make(apart));
    const composed = await run(composeExecuteHooks(...make(together)));
    expect(composed).toEqual(separate);
    expect(together).toEqual(apart);
    expect(composed).toEqual({ data: { hello: 'hi' }, extensions: { marks: ['a', 'c'] } });
    expect(together).toEqual([
      'execute a',
      'execute b',
      'execute c',
      'done a saw []',
      'done b saw ["a"]',
      'done c saw ["a"]',
    ]);
  });

  it('stops at the first hook that sets a result: later hooks do not run, earlier ones see it', async () => {
    const apart: string[] = [];
    const together: string[] = [];
    const make = (seen: string[]) => [
      recorder('a', seen),
      recorder('b', seen, { stop: true }),
      recorder('c', seen),
    ];
    const separate = await run(make(apart));
    const composed = await run(composeExecuteHooks(...make(together)));
    expect(composed).toEqual(separate);
    expect(together).toEqual(apart);
    expect(composed.errors?.map((error) => error.message)).toEqual(['stopped by b']);
    expect(together).toEqual(['execute a', 'execute b', 'done a saw []', 'done b saw []']);
  });

  it('keeps the plugins’ other hooks, and refuses an asynchronous execute hook loudly', async () => {
    const parsed: string[] = [];
    const slow: Plugin = {
      onParse: () => {
        parsed.push('parse');
      },
      onExecute: async () => {},
    };
    const answer = await run(composeExecuteHooks(slow));
    expect(parsed).toEqual(['parse']);
    expect(answer.errors?.[0]?.message).toMatch(/must be synchronous/);
  });
});
