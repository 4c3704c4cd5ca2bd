import { describe, expect, it } from 'vitest';
import {
  assertValidRequest,
  findViolation,
  InvalidRequestError,
  limits,
} from '../../src/completions/validation.js';
import type { WireCompletionRequest } from '../../src/upstream/wire.js';

/** Each rule at its boundary (accepted) and one step past it (refused, naming the parameter). */

const base: WireCompletionRequest = { model: 'gpt-3.5-turbo-instruct', prompt: 'Say this is a test' };
const check = (overrides: Partial<WireCompletionRequest>) => findViolation({ ...base, ...overrides });
// biome-ignore lint/suspicious/noExplicitAny: untrusted JSON can hold anything; these feed it in
const checkUntyped = (overrides: Record<string, any>) =>
  findViolation({ ...base, ...overrides } as WireCompletionRequest);

type Boundary = [
  name: string,
  accepted: Partial<WireCompletionRequest>[],
  refused: Partial<WireCompletionRequest>[],
  param: string,
];

const boundaries: Boundary[] = [
  [
    'temperature 0..2',
    [{ temperature: 0 }, { temperature: 2 }],
    [{ temperature: -0.01 }, { temperature: 2.01 }],
    'temperature',
  ],
  ['top_p 0..1', [{ top_p: 0 }, { top_p: 1 }], [{ top_p: -0.0001 }, { top_p: 1.0001 }], 'top_p'],
  ['n 1..128', [{ n: 1 }, { n: limits.maxN }], [{ n: 0 }, { n: limits.maxN + 1 }, { n: 1.5 }], 'n'],
  [
    'logprobs 0..5',
    [{ logprobs: 0 }, { logprobs: 5 }],
    [{ logprobs: -1 }, { logprobs: 6 }, { logprobs: 2.5 }],
    'logprobs',
  ],
  [
    'best_of 1..20',
    [{ best_of: 1 }, { best_of: limits.maxBestOf }],
    [{ best_of: 0 }, { best_of: limits.maxBestOf + 1 }, { best_of: 1.5 }],
    'best_of',
  ],
  [
    'presence_penalty -2..2',
    [{ presence_penalty: -2 }, { presence_penalty: 2 }],
    [{ presence_penalty: -2.01 }, { presence_penalty: 2.01 }],
    'presence_penalty',
  ],
  [
    'frequency_penalty -2..2',
    [{ frequency_penalty: -2 }, { frequency_penalty: 2 }],
    [{ frequency_penalty: -2.01 }, { frequency_penalty: 2.01 }],
    'frequency_penalty',
  ],
  [
    'max_tokens ≥ 0, whole',
    [{ max_tokens: 1 }, { max_tokens: Number.MAX_SAFE_INTEGER }, { max_tokens: 0, echo: true }],
    [{ max_tokens: -1 }, { max_tokens: 1.5 }, { max_tokens: Number.MAX_SAFE_INTEGER + 2 }],
    'max_tokens',
  ],
  [
    'seed: any safe integer',
    [{ seed: 0 }, { seed: Number.MIN_SAFE_INTEGER }, { seed: Number.MAX_SAFE_INTEGER }],
    [{ seed: 0.5 }, { seed: Number.MAX_SAFE_INTEGER + 2 }, { seed: Number.MIN_SAFE_INTEGER - 2 }],
    'seed',
  ],
  [
    'stop: at most 4, none empty',
    [{ stop: [] }, { stop: ['a', 'b', 'c', 'd'] }],
    [{ stop: ['a', 'b', 'c', 'd', 'e'] }, { stop: ['a', ''] }],
    'stop',
  ],
  [
    'logit_bias -100..100',
    [{ logit_bias: { '50256': -100, '198': 100 } }, { logit_bias: {} }],
    [{ logit_bias: { '50256': -100.5 } }, { logit_bias: { '198': 100.01 } }],
    'logit_bias',
  ],
];

