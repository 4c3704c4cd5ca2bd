import type { Completion, CompletionRequestInput } from '../completions/model.js';

/** What the service keeps about one completion it returned. */
export interface StoredCompletion {
  /** The whole mapped completion, exactly as returned to the client. */
  completion: Completion;
  /** The request parameters that produced it. */
  request: CompletionRequestInput;
  /** Which API client stored it; null when the service runs open (no client auth). */
  clientName: string | null;
  storedAt: Date;
}

export interface CompletionStore {
  /**
   * Idempotent on `completion.id`: the FIRST save wins and later saves of the same id are ignored
   * (no error). Completions are immutable once generated, so a repeat is a retry; overwriting would
   * also let one client replace another client's record by reusing an id.
   */
  save(record: StoredCompletion): Promise<void>;
  get(id: string): Promise<StoredCompletion | null>;
  /**
   * One query for the whole batch (federation `_entities`); the result is in the order of `ids`,
   * with null for unknown ids and the same record repeated for repeated ids.
   */
  getMany(ids: readonly string[]): Promise<(StoredCompletion | null)[]>;
}

export interface UsageEntry {
  clientName: string;
  model: string;
  requests: number;
  promptTokens: number;
  completionTokens: number;
  firstAt: Date;
  lastAt: Date;
}

export interface UsageRecord {
  clientName: string;
  model: string;
  promptTokens: number;
  completionTokens: number;
  /** When the request happened; defaults to now. */
  at?: Date;
}

export interface UsageLedger {
  /** Adds one request atomically (a single upsert), so concurrent records never lose counts. */
  record(entry: UsageRecord): Promise<void>;
  /** Every model the client used, sorted by model. */
  forClient(clientName: string): Promise<UsageEntry[]>;
}

export type StorageDialect = 'sqlite' | 'postgres';

export interface Storage {
  completions: CompletionStore;
  usage: UsageLedger;
  dialect: StorageDialect;
  /** Closes the connection(s). Safe to call twice. */
  close(): Promise<void>;
}

export interface StorageOptions {
  /** `postgres://` or `postgresql://` URL; when absent or empty, SQLite at `sqlitePath` is used. */
  databaseUrl?: string;
  /** SQLite file; its parent directory is created when missing. `:memory:` works for throwaway use. */
  sqlitePath: string;
  /** Called after every query with its SQL text (no parameters) and duration, for metrics and tests. */
  onQuery?: (sql: string, durationMs: number) => void;
}
