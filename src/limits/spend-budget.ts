import type { BudgetPeriod, KeyPolicy, SpendBudgetSpec } from '../auth/key-policy.js';
import type { CostEstimate } from '../completions/cost.js';
import type { SpendStore } from './index.js';

/**
 * A client key's spend budgets (USD and/or tokens per day, month or duration) and allowed models.
 * A call reserves its price in every budget before it goes out and settles with what it really
 * used after; a hard budget the price could pass refuses the call, a soft one passed adds a warning.
 * USD is counted in micro-dollars so Redis can add it exactly. A model without a price is refused
 * to a key with a hard USD budget (it could not be counted against it); a soft USD budget counts it
 * as 0 USD, and its tokens still count in token budgets.
 */

export class BudgetExceededError extends Error {
  constructor(
    readonly budget: SpendBudgetSpec,
    /** In the budget's unit (USD or tokens), before this call. */
    readonly spent: number,
    readonly resetAt: Date,
  ) {
    super(
      `Spend budget ${budget.label}: ${budget.unit === 'usd' ? `$${spent.toFixed(6)}` : `${spent} tokens`} spent of ${budget.unit === 'usd' ? `$${budget.amount}` : `${budget.amount} tokens`}, and this call's price could pass it; no call was made. It resets at ${resetAt.toISOString()}.`,
    );
    this.name = 'BudgetExceededError';
  }
}

export class ModelNotAllowedError extends Error {
  constructor(
    readonly model: string,
    /** The GraphQL argument that chose the model: `input.model` unless a template field's. */
    readonly argument = 'input.model',
    /** Why, when the key's list of models is not the reason: a USD budget and no price. */
    readonly reason?: 'unpriced',
  ) {
    super(
      reason === 'unpriced'
        ? `The model \`${model}\` has no price, and this client key's spend is capped in USD: its calls could not be counted against the cap.`
        : `This client key may not use the model \`${model}\`.`,
    );
    this.name = 'ModelNotAllowedError';
  }

  /** The same refusal, blamed on `argument` (a template's field, whose model is the operator's). */
  withArgument(argument: string): ModelNotAllowedError {
    return new ModelNotAllowedError(this.model, argument, this.reason);
  }
}

/** A soft budget this call took past its amount, for a warning and a log line. */
export interface SoftBudgetPassed {
  budget: SpendBudgetSpec;
  spent: number;
  resetAt: Date;
}

export interface SpendHold {
  /** The real figures: corrects every budget; answers the soft budgets now passed. */
  settle(
    model: string,
    tokens: { promptTokens: number; completionTokens: number },
    /** The price of `tokens` when the caller already worked it out (null: no price). */
    cost?: number | null,
  ): Promise<SoftBudgetPassed[]>;
  /** The call billed nothing: every reservation is given back. */
  release(): Promise<void>;
}

export interface SpendBudgetsDeps {
  store: SpendStore;
  policyOf: (client: string) => KeyPolicy | undefined;
  price: (model: string, tokens: { promptTokens: number; completionTokens: number }) => number | null;
  now?: () => number;
}

const microUsd = 1_000_000;

/** The window a period is in at `now` (UTC calendar days and months; durations from the epoch). */
export function budgetWindow(period: BudgetPeriod, now: number): { id: string; resetAt: number } {
  const date = new Date(now);
  if (period.kind === 'day') {
    const start = Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), date.getUTCDate());
    return { id: new Date(start).toISOString().slice(0, 10), resetAt: start + 86_400_000 };
  }
  if (period.kind === 'month') {
    const resetAt = Date.UTC(date.getUTCFullYear(), date.getUTCMonth() + 1, 1);
    return { id: date.toISOString().slice(0, 7), resetAt };
  }
  const index = Math.floor(now / period.ms);
  return { id: `${period.ms}:${index}`, resetAt: (index + 1) * period.ms };
}

export interface SpendBudgets {
  /** Checks the model and reserves the price in every budget; undefined when the key has none. */
  reserve(client: string, model: string, estimate: CostEstimate): Promise<SpendHold | undefined>;
}

export function createSpendBudgets(deps: SpendBudgetsDeps): SpendBudgets {
  const now = deps.now ?? Date.now;
  const inUnits = (
    budget: SpendBudgetSpec,
    model: string,
    tokens: { promptTokens: number; completionTokens: number },
    cost?: number | null,
  ) =>
    budget.unit === 'tokens'
      ? tokens.promptTokens + tokens.completionTokens
      : Math.ceil(((cost === undefined ? deps.price(model, tokens) : cost) ?? 0) * microUsd);
  const fromUnits = (budget: SpendBudgetSpec, units: number) =>
    budget.unit === 'usd' ? units / microUsd : units;

  return {
    async reserve(client, model, estimate) {
      const policy = deps.policyOf(client);
      if (policy === undefined) return undefined;
      if (policy.models !== undefined && !policy.models.has(model)) throw new ModelNotAllowedError(model);
      if (policy.budgets.length === 0) return undefined;
      const most = { promptTokens: estimate.promptTokens, completionTokens: estimate.maxCompletionTokens };
      // Fail closed: a hard USD cap cannot hold a model whose calls it would count as $0.
      if (policy.budgets.some((b) => b.hard && b.unit === 'usd') && deps.price(model, most) === null) {
        throw new ModelNotAllowedError(model, 'input.model', 'unpriced');
      }
      const held: { budget: SpendBudgetSpec; key: string; amount: number; resetAt: number }[] = [];
      const giveBack = () =>
        Promise.all(held.map((h) => deps.store.adjust(h.key, -h.amount, h.resetAt))).then(() => undefined);
      for (const budget of policy.budgets) {
        const window = budgetWindow(budget.period, now());
        const key = `${client}:${budget.hard ? 'hard' : 'soft'}:${budget.label}:${window.id}`;
        const amount = inUnits(budget, model, most);
        const limit = budget.hard
          ? Math.round(budget.amount * (budget.unit === 'usd' ? microUsd : 1))
          : undefined;
        const result = await deps.store.add(key, amount, limit, window.resetAt);
        if (!result.ok) {
          await giveBack();
          throw new BudgetExceededError(budget, fromUnits(budget, result.spent), new Date(window.resetAt));
        }
        held.push({ budget, key, amount, resetAt: window.resetAt });
      }
      let done = false;
      return {
        async settle(served, tokens, cost) {
          if (done) return [];
          done = true;
          const passed: SoftBudgetPassed[] = [];
          for (const h of held) {
            const delta = inUnits(h.budget, served, tokens, cost) - h.amount;
            const spent = await deps.store.adjust(h.key, delta, h.resetAt);
            const limit = h.budget.amount * (h.budget.unit === 'usd' ? microUsd : 1);
            if (!h.budget.hard && spent > limit) {
              passed.push({
                budget: h.budget,
                spent: fromUnits(h.budget, spent),
                resetAt: new Date(h.resetAt),
              });
            }
          }
          return passed;
        },
        async release() {
          if (done) return;
          done = true;
          await giveBack();
        },
      };
    },
  };
}
