import type { CompletionStore, UsageLedger } from '../completions/ports.js';
import type { PromptCacheStore } from '../templates/cache-store.js';

export type {
  CompletionStore,
  StoredCompletion,
  UsageEntry,
  UsageLedger,
  UsageRecord,
} from '../completions/ports.js';

export type StorageDialect = 'sqlite' | 'postgres';

export interface Storage {
  completions: CompletionStore;
  usage: UsageLedger;
  /** The prompt templates' result cache, in the same database. */
  promptCache: PromptCacheStore;
  dialect: StorageDialect;
  /** Resolves when the database answers a trivial query (readiness); a `StorageError` otherwise. */
  ping(): Promise<void>;
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
  /** The prompt cache's clock (expiry), epoch milliseconds; tests move it. */
  now?: () => number;
}
