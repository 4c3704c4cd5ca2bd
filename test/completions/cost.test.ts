import fc from 'fast-check';
import { countTokens } from 'gpt-tokenizer/encoding/cl100k_base';
import { describe, expect, it } from 'vitest';
import { estimateCompletionCost, PromptCounter, RecentTokenCounts } from '../../src/completions/cost.js';
import type { WireCompletionRequest } from '../../src/upstream/wire.js';

const request = (over: Partial<WireCompletionRequest>): WireCompletionRequest => ({
  model: 'm',
  prompt: 'Hello world',
  max_tokens: 10,
  ...over,
});

describe('PromptCounter', () => {
  it('counts ordinary text exactly', () => {
    expect(new PromptCounter().count('Hello world')).toBe(countTokens('Hello world'));
  });

  it('never counts fewer tokens than the tokenizer, exact or by bytes', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 300 }), (text) => {
        const exact = countTokens(text);
        expect(new PromptCounter().count(text)).toBeGreaterThanOrEqual(exact);
        // With its budget spent, the counter falls back to the byte bound: still an upper bound.
        expect(new PromptCounter(0).count(text)).toBeGreaterThanOrEqual(exact);
      }),
      { numRuns: 300, seed: 7 },
    );
  });

  it('prices special-token text as text instead of throwing', () => {
    const text = 'a <|endoftext|> b <|im_start|>';
    expect(new PromptCounter().count(text)).toBeGreaterThanOrEqual(
      countTokens(text, { allowedSpecial: new Set(), disallowedSpecial: new Set() }),
    );
  });

  it('prices a text with a long run (expensive to tokenize) by its bytes', () => {
    const cjk = '漢字仮名交じり文'.repeat(100);
    expect(new PromptCounter().count(cjk)).toBe(Buffer.byteLength(cjk));
    const spaces = `a${' '.repeat(1_000)}b`;
    expect(new PromptCounter().count(spaces)).toBe(Buffer.byteLength(spaces));
    // One token per byte exists: the bound is tight for such text, never below it.
    const bytes = 'ÿ'.repeat(40);
    expect(countTokens(bytes)).toBeLessThanOrEqual(new PromptCounter(0).count(bytes));
  });

  it('counts exactly only while its per-operation budget of characters lasts', () => {
    const counter = new PromptCounter(20);
    const text = 'The quick brown fox.';
    expect(counter.count(text)).toBe(countTokens(text));
    expect(counter.count(text)).toBe(Buffer.byteLength(text));
  });
});

describe('RecentTokenCounts', () => {
  it('answers a text asked again as the tokenizer does, and keeps at most its entries', () => {
    const recent = new RecentTokenCounts(8, 64);
    fc.assert(
      fc.property(
        fc.array(fc.string({ maxLength: 80, unit: 'grapheme' }), { minLength: 1, maxLength: 30 }),
        (texts) => {
          for (const text of [...texts, ...texts])
            expect(recent.count('client', text)).toBe(countTokens(text, { disallowedSpecial: new Set() }));
          expect(recent.size).toBeLessThanOrEqual(8);
        },
      ),
    );
  });

  it('does not keep long texts', () => {
    const recent = new RecentTokenCounts(8, 64);
    recent.count('a', 'x'.repeat(65));
    expect(recent.size).toBe(0);
    recent.count('a', 'x'.repeat(64));
    expect(recent.size).toBe(1);
  });

  it('keeps each client’s counts apart: another client’s prompt is counted anew', () => {
    const recent = new RecentTokenCounts(8, 64);
    recent.count('a', 'the secret launch date is friday');
    recent.count('b', 'the secret launch date is friday');
    expect(recent.size).toBe(2);
  });
});

describe('estimateCompletionCost', () => {
  it('adds the most that may be generated: max_tokens for each of max(n, best_of) choices per prompt', () => {
    const estimate = estimateCompletionCost(
      request({ prompt: ['a', 'b'], n: 2, best_of: 3, max_tokens: 10 }),
    );
    expect(estimate).toMatchObject({ promptCount: 2, maxCompletionTokens: 2 * 3 * 10 });
    expect(estimate.totalTokens).toBe(estimate.promptTokens + 60);
  });

  it('charges every choice at least one token, even with max_tokens 0 and echo', () => {
    const estimate = estimateCompletionCost(
      request({ prompt: [[1, 2], [3]], n: 4, max_tokens: 0, echo: true }),
    );
    expect(estimate).toEqual({ promptCount: 2, promptTokens: 3, maxCompletionTokens: 8, totalTokens: 11 });
  });

  it('counts the suffix once per prompt', () => {
    const without = estimateCompletionCost(request({ prompt: ['x', 'y', 'z'] }));
    const withSuffix = estimateCompletionCost(request({ prompt: ['x', 'y', 'z'], suffix: 'Hello world' }));
    expect(withSuffix.promptTokens - without.promptTokens).toBe(3 * countTokens('Hello world'));
  });

  it('counts token prompts by their length', () => {
    expect(estimateCompletionCost(request({ prompt: [5, 6, 7] })).promptTokens).toBe(3);
  });

  it('prices a request without max_tokens as unbounded (the service always sends one)', () => {
    const { max_tokens: _omitted, ...unbounded } = request({});
    expect(estimateCompletionCost(unbounded).totalTokens).toBe(Number.POSITIVE_INFINITY);
  });

  it('shares one budget of exact counting across the fields of an operation', () => {
    const counter = new PromptCounter(15);
    const text = 'The quick brown';
    expect(estimateCompletionCost(request({ prompt: text }), counter).promptTokens).toBe(countTokens(text));
    expect(estimateCompletionCost(request({ prompt: text }), counter).promptTokens).toBe(text.length);
  });
});
