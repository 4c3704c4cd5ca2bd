/**
 * What a call cost in USD, from a price table per model (USD per million input and output tokens).
 * The default table holds OpenAI's current text-completion models; `PRICES_FILE` replaces it. A
 * model the table does not know costs null, never 0: an unknown price is not a free call.
 */

export interface ModelPrice {
  /** USD per million prompt tokens. */
  input: number;
  /** USD per million completion tokens. */
  output: number;
}

export type PriceTable = ReadonlyMap<string, ModelPrice>;

export const defaultPrices: PriceTable = new Map([
  ['gpt-3.5-turbo-instruct', { input: 1.5, output: 2 }],
  ['davinci-002', { input: 2, output: 2 }],
  ['babbage-002', { input: 0.4, output: 0.4 }],
]);

export class PriceTableError extends Error {}

/** `{ "<model>": { "input": <USD per 1M>, "output": <USD per 1M> } }`, every price a finite number ≥ 0. */
/**
 * Far above any model's price: a larger one makes costs overflow to Infinity (a priced model would
 * look unpriced, and the ledger refuses the row), so it is a typo, refused at start.
 */
const MAX_PRICE = 1_000_000;

export function parsePriceTable(text: string): PriceTable {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new PriceTableError('is not JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new PriceTableError('must be an object of model → { input, output }');
  }
  const table = new Map<string, ModelPrice>();
  for (const [model, price] of Object.entries(value)) {
    const { input, output } = (price ?? {}) as Record<string, unknown>;
    for (const [name, amount] of [
      ['input', input],
      ['output', output],
    ] as const) {
      if (typeof amount !== 'number' || !Number.isFinite(amount) || amount < 0 || amount > MAX_PRICE) {
        throw new PriceTableError(
          `${model}.${name} must be a number from 0 to ${MAX_PRICE} (USD per million tokens)`,
        );
      }
    }
    table.set(model, { input: input as number, output: output as number });
  }
  return table;
}

/**
 * USD rounded to a millionth of a cent, as every cost here is: sums of such amounts carry float noise
 * (0.0017580000000000002) that a client should not have to round away.
 */
export function roundUsd(usd: number): number {
  return Math.round(usd * 1e8) / 1e8;
}

/**
 * The cost of a call on exactly this model name, or null for one without a price. No prefix rule:
 * on Ollama or vLLM `name:tag` is another model, and a caller could pick an unpriced variant at a
 * priced base's price. The client budget prices an upstream's dated snapshot of the model asked
 * for (`gpt-3.5-turbo-instruct:20230824-v2`) as that model.
 */
export function costUsd(
  prices: PriceTable,
  model: string,
  usage: { promptTokens: number; completionTokens: number },
): number | null {
  const price = prices.get(model);
  if (price === undefined) return null;
  return roundUsd((usage.promptTokens * price.input + usage.completionTokens * price.output) / 1_000_000);
}