describe.each(boundaries)('%s', (_name, accepted, refused, param) => {
  it.each(accepted.map((overrides) => [JSON.stringify(overrides), overrides] as const))(
    'accepts %s',
    (_label, overrides) => {
      expect(check(overrides)).toBeUndefined();
    },
  );

  it.each(refused.map((overrides) => [JSON.stringify(overrides), overrides] as const))(
    'refuses %s',
    (_label, overrides) => {
      expect(check(overrides)?.param).toBe(param);
    },
  );
});

describe('ranges: the messages', () => {
  it('states the range and the value given', () => {
    expect(check({ temperature: 2.5 })).toEqual({
      param: 'temperature',
      problem: 'must be between 0 and 2 (got 2.5).',
    });
    expect(check({ n: 0 })).toEqual({ param: 'n', problem: 'must be between 1 and 128 (got 0).' });
  });

  it('says "whole number" for a fraction where an integer is wanted', () => {
    expect(check({ logprobs: 2.5 })).toEqual({
      param: 'logprobs',
      problem: 'must be a whole number (got 2.5).',
    });
  });

  it('refuses NaN and infinities, which JSON cannot carry but a caller could pass', () => {
    expect(check({ temperature: Number.NaN })?.param).toBe('temperature');
    expect(check({ top_p: Number.POSITIVE_INFINITY })?.param).toBe('top_p');
    expect(check({ presence_penalty: Number.NEGATIVE_INFINITY })?.param).toBe('presence_penalty');
    expect(check({ n: Number.POSITIVE_INFINITY })?.param).toBe('n');
    expect(check({ logit_bias: { '1': Number.NaN } })?.param).toBe('logit_bias');
  });
});

describe('model', () => {
  it.each([[''], ['   '], ['\t\n']])('refuses the blank name %j', (model) => {
    expect(check({ model })).toEqual({ param: 'model', problem: 'must name a model.' });
  });

  it('refuses a model that is not a string', () => {
    expect(checkUntyped({ model: 42 })?.param).toBe('model');
    expect(checkUntyped({ model: undefined })?.param).toBe('model');
  });

  it('is checked first: a bad model is reported before anything else', () => {
    expect(check({ model: '', temperature: 9, prompt: [] })?.param).toBe('model');
  });
});

describe('prompt', () => {
  it.each([
    ['a string', 'hello'],
    ['an empty string', ''],
    ['strings', ['a', 'b']],
    ['one empty string in a list', ['']],
    ['token ids', [0, 1212, 318]],
    ['token batches', [[1, 2], [3]]],
  ])('accepts %s', (_name, prompt) => {
    expect(check({ prompt: prompt as WireCompletionRequest['prompt'] })).toBeUndefined();
  });

  it.each([
    ['an empty list', [], 'must not be an empty list.'],
    [
      'a negative token id',
      [1, -5],
      'must hold only strings, only token ids (whole numbers ≥ 0) or only token batches.',
    ],
    [
      'a fractional token id',
      [1.5],
      'must hold only strings, only token ids (whole numbers ≥ 0) or only token batches.',
    ],
    [
      'strings mixed with tokens',
      ['a', 1],
      'must hold only strings, only token ids (whole numbers ≥ 0) or only token batches.',
    ],
    ['an empty token batch', [[1, 2], []], 'token batch 1 must not be empty.'],
    ['a negative id in a batch', [[1], [2, -1]], 'token batch 1 must hold token ids (whole numbers ≥ 0).'],
    ['strings in a batch', [['a']], 'token batch 0 must hold token ids (whole numbers ≥ 0).'],
  ])('refuses %s', (_name, prompt, problem) => {
    expect(checkUntyped({ prompt })).toEqual({ param: 'prompt', problem });
  });

  it('refuses a prompt that is neither a string nor a list', () => {
    expect(checkUntyped({ prompt: 42 })).toEqual({
      param: 'prompt',
      problem: 'must be a string, strings, tokens or token batches.',
    });
    expect(checkUntyped({ prompt: { text: 'a' } })?.param).toBe('prompt');
  });
});

