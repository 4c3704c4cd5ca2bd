import { randomUUID } from 'node:crypto';
import type { Completion, CompletionRequestInput } from '../../src/completions/model.js';
import type { StoredCompletion } from '../../src/storage/index.js';

/** A unique prefix per run, so suites sharing one PostgreSQL database never see each other's rows. */
export function runId(): string {
  return randomUUID().slice(0, 8);
}

/** A completion with everything awkward a round trip could lose: unicode, nulls inside arrays, nesting. */
export function richCompletion(id: string): Completion {
  return {
    id,
    object: 'text_completion',
    created: 1_767_225_600,
    model: 'gpt-3.5-turbo-instruct',
    systemFingerprint: null,
    choices: [
      {
        text: 'Call me Ishmael 🐋 — «naïve» 日本語 \u0000 nul, "quotes" \\ backslash\nnew line',
        index: 0,
        logprobs: {
          tokens: ['Call', ' me', ' 🐋'],
          tokenLogprobs: [null, -0.25, -1.5e-7],
          textOffset: [0, 4, 7],
          topLogprobs: [null, [{ token: ' me', logprob: -0.25 }], [{ token: ' 🐋', logprob: -3 }]],
        },
        finishReason: 'LENGTH',
        finishReasonRaw: 'length',
      },
      { text: '', index: 1, logprobs: null, finishReason: null, finishReasonRaw: 'abort' },
    ],
    usage: {
      promptTokens: 5,
      completionTokens: 7,
      totalTokens: 12,
      promptTokensDetails: null,
      completionTokensDetails: {
        acceptedPredictionTokens: null,
        audioTokens: 0,
        reasoningTokens: null,
        rejectedPredictionTokens: null,
        textTokens: 7,
      },
    },
  };
}

export function richRequest(): CompletionRequestInput {
  return {
    model: 'gpt-3.5-turbo-instruct',
    prompt: { texts: ['Call me', 'ünïcödé ✓'] },
    maxTokens: 16,
    temperature: 0.7,
    logprobs: 2,
    stop: ['\n\n'],
    logitBias: [{ token: 50256, bias: -100 }],
    seed: null,
    streamOptions: { includeUsage: true },
  };
}

export function stored(id: string, overrides: Partial<StoredCompletion> = {}): StoredCompletion {
  return {
    completion: { ...richCompletion(id), usage: null },
    request: { model: 'm', prompt: { text: 'hi' } },
    clientName: 'client-a',
    storedAt: new Date('2026-01-02T03:04:05.678Z'),
    ...overrides,
  };
}
