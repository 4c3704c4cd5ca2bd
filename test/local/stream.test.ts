import { beforeAll, describe, expect, it } from 'vitest';
import type { LocalProvider } from '../../src/local/provider.js';
import { encodeText } from '../../src/local/tokenizer.js';
import { UpstreamAbortedError } from '../../src/upstream/errors.js';
import type { WireCompletionRequest, WireCompletionResponse } from '../../src/upstream/wire.js';
import { localProvider } from './shared-provider.js';

let provider: LocalProvider;
beforeAll(async () => {
  provider = await localProvider();
});

async function collect(req: Omit<WireCompletionRequest, 'model'>, signal?: AbortSignal) {
  const chunks: WireCompletionResponse[] = [];
  for await (const chunk of provider.stream({ model: provider.modelId, ...req, stream: true }, { signal })) {
    chunks.push(chunk);
  }
  return chunks;
}

describe('local engine: streaming', () => {
  it('streams OpenAI-shaped chunks whose text adds up to the non-streamed completion', async () => {
    const req = { prompt: 'The whale', max_tokens: 12, seed: 8, stop: [' the'] };
    const chunks = await collect(req);
    const whole = (await provider.complete({ model: provider.modelId, ...req })).response;
    const id = chunks[0]?.id;
    for (const chunk of chunks) {
      expect(Object.keys(chunk)).toEqual(['id', 'object', 'created', 'choices', 'model']);
      expect(chunk).toMatchObject({ id, object: 'text_completion', model: provider.modelId });
      expect(chunk.choices).toHaveLength(1);
      expect(Object.keys(chunk.choices[0] ?? {})).toEqual(['text', 'index', 'logprobs', 'finish_reason']);
    }
    const reasons = chunks.map((c) => c.choices[0]?.finish_reason);
    expect(reasons.slice(0, -1).every((r) => r === null)).toBe(true);
    expect(reasons.at(-1)).toBe(whole.choices[0]?.finish_reason);
    expect(chunks.map((c) => c.choices[0]?.text).join('')).toBe(whole.choices[0]?.text);
  });

  it('ends with a usage chunk and usage: null on every other chunk with include_usage', async () => {
    const chunks = await collect({
      prompt: ['Ahab', 'The sea'],
      n: 2,
      max_tokens: 5,
      seed: 2,
      stream_options: { include_usage: true },
    });
    const last = chunks.at(-1);
    expect(last && Object.keys(last)).toEqual(['id', 'object', 'created', 'model', 'usage', 'choices']);
    expect(last?.choices).toEqual([]);
    const content = chunks.slice(0, -1);
    for (const chunk of content) expect(chunk.usage).toBeNull();
    const finals = content
      .filter((c) => c.choices[0]?.finish_reason !== null)
      .map((c) => c.choices[0]?.index);
    expect(finals.sort()).toEqual([0, 1, 2, 3]);
    // One chunk per generated token; an end-of-text finish adds an empty chunk of its own.
    const tokenChunks = content.filter((c) => c.choices[0]?.finish_reason !== 'stop');
    expect(last?.usage?.completion_tokens).toBe(tokenChunks.length);
    expect(last?.usage?.prompt_tokens).toBe(encodeText('Ahab').length + encodeText('The sea').length);
  });

  it('stops promptly with UpstreamAbortedError when the signal aborts', async () => {
    const controller = new AbortController();
    let received = 0;
    const run = (async () => {
      for await (const _ of provider.stream(
        { model: provider.modelId, prompt: 'The', max_tokens: 2000, n: 4, stream: true },
        { signal: controller.signal },
      )) {
        if (++received === 10) controller.abort();
      }
    })();
    await expect(run).rejects.toBeInstanceOf(UpstreamAbortedError);
    expect(received).toBeLessThan(20);

    // Aborted while it runs: 2,000 tokens × 16 choices are far from done when the timer fires, so
    // a resolved completion would mean the signal was ignored.
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 20);
    await expect(
      provider.complete(
        { model: provider.modelId, prompt: 'The', max_tokens: 2000, n: 16 },
        { signal: ac.signal },
      ),
    ).rejects.toBeInstanceOf(UpstreamAbortedError);
  });

  it('keeps the event loop responsive during a long completion', async () => {
    // A timer that can only run when the engine yields: an engine holding the loop for the whole
    // completion lets it run no more than once. The delay itself is measured in `npm run bench`.
    let ticks = 0;
    const probe = setInterval(() => {
      ticks++;
    }, 1);
    try {
      const res = await provider.complete({
        model: provider.modelId,
        prompt: 'The',
        max_tokens: 2000,
        n: 4,
        logprobs: 5,
        frequency_penalty: 0.5,
      });
      expect(res.response.usage?.completion_tokens).toBeGreaterThan(100);
    } finally {
      clearInterval(probe);
    }
    expect(ticks).toBeGreaterThan(3);
  });
});
