/**
 * What a client key may spend and use, written after the key's hash in CLIENT_KEYS:
 * `alice:<sha256> budget=5usd/day soft-budget=2000000tokens/month models=m1|m2`.
 */

export type BudgetUnit = 'usd' | 'tokens';

export type BudgetPeriod = { kind: 'day' } | { kind: 'month' } | { kind: 'every'; ms: number };

export interface SpendBudgetSpec {
  /** Hard: a call that could pass it is refused. Soft: it goes, with a warning and a log line. */
  hard: boolean;
  unit: BudgetUnit;
  amount: number;
  period: BudgetPeriod;
  /** As written (`5usd/day`): names the budget in errors, warnings and store keys. */
  label: string;
}

export interface KeyPolicy {
  budgets: SpendBudgetSpec[];
  /** Public model names this key may call; every model when absent. */
  models?: ReadonlySet<string>;
}

export class KeyPolicyError extends Error {}

const unitsMs: Record<string, number> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

function parsePeriod(text: string): BudgetPeriod {
  if (text === 'day' || text === 'month') return { kind: text };
  const match = /^(\d{1,6})([smhd])$/.exec(text);
  const ms = match ? Number(match[1]) * (unitsMs[match[2] as string] as number) : 0;
  if (ms < 60_000)
    throw new KeyPolicyError(
      `a budget period is day, month or a duration of 1m or more (30d, 12h), got "${text}"`,
    );
  return { kind: 'every', ms };
}

export function parseBudget(text: string, hard: boolean): SpendBudgetSpec {
  const match = /^(\d+(?:\.\d+)?)(usd|tokens)\/(.+)$/i.exec(text);
  if (!match)
    throw new KeyPolicyError(`a budget is <amount>usd/<period> or <amount>tokens/<period>, got "${text}"`);
  const amount = Number(match[1]);
  const unit = (match[2] as string).toLowerCase() as BudgetUnit;
  if (!(amount > 0) || (unit === 'tokens' && !Number.isSafeInteger(amount))) {
    throw new KeyPolicyError(`a budget's amount must be positive (whole for tokens), got "${text}"`);
  }
  return { hard, unit, amount, period: parsePeriod(match[3] as string), label: text.toLowerCase() };
}

/** `budget=…`, `soft-budget=…` (each may repeat) and `models=a|b` after a key's hash. */
export function parseKeyPolicy(attributes: readonly string[]): KeyPolicy | undefined {
  if (attributes.length === 0) return undefined;
  const policy: KeyPolicy = { budgets: [] };
  for (const attribute of attributes) {
    const [name, value] = attribute.split(/=(.*)/s) as [string, string | undefined];
    if (value === undefined || value === '') throw new KeyPolicyError(`"${attribute}" is not name=value`);
    if (name === 'budget' || name === 'soft-budget') {
      const budget = parseBudget(value, name === 'budget');
      // Each budget keeps its own counter, named by its kind and label: two alike would count twice.
      if (policy.budgets.some((b) => b.hard === budget.hard && b.label === budget.label)) {
        throw new KeyPolicyError(`"${attribute}" is given twice`);
      }
      policy.budgets.push(budget);
    } else if (name === 'models') policy.models = new Set(value.split('|').filter((model) => model !== ''));
    else throw new KeyPolicyError(`unknown key attribute "${name}" (budget, soft-budget, models)`);
  }
  return policy;
}
