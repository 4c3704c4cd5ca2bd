import { parse } from 'graphql';
import { describe, expect, it } from 'vitest';
import { findPaidFields } from '../../src/plugins/paid-fields.js';
import { schema } from '../../src/schema/index.js';

const input = '{ model: "m", prompt: { text: "hi" } }';

function find(query: string, variables: Record<string, unknown> = {}, operationName?: string) {
  return findPaidFields(schema, parse(query), operationName, variables);
}

function keys(query: string, variables: Record<string, unknown> = {}) {
  const result = find(query, variables);
  if ('errors' in result) throw new Error(`refused: ${result.errors.map((e) => e.message).join('; ')}`);
  return result.fields.map((f) => f.responseKey);
}

describe('findPaidFields', () => {
  it('finds paid fields through aliases, fragments and inline fragments', () => {
    expect(
      keys(`mutation {
        a: createCompletion(input: ${input}) { id }
        ... { b: createCompletion(input: ${input}) { id } }
        ... on Mutation { c: createCompletion(input: ${input}) { id } }
        ...F
      }
      fragment F on Mutation { d: createCompletion(input: ${input}) { id } }`),
    ).toEqual(['a', 'b', 'c', 'd']);
  });

  it('honours @skip and @include on variables, on fields and fragments', () => {
    const query = `mutation ($yes: Boolean!, $no: Boolean!) {
      a: createCompletion(input: ${input}) @skip(if: $yes) { id }
      b: createCompletion(input: ${input}) @include(if: $yes) { id }
      ... @include(if: $no) { c: createCompletion(input: ${input}) { id } }
      ...F @skip(if: $no)
    }
    fragment F on Mutation { d: createCompletion(input: ${input}) { id } }`;
    expect(keys(query, { yes: true, no: false })).toEqual(['b', 'd']);
  });

  it('counts selections merged under one response key once, as execution runs them', () => {
    expect(
      keys(
        `mutation { a: createCompletion(input: ${input}) { id } ... { a: createCompletion(input: ${input}) { model } } }`,
      ),
    ).toEqual(['a']);
  });

  it('carries each field its coerced input, defaults applied', () => {
    const result = find(
      'mutation ($in: CreateCompletionInput = {model: "m", prompt: {text: "d"}, maxTokens: 7}) { createCompletion(input: $in) { id } }',
    );
    expect(result).toMatchObject({ fields: [{ name: 'createCompletion', input: { maxTokens: 7 } }] });
  });

  it('ignores fields that cost nothing', () => {
    expect(keys('query { models { id } }')).toEqual([]);
  });

  it('refuses what it cannot account for instead of giving up', () => {
    const nullInNonNull = find(
      'mutation ($in: CreateCompletionInput = {model: "m", prompt: {text: "d"}}) { createCompletion(input: $in) { id } }',
      { in: null },
    );
    expect(nullInNonNull).toMatchObject({ errors: [{ message: expect.stringMatching(/must not be null/) }] });
    const wrongType = find('mutation ($in: CreateCompletionInput!) { createCompletion(input: $in) { id } }', {
      in: { model: 'm', prompt: { text: 'x' }, maxTokens: 'many' },
    });
    expect('errors' in wrongType).toBe(true);
    const badFlag = find(
      `mutation ($f: Boolean = true) { a: createCompletion(input: ${input}) @skip(if: $f) { id } }`,
      {
        f: null,
      },
    );
    expect('errors' in badFlag).toBe(true);
    const unknownOperation = find(`mutation A { a: createCompletion(input: ${input}) { id } }`, {}, 'B');
    expect(unknownOperation).toMatchObject({ errors: [{ extensions: { code: 'BAD_REQUEST' } }] });
  });
});
