import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sseClient, wsClient } from '../helpers/clients.js';
import { completionStream, createCompletion } from '../helpers/operations.js';
import { startTestApp, type TestApp } from '../helpers/test-app.js';
import { localProvider } from '../local/shared-provider.js';

/** The embedded engine behind the real GraphQL API: the same path as the HTTP upstream, mutation and streams. */

let app: TestApp;
const model = 'local-ngram-moby-dick';

beforeAll(async () => {
  app = await startTestApp({ provider: await localProvider() });
});

afterAll(async () => {
  await app.close();
});

describe('local engine through GraphQL', () => {
  it('createCompletion honours maxTokens, n, stop, seed and logprobs', async () => {
    const input = {
      model,
      prompt: { texts: ['Call me Ishmael.', 'The whale'] },
      maxTokens: 12,
      n: 2,
      seed: 7,
      logprobs: 3,
      stop: ['\n'],
    };
    const first = await app.post(createCompletion, { input });
    const second = await app.post(createCompletion, { input });
    expect(first.json.errors).toBeUndefined();
    const choices = first.json.data.createCompletion.choices;
    expect(choices.map((c: { index: number }) => c.index)).toEqual([0, 1, 2, 3]);
    for (const choice of choices) {
      expect(choice.text).not.toContain('\n');
      expect(choice.logprobs.tokens.length).toBeLessThanOrEqual(12);
      expect(choice.logprobs.tokens.join('')).toBe(choice.text);
      for (const top of choice.logprobs.topLogprobs) expect(top.length).toBeLessThanOrEqual(4);
    }
    // Same seed and parameters: the same text.
    expect(second.json.data.createCompletion.choices.map((c: { text: string }) => c.text)).toEqual(
      choices.map((c: { text: string }) => c.text),
    );
    expect(first.json.data.createCompletion.usage.completionTokens).toBeGreaterThan(0);
  });

  it.each([
    ['SSE', () => sseClient(app.graphqlUrl)],
    ['WebSocket', () => wsClient(app.graphqlUrl)],
  ])(
    'completionStream over %s yields token events, a finish reason and the usage event',
    async (_name, makeClient) => {
      const client = makeClient();
      const { events, error } = await client.run(completionStream, {
        input: {
          model,
          prompt: { text: 'The whale' },
          maxTokens: 10,
          seed: 3,
          streamOptions: { includeUsage: true },
        },
      });
      await client.dispose();
      expect(error).toBeUndefined();
      const chunks = events.map((e) => e.data.completionStream);
      const usage = chunks.at(-1);
      expect(usage.choices).toEqual([]);
      expect(usage.usage.completionTokens).toBe(10);
      const pieces = chunks.slice(0, -1).flatMap((c) => c.choices);
      expect(pieces.at(-1).finishReason).toBe('LENGTH');
      expect(pieces.filter((p) => p.finishReason !== null)).toHaveLength(1);
      const streamed = pieces.map((p) => p.text).join('');
      const whole = await app.post(createCompletion, {
        input: { model, prompt: { text: 'The whale' }, maxTokens: 10, seed: 3 },
      });
      expect(streamed).toBe(whole.json.data.createCompletion.choices[0].text);
    },
  );
});
