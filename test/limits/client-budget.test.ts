import { describe, expect, it } from 'vitest';
import { ClientAuthenticator, hashToken, parseClientKeys } from '../../src/auth/client-keys.js';
import type { CostEstimate } from '../../src/completions/cost.js';
import { createClientBudget } from '../../src/limits/client-budget.js';
import { createMemoryRateLimiter, createMemorySpendStore, type RateLimiter } from '../../src/limits/index.js';
import { createSpendBudgets } from '../../src/limits/spend-budget.js';
import type { UsageLedger, UsageRecord } from '../../src/storage/index.js';
import { UpstreamRequestError, UpstreamTimeoutError } from '../../src/upstream/errors.js';

const estimate: CostEstimate = {
  promptCount: 1,
  promptTokens: 10,
  maxCompletionTokens: 90,
  totalTokens: 100,
};
const policy = { requestsPerMinute: 100, tokensPerMinute: 1_000 };

function ledger() {
  const records: UsageRecord[] = [];
  const usage: UsageLedger = {
    async record(entry) {
      records.push(entry);
    },
    async forClient() {
      return [];
    },
  };
  return { records, usage };
}

/** A limiter whose settlements fail the first `failures` times, as Redis going away after the call. */
function flakySettlements(failures: number) {
  const inner = createMemoryRateLimiter();
  const state = { attempts: 0 };
  const limiter: RateLimiter = {
    async reserve(client, tokens, p) {
      const result = await inner.reserve(client, tokens, p);
      if (!result.ok) return result;
      return {
        ok: true,
        reservation: {
          settle: async (actual) => {
            state.attempts++;
            if (state.attempts <= failures) throw new Error('connection lost');
            await result.reservation.settle(actual);
          },
          release: () => result.reservation.release(),
        },
      };
    },
    close: () => inner.close(),
  };
  return { limiter, state };
}

describe('client budget', () => {
  it('settles real usage and records it', async () => {
    const { records, usage } = ledger();
    const budget = createClientBudget({ limiter: createMemoryRateLimiter(), policy, ledger: usage });
    const charge = await budget.reserve('a', estimate);
    expect(await charge.settle('m', { prompt_tokens: 10, completion_tokens: 5, total_tokens: 15 })).toEqual({
      problems: [],
      promptTokens: 10,
      completionTokens: 5,
      costUsd: null,
    });
    await budget.pending.drain();
    expect(records).toMatchObject([{ clientName: 'a', model: 'm', promptTokens: 10, completionTokens: 5 }]);
  });

  it('prices a settled call once: the same figure for the ledger, the USD budget and the report', async () => {
    const { records, usage } = ledger();
    const priced: string[] = [];
    const price = (model: string, tokens: { promptTokens: number; completionTokens: number }) => {
      priced.push(model);
      return (tokens.promptTokens + tokens.completionTokens) / 1_000;
    };
    const authenticator = new ClientAuthenticator(
      parseClientKeys(`a:${hashToken('ck-a-price-once')} budget=5usd/day`),
    );
    const spend = createSpendBudgets({
      store: createMemorySpendStore(),
      policyOf: (client) => authenticator.policyOf(client),
      price,
    });
    const budget = createClientBudget({
      limiter: createMemoryRateLimiter(),
      policy,
      ledger: usage,
      price,
      spend,
    });
    const charge = await budget.reserve('a', estimate, 'm');
    priced.length = 0;
    const settled = await charge.settle('m', { prompt_tokens: 10, completion_tokens: 5, total_tokens: 15 });
    expect(settled.costUsd).toBe(0.015);
    expect(priced).toEqual(['m']);
    await budget.pending.drain();
    expect(records).toMatchObject([{ costUsd: 0.015 }]);
  });

  it('never fails the paid call when the settlement fails: says so, retries, and reports when it gives up', async () => {
    const errors: string[] = [];
    const { limiter, state } = flakySettlements(2);
    const budget = createClientBudget({
      limiter,
      policy,
      onError: (message) => errors.push(message),
      settleRetries: { attempts: 3, delayMs: 60_000 },
    });
    const charge = await budget.reserve('a', estimate);
    expect(
      (await charge.settle('m', { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 })).problems,
    ).toEqual(['settlement-failed']);
    // Draining (shutdown) retries at once instead of waiting out the pause.
    await budget.pending.drain();
    expect(state.attempts).toBe(3);
    expect(errors).toEqual([]);

    const hopeless = flakySettlements(100);
    const giveUp = createClientBudget({
      limiter: hopeless.limiter,
      policy,
      onError: (message) => errors.push(message),
      settleRetries: { attempts: 2, delayMs: 60_000 },
    });
    await (await giveUp.reserve('a', estimate)).settle('m', undefined);
    await giveUp.pending.drain();
    expect(hopeless.state.attempts).toBe(3);
    expect(errors).toEqual(['rate-limit settlement failed; reconcile from this line']);
  });

  it.each([
    ['negative', { prompt_tokens: -5, completion_tokens: 1, total_tokens: -4 }],
    ['fractional', { prompt_tokens: 1.5, completion_tokens: 1, total_tokens: 2.5 }],
    ['absurd', { prompt_tokens: 1, completion_tokens: 1e12, total_tokens: 1e12 }],
  ])('does not believe %s usage: the estimate is charged and recorded', async (_name, reported) => {
    const { records, usage } = ledger();
    const budget = createClientBudget({ limiter: createMemoryRateLimiter(), policy, ledger: usage });
    const charge = await budget.reserve('a', estimate);
    expect(await charge.settle('m', reported)).toMatchObject({
      problems: ['usage-implausible'],
      promptTokens: 10,
      completionTokens: 90,
    });
    await budget.pending.drain();
    expect(records).toMatchObject([{ promptTokens: 10, completionTokens: 90 }]);
  });

  it('records a billed failure in the ledger, and gives back what surely was not billed', async () => {
    const { records, usage } = ledger();
    const limiter = createMemoryRateLimiter();
    const budget = createClientBudget({
      limiter,
      policy: { requestsPerMinute: 2, tokensPerMinute: 0 },
      ledger: usage,
    });
    await (await budget.reserve('a', estimate)).fail(new UpstreamTimeoutError('late'), 'm');
    await (await budget.reserve('a', estimate)).fail(new UpstreamRequestError('bad', { status: 400 }), 'm');
    await budget.pending.drain();
    expect(records).toMatchObject([{ clientName: 'a', promptTokens: 10, completionTokens: 90 }]);
    // The 400 gave its request back: a third call still fits a budget of two.
    await expect(budget.reserve('a', estimate)).resolves.toBeDefined();
  });

  it('charges a cut stream what it streamed', async () => {
    const { records, usage } = ledger();
    const budget = createClientBudget({ limiter: createMemoryRateLimiter(), policy, ledger: usage });
    await (await budget.reserve('a', estimate)).fail(new UpstreamTimeoutError('idle'), 'm', 7);
    await budget.pending.drain();
    expect(records).toMatchObject([{ promptTokens: 10, completionTokens: 7 }]);
  });
});
