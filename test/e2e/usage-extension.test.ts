import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { recordedJson } from '../helpers/recorded.js';
import { reply } from '../helpers/stub-upstream.js';
import { type StubbedApp, startStubbedApp, stopStubbedApp } from '../helpers/test-app.js';

/** What an operation's paid calls used and cost, in `extensions.usage`. */

let stubbed: StubbedApp;
beforeAll(async () => {
  stubbed = await startStubbedApp({ app: { prices: new Map([['llama-3', { input: 1, output: 3 }]]) } });
});
afterAll(() => stopStubbedApp(stubbed));

const input = { model: 'gpt-3.5-turbo-instruct', prompt: { text: 'Who won?' }, maxTokens: 20 };
const aliased = `mutation ($input: CreateCompletionInput!) { answer: createCompletion(input: $input) { id } }`;

describe('extensions.usage', () => {
  it('gives each paid field its tokens, upstream request id and cost from the price table', async () => {
    stubbed.stub.on(
      'POST',
      '/completions',
      reply.recorded('openai-nonstream-basic.json', { 'x-request-id': 'req_u1' }),
    );
    const response = await stubbed.app.post(aliased, { input });
    // This app's table knows only llama-3: the instruct model has no price here, so null, not 0.
    expect(response.json.extensions.usage).toEqual({
      calls: [
        {
          field: 'answer',
          model: 'gpt-3.5-turbo-instruct:20230824-v2',
          promptTokens: 10,
          completionTokens: 12,
          costUsd: null,
          upstreamRequestId: 'req_u1',
        },
      ],
      costUsd: null,
    });
  });

  it('prices a model the table knows, and says null (not 0) for one it does not', async () => {
    const body = { ...(recordedJson('openai-nonstream-basic.json') as object), model: 'llama-3' };
    stubbed.stub.on('POST', '/completions', reply.json(200, body));
    const response = await stubbed.app.post(aliased, { input: { ...input, model: 'llama-3' } });
    expect(response.json.extensions.usage.calls[0]).toMatchObject({ model: 'llama-3', costUsd: 0.000046 });
    expect(response.json.extensions.usage.costUsd).toBe(0.000046);
  });

  it('reads PRICES_FILE, refusing a price that is not a number', () => {
    const dir = mkdtempSync(join(tmpdir(), 'prices-'));
    const good = join(dir, 'good.json');
    writeFileSync(good, JSON.stringify({ 'gpt-3.5-turbo-instruct': { input: 1.5, output: 2 } }));
    expect(loadConfig({ PRICES_FILE: good }).prices?.get('gpt-3.5-turbo-instruct')).toEqual({
      input: 1.5,
      output: 2,
    });
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, JSON.stringify({ m: { input: 'cheap', output: 1 } }));
    expect(() => loadConfig({ PRICES_FILE: bad })).toThrow(/m.input must be a number/);
    // Finite, but its costs overflow to Infinity: a priced model would look unpriced.
    const huge = join(dir, 'huge.json');
    writeFileSync(huge, JSON.stringify({ m: { input: 1e308, output: 1 } }));
    expect(() => loadConfig({ PRICES_FILE: huge })).toThrow(/m.input must be a number from 0 to 1000000/);
    // Not a regular file: reading it would never end.
    expect(() => loadConfig({ PRICES_FILE: '/dev/zero' })).toThrow(/PRICES_FILE is not a regular file/);
    expect(() => loadConfig({ PRICES_FILE: dir })).toThrow(/PRICES_FILE is not a regular file/);
  });
});
