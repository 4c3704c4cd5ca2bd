import type { WireUsage } from '../upstream/wire.js';
import type { CostEstimate } from './cost.js';
import type { Completion, CompletionRequestInput } from './model.js';
import type { PendingWrites } from './pending-writes.js';

/**
 * What the completions use case needs of storage, defined here and implemented by src/storage: the
 * use case depends on these ports, storage on the use case's types, never the other way round.
 */

/** What the service keeps about one completion it returned. */
export interface StoredCompletion {
  /** The whole mapped completion, exactly as returned to the client. */
  completion: Completion;
  /** The request parameters that produced it. */
  request: CompletionRequestInput;
  /**
   * Which API client stored it: the namespace the record lives in and the only client that can
   * read it. The open service stores and reads as the anonymous client (`anonymous`).
   */
  clientName: string;
  storedAt: Date;
}

export interface CompletionStore {
  /**
   * Keyed by (client, `completion.id`): upstream ids are short and guessable on some compatible
   * servers (Ollama's `cmpl-<n>`), so the same id from two clients is two records. Within one
   * client the FIRST save wins (completions are immutable; a repeat is a retry or a collision),
   * and the answer says whether this call inserted the record (false: one was already there).
   */
  save(record: StoredCompletion): Promise<boolean>;
  /** The client's record with that id; another client's record is null, exactly like a missing one. */
  get(clientName: string, id: string): Promise<StoredCompletion | null>;
  /**
   * The client's records, in one query for the whole batch (federation `_entities`); the result
   * is in the order of `ids`, with null for unknown (or other clients') ids and the same record
   * repeated for repeated ids.
   */
  getMany(clientName: string, ids: readonly string[]): Promise<(StoredCompletion | null)[]>;
}

export interface UsageEntry {
  clientName: string;
  model: string;
  requests: number;
  promptTokens: number;
  completionTokens: number;
  firstAt: Date;
  lastAt: Date;
  /** USD, priced when each call was made; null when some calls were on a model without a price. */
  costUsd: number | null;
  /** Template results served from the prompt cache: no upstream call, no tokens, no cost. */
  cachedRequests: number;
}

export interface UsageRecord {
  clientName: string;
  model: string;
  promptTokens: number;
  completionTokens: number;
  /** When the request happened (the last one, for a batch); defaults to now. */
  at?: Date;
  /** Requests this entry stands for (a batch of several); defaults to 1. */
  requests?: number;
  /** When the first request of a batch happened; defaults to `at`. */
  firstAt?: Date;
  /** USD of the priced requests; defaults to 0. */
  costUsd?: number;
  /** Requests on a model without a price; defaults to 0. */
  unpricedRequests?: number;
  /** Results served from the prompt cache (free); defaults to 0. */
  cachedRequests?: number;
}

export interface UsageLedger {
  /** Adds the entry's requests atomically (a single upsert), so concurrent records never lose counts. */
  record(entry: UsageRecord): Promise<void>;
  /** Every model the client used, sorted by model. */
  forClient(clientName: string): Promise<UsageEntry[]>;
}

/**
 * `store: true` met a record this client already holds under the same id (first write wins), so
 * the completion just returned was not stored. Not a StorageError: the database worked, and the
 * client is told with its own warning code rather than STORE_FAILED.
 */
export class CompletionIdConflictError extends Error {
  readonly completionId: string;

  constructor(completionId: string) {
    super(`a completion with id ${completionId} is already stored for this client`);
    this.name = 'CompletionIdConflictError';
    this.completionId = completionId;
  }
}

/**
 * What the use case needs of the client limits (rate limits, spend budgets, the ledger): defined
 * here and implemented by src/limits/client-budget.ts.
 */

/** What a budget reports after the paid call; the caller turns it into a response warning. */
export type BudgetProblem = 'settlement-failed' | 'usage-implausible' | 'soft-budget-exceeded';

/** What a settled call was charged: worked out once here, reported as is by the service. */
export interface Settlement {
  problems: BudgetProblem[];
  promptTokens: number;
  completionTokens: number;
  /** USD from the price table; null for a model without a price. */
  costUsd: number | null;
}

export interface Charge {
  /** After a call that answered: charge its usage (checked), record it; never throws. */
  settle(
    model: string,
    usage: WireUsage | null | undefined,
    fallbackCompletionTokens?: number,
  ): Promise<Settlement>;
  /** After a failed call: give the reservation back when nothing was billed, else charge and record. */
  fail(error: unknown, model: string, completionTokensSoFar?: number): Promise<void>;
}

export interface ClientBudget {
  /**
   * Reserves the call's price, in the rate limits and the key's spend budgets (`model` is the
   * public name asked for); throws `ClientRateLimitError`, `BudgetExceededError`,
   * `ModelNotAllowedError`, or the store's own failure (fail closed).
   */
  reserve(client: string, estimate: CostEstimate, model?: string): Promise<Charge>;
  /** Settles, retries and ledger writes still running: awaited at shutdown before storage closes. */
  readonly pending: PendingWrites;
}