describe('logit_bias', () => {
  const entries = (count: number) =>
    Object.fromEntries(Array.from({ length: count }, (_, i) => [String(i), 1]));

  it(`accepts ${limits.maxLogitBiasEntries} entries and refuses one more`, () => {
    expect(check({ logit_bias: entries(limits.maxLogitBiasEntries) })).toBeUndefined();
    expect(check({ logit_bias: entries(limits.maxLogitBiasEntries + 1) })).toEqual({
      param: 'logit_bias',
      problem: `must have at most ${limits.maxLogitBiasEntries} entries (got ${limits.maxLogitBiasEntries + 1}).`,
    });
  });

  it.each([['-1'], ['abc'], ['1.5'], ['']])('refuses the key %j, which is no token id', (token) => {
    expect(check({ logit_bias: { [token]: 1 } })).toEqual({
      param: 'logit_bias',
      problem: `keys must be token ids (got "${token}").`,
    });
  });

  it('names the token whose value is out of range', () => {
    expect(check({ logit_bias: { '7': 1, '50256': 101 } })).toEqual({
      param: 'logit_bias',
      problem: 'values must be between -100 and 100 (token 50256 has 101).',
    });
  });
});

describe('cross-field rules', () => {
  it('best_of must be at least n, n defaulting to 1', () => {
    expect(check({ n: 3, best_of: 3 })).toBeUndefined();
    expect(check({ n: 3, best_of: 2 })).toEqual({
      param: 'best_of',
      problem: 'must be at least n (3); got 2.',
    });
    expect(check({ best_of: 1 })).toBeUndefined();
  });

  it('max_tokens 0 only with echo', () => {
    expect(check({ max_tokens: 0, echo: true })).toBeUndefined();
    expect(check({ max_tokens: 0 })).toEqual({
      param: 'max_tokens',
      problem: 'may be 0 only with echo (nothing would be generated or returned).',
    });
    expect(check({ max_tokens: 0, echo: false })?.param).toBe('max_tokens');
  });

  it('stream_options only on a streamed completion', () => {
    expect(check({ stream: true, stream_options: { include_usage: true } })).toBeUndefined();
    expect(check({ stream_options: { include_usage: true } })).toEqual({
      param: 'stream_options',
      problem: 'is only allowed on a streamed completion.',
    });
    expect(check({ stream: false, stream_options: {} })?.param).toBe('stream_options');
  });

  it('best_of must be 1 on a streamed completion', () => {
    expect(check({ stream: true, best_of: 1 })).toBeUndefined();
    expect(check({ stream: true, best_of: 2 })).toEqual({
      param: 'best_of',
      problem: 'must be 1 on a streamed completion: best_of results cannot be streamed.',
    });
    expect(check({ stream: false, best_of: 2 })).toBeUndefined();
  });
});

describe('order', () => {
  it('reports one violation, the prompt before the numbers', () => {
    expect(check({ prompt: [], temperature: 9 })?.param).toBe('prompt');
    expect(check({ temperature: 9, n: 0 })?.param).toBe('temperature');
  });
});

describe('assertValidRequest', () => {
  it('returns quietly for a valid request', () => {
    expect(() => assertValidRequest(base)).not.toThrow();
  });

  it('throws InvalidRequestError carrying the violation', () => {
    let thrown: unknown;
    try {
      assertValidRequest({ ...base, top_p: 2 });
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(InvalidRequestError);
    const error = thrown as InvalidRequestError;
    expect(error.violation).toEqual({ param: 'top_p', problem: 'must be between 0 and 1 (got 2).' });
    expect(error.message).toBe('top_p must be between 0 and 1 (got 2).');
    expect(error.name).toBe('InvalidRequestError');
  });
});
