import { describe, expect, it } from 'vitest';
import { costUsd, defaultPrices, PriceTableError, parsePriceTable } from '../../src/completions/prices.js';

describe('prices', () => {
  it('prices OpenAI completion models by default, by their exact names', () => {
    const usage = { promptTokens: 10, completionTokens: 12 };
    // 10 × 1.5 + 12 × 2 USD per million tokens.
    expect(costUsd(defaultPrices, 'gpt-3.5-turbo-instruct', usage)).toBe(0.000039);
    // `name:tag` is another model on Ollama or vLLM: not the base's price (the client budget prices an
    // upstream's dated snapshot of the model asked for as that model).
    expect(costUsd(defaultPrices, 'davinci-002:ft-expensive', usage)).toBeNull();
    expect(costUsd(defaultPrices, 'babbage-002', { promptTokens: 1_000_000, completionTokens: 0 })).toBe(0.4);
    expect(costUsd(defaultPrices, 'local-ngram-moby-dick', usage)).toBeNull();
  });

  it('parses a table and refuses what is not one', () => {
    expect(parsePriceTable('{"m":{"input":0,"output":0.5}}').get('m')).toEqual({ input: 0, output: 0.5 });
    for (const text of ['[', '[]', '{"m":{"input":-1,"output":1}}', '{"m":{"input":1}}', '{"m":null}']) {
      expect(() => parsePriceTable(text)).toThrow(PriceTableError);
    }
  });
});
