import { beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';
import { toClientError } from '../../src/errors.js';
import type { LocalProvider } from '../../src/local/provider.js';
import { normalizeRequest } from '../../src/local/request.js';
import { mapError } from '../../src/rest/error-envelope.js';
import { UpstreamRequestError } from '../../src/upstream/errors.js';
import type { WireCompletionRequest } from '../../src/upstream/wire.js';
import { localProvider } from './shared-provider.js';

// Every text gpt-tokenizer is given, whoever calls it: the old engine and the new one alike.
const tokenized = vi.hoisted(() => ({ lengths: [] as number[] }));
vi.mock('gpt-tokenizer/encoding/cl100k_base', async (importOriginal) => {
  const actual = await importOriginal<typeof import('gpt-tokenizer/encoding/cl100k_base')>();
  return {
    ...actual,
    encode: (text: string, options?: Parameters<typeof actual.encode>[1]) => {
      tokenized.lengths.push(text.length);
      return actual.encode(text, options);
    },
  };
});

let provider: LocalProvider;
beforeAll(async () => {
  provider = await localProvider();
});
beforeEach(() => {
  tokenized.lengths.length = 0;
});

async function refusal(req: Omit<WireCompletionRequest, 'model'>): Promise<UpstreamRequestError> {
  const err = await provider.complete({ model: provider.modelId, ...req }).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(UpstreamRequestError);
  return err as UpstreamRequestError;
}

const noYield = { due: () => false, yieldNow: async () => {} };

describe('local engine: choices per request', () => {
  it.each<[string, Omit<WireCompletionRequest, 'model'>, string]>([
    ['2 prompts × n 100', { prompt: ['The whale', 'Ahab'], n: 100, max_tokens: 1 }, 'n'],
    ['3 prompts × best_of 50', { prompt: ['a', 'b', 'c'], n: 2, best_of: 50, max_tokens: 1 }, 'best_of'],
    [
      '200 prompts',
      { prompt: Array.from({ length: 200 }, (_, i) => `prompt ${i}`), max_tokens: 1 },
      'prompt',
    ],
    ['3 token prompts × n 50', { prompt: [[1], [2], [3]], n: 50, max_tokens: 1 }, 'n'],
  ])('refuses %s (over 128) before tokenizing anything', async (_, req, param) => {
    const err = await refusal(req);
    expect(err).toMatchObject({ status: 400, param });
    expect(err.message).toMatch(/at most 128 per request/);
    expect(tokenized.lengths).toEqual([]);
    // What the clients see: BAD_USER_INPUT with the parameter on GraphQL, a 400 on REST.
    expect(toClientError(err)?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', param });
    expect(mapError(err)).toMatchObject({ status: 400, body: { error: { param } } });
  });

  it('refuses one choice over the cap, streamed too, and serves exactly the cap', async () => {
    const stream = provider.stream({ model: provider.modelId, prompt: ['a', 'b'], n: 65, stream: true });
    const err = await (async () => {
      for await (const _ of stream) void _;
    })().catch((e: unknown) => e);
    expect(err).toMatchObject({ param: 'n' });
    const { response } = await provider.complete({
      model: provider.modelId,
      prompt: ['The whale', 'Ahab'],
      n: 64,
      max_tokens: 1,
      seed: 1,
    });
    expect(response.choices).toHaveLength(128);
  });

  it('takes the cap from its options (LOCAL_MAX_CHOICES)', async () => {
    const options = { maxChoices: 4, pacer: noYield };
    const req = { model: provider.modelId, prompt: ['x', 'y'], max_tokens: 1 };
    await expect(normalizeRequest({ ...req, n: 3 }, provider.modelId, false, options)).rejects.toMatchObject({
      param: 'n',
    });
    await expect(normalizeRequest({ ...req, n: 2 }, provider.modelId, false, options)).resolves.toMatchObject(
      {
        n: 2,
      },
    );
  });

  it('reads LOCAL_MAX_CHOICES: 128 by default, a whole number from 1', () => {
    expect(loadConfig({}).localMaxChoices).toBe(128);
    expect(loadConfig({ LOCAL_MAX_CHOICES: '16' }).localMaxChoices).toBe(16);
    expect(() => loadConfig({ LOCAL_MAX_CHOICES: '0' })).toThrow(ConfigError);
    expect(() => loadConfig({ LOCAL_MAX_CHOICES: '2.5' })).toThrow(ConfigError);
  });
});

describe('local engine: prompt size', () => {
  const megabyte = (unit: string) => unit.repeat(Math.ceil(2 ** 20 / Buffer.byteLength(unit)));

  it.each([
    ['1 MB of punctuated CJK', megabyte('我们的文化历史悠久，中国人民勤劳勇敢。')],
    ['1 MB of English', megabyte('Call me Ishmael. Some years ago, never mind how long precisely. ')],
  ])('refuses %s as too long without tokenizing it', async (_, prompt) => {
    const slices: number[] = [];
    const err = await normalizeRequest({ model: provider.modelId, prompt }, provider.modelId, false, {
      maxChoices: 128,
      pacer: noYield,
      onTokenizerSlice: (units) => slices.push(units),
    }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toMatchObject({ param: 'max_tokens', upstreamCode: 'context_length_exceeded' });
    expect((err as Error).message).toBe(
      "This model's maximum context length is 2048 tokens, however you requested more than 2064 tokens " +
        '(more than 2048 in your prompt; 16 for the completion). Please reduce your prompt; or completion length.',
    );
    expect(tokenized.lengths).toEqual([]);
    expect(slices).toEqual([]);
  });

  it('tokenizes a prompt over the window only up to the window', async () => {
    // 170 KB of short words: not refused by its length alone, so pieces are tokenized until 2048.
    const prompt = 'and the whale '.repeat(12_000);
    const err = await refusal({ prompt });
    expect(err.message).toMatch(/more than 2048 in your prompt/);
    const scanned = tokenized.lengths.reduce((a, b) => a + b, 0);
    expect(scanned).toBeLessThan(2049 * 8);
  });
});
