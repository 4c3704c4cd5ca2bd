import { describe, expect, it } from 'vitest';
import {
  checkCompletion,
  checkModelList,
  checkUsage,
  ShapeError,
} from '../../src/upstream/response-check.js';
import { recordedJson } from '../helpers/recorded.js';

/** What an upstream 2xx body must hold to be a completion, and what is filled in or ignored. */

const base = { id: 'cmpl-1', object: 'text_completion', created: 7, model: 'm' };
const choice = { text: 'hi', index: 0, logprobs: null, finish_reason: 'stop' };

describe('checkCompletion', () => {
  it('accepts the recorded OpenAI body as it is', () => {
    const body = recordedJson('openai-nonstream-basic.json') as { id: string; choices: unknown[] };
    const checked = checkCompletion(body);
    expect(checked.id).toBe(body.id);
    expect(checked.choices).toHaveLength(body.choices.length);
  });

  it.each([
    ['not an object', 'text', /body is not a JSON object/],
    ['null', null, /body is not a JSON object/],
    ['an array', [], /body is not a JSON object/],
    ['no choices', { ...base }, /choices is missing/],
    ['no id', { ...base, id: undefined, choices: [] }, /body\.id is not a string/],
    ['a numeric model', { ...base, model: 3, choices: [] }, /body\.model is not a string/],
    ['a choice that is not an object', { ...base, choices: [3] }, /choices\[0\] is not an object/],
    ['a choice without text', { ...base, choices: [{ index: 0 }] }, /choices\[0\]\.text is not a string/],
    [
      'logprobs not an object',
      { ...base, choices: [{ ...choice, logprobs: 1 }] },
      /logprobs is not an object/,
    ],
    [
      'logprobs tokens not strings',
      { ...base, choices: [{ ...choice, logprobs: { tokens: [1] } }] },
      /tokens is not a list of strings/,
    ],
    [
      'logprobs list not a list',
      { ...base, choices: [{ ...choice, logprobs: { tokens: [], token_logprobs: 1 } }] },
      /token_logprobs is not a list/,
    ],
  ])('refuses %s', (_name, body, message) => {
    expect(() => checkCompletion(body)).toThrow(ShapeError);
    expect(() => checkCompletion(body)).toThrow(message);
  });

  it('fills in what can be derived and ignores extra fields', () => {
    const checked = checkCompletion(
      {
        id: 'c',
        model: 'm',
        choices: [
          { text: 'a', finish_reason: '' },
          { text: 'b', index: 5.7 },
        ],
        extra: 1,
      },
      () => 42_000,
    );
    expect(checked).toEqual({
      id: 'c',
      object: 'text_completion',
      created: 42,
      model: 'm',
      system_fingerprint: null,
      choices: [
        { text: 'a', index: 0, logprobs: null, finish_reason: null },
        { text: 'b', index: 5, logprobs: null, finish_reason: null },
      ],
      usage: null,
    });
  });

  it('keeps finite logprobs, drops non-numbers, defaults offsets', () => {
    const checked = checkCompletion({
      ...base,
      choices: [
        {
          ...choice,
          logprobs: {
            tokens: ['a', 'b'],
            token_logprobs: [null, -1, 'x'],
            top_logprobs: [null, { a: -1, b: 'x', c: Number.NaN }],
            text_offset: [0, 'y'],
          },
        },
      ],
    });
    expect(checked.choices[0]?.logprobs).toEqual({
      tokens: ['a', 'b'],
      token_logprobs: [null, -1, null],
      top_logprobs: [null, { a: -1 }],
      text_offset: [0, 0],
    });
  });

  it('accepts a stream chunk with no choices (the usage chunk)', () => {
    const checked = checkCompletion({
      ...base,
      choices: [],
      usage: { prompt_tokens: 3, completion_tokens: 4, total_tokens: 7 },
    });
    expect(checked.usage).toMatchObject({ prompt_tokens: 3, completion_tokens: 4, total_tokens: 7 });
  });
});

describe('checkUsage', () => {
  it('derives missing counts', () => {
    expect(checkUsage({ prompt_tokens: 5, total_tokens: 5 })).toMatchObject({
      prompt_tokens: 5,
      completion_tokens: 0,
      total_tokens: 5,
    });
    expect(checkUsage({ total_tokens: 9, completion_tokens: 4 })).toMatchObject({
      prompt_tokens: 5,
      completion_tokens: 4,
    });
    expect(checkUsage({ prompt_tokens: 2, completion_tokens: 3 })).toMatchObject({ total_tokens: 5 });
    expect(checkUsage('x')).toBeNull();
  });
});

describe('checkModelList', () => {
  it('keeps models with an id, fills the rest, refuses a body without data', () => {
    expect(
      checkModelList({
        data: [{ id: 'a' }, { id: '' }, 3, { id: 'b', object: 'model', created: 9, owned_by: 'o' }],
      }),
    ).toEqual([
      { id: 'a', object: 'model', created: 0, owned_by: '' },
      { id: 'b', object: 'model', created: 9, owned_by: 'o' },
    ]);
    expect(() => checkModelList({})).toThrow(ShapeError);
  });
});
