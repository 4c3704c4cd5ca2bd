import type { ColumnType } from 'kysely';

/**
 * The tables as Kysely sees them. Integers that can outgrow 32 bits are BIGINT, which node-postgres
 * returns as strings (and better-sqlite3 as numbers), hence the select type; `toNumber` converts.
 * Timestamps are epoch milliseconds on both dialects so they sort and compare as plain numbers.
 */
export type Int64 = ColumnType<string | number | bigint, number, number>;
export type NullableInt64 = ColumnType<string | number | bigint | null, number | null, number | null>;

export interface CompletionsTable {
  id: string;
  model: string;
  /** Unix seconds, as in the completion. */
  created: Int64;
  /** The owning client; with `id`, the primary key (migration 0003). */
  client_name: string;
  /** Epoch milliseconds. */
  stored_at: Int64;
  prompt_tokens: NullableInt64;
  completion_tokens: NullableInt64;
  total_tokens: NullableInt64;
  /** JSON text of the mapped `Completion`. */
  completion_json: string;
  /** JSON text of the `CompletionRequestInput`. */
  request_json: string;
}

export interface UsageLedgerTable {
  client_name: string;
  model: string;
  requests: Int64;
  prompt_tokens: Int64;
  completion_tokens: Int64;
  /** Epoch milliseconds. */
  first_at: Int64;
  last_at: Int64;
  /** USD of the priced requests, at the prices of the day. */
  cost_usd: ColumnType<number | string, number | undefined, number>;
  /** Requests on a model without a price: the row's cost is unknown when there are any. */
  unpriced_requests: ColumnType<string | number | bigint, number | undefined, number>;
  /** Template results served from the prompt cache: free, no tokens, no cost (migration 0005). */
  cached_requests: ColumnType<string | number | bigint, number | undefined, number>;
}

/** The prompt templates' result cache (when it lives in the database). */
export interface PromptCacheTable {
  /** A hash of everything that decides the result (see src/templates/cache-key.ts). */
  key: string;
  value_json: string;
  /** Epoch milliseconds; an expired row is a miss and is swept later. */
  expires_at: Int64;
}

export interface Database {
  completions: CompletionsTable;
  usage_ledger: UsageLedgerTable;
  prompt_cache: PromptCacheTable;
}

/** Converts what a driver returns for an integer column; refuses values a JS number cannot hold. */
export function toNumber(value: string | number | bigint): number {
  const n = typeof value === 'number' ? value : Number(value);
  if (!Number.isSafeInteger(n)) throw new RangeError(`integer column value out of range: ${String(value)}`);
  return n;
}

export function toNullableNumber(value: string | number | bigint | null): number | null {
  return value === null ? null : toNumber(value);
}
