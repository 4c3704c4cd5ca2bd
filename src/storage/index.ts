import { sql } from 'kysely';
import { createMemoryPromptCache, type PromptCacheStore } from '../templates/cache-store.js';
import type { PromptCacheChoice } from '../templates/template.js';
import { createCompletionStore } from './completion-store.js';
import { openConnection } from './connect.js';
import { toStorageError } from './errors.js';
import { migrateToLatest } from './migrate.js';
import { createPromptCacheStore } from './prompt-cache.js';
import { createRedisPromptCache } from './redis-prompt-cache.js';
import type { Storage, StorageOptions } from './types.js';
import { createUsageLedger } from './usage-ledger.js';

export { CompletionIdConflictError } from '../completions/ports.js';
export { type BatchedLedger, createBatchedLedger } from './batched-ledger.js';
export { StorageError, type StorageOperation } from './errors.js';
export type {
  CompletionStore,
  Storage,
  StorageDialect,
  StorageOptions,
  StoredCompletion,
  UsageEntry,
  UsageLedger,
  UsageRecord,
} from './types.js';

/**
 * Opens SQLite at `sqlitePath`, or PostgreSQL when `databaseUrl` is set, and migrates it to the
 * latest schema. Every failure, here and in the returned stores, is a `StorageError`.
 */
export async function createStorage(options: StorageOptions): Promise<Storage> {
  const { db, dialect, secrets, schema } = await openConnection(options);
  try {
    await migrateToLatest(db, secrets, schema);
  } catch (error) {
    await db.destroy().catch(() => {});
    throw error;
  }
  let closing: Promise<void> | undefined;
  return {
    completions: createCompletionStore(db, secrets),
    usage: createUsageLedger(db, secrets),
    promptCache: createPromptCacheStore(db, secrets, dialect, options.now),
    dialect,
    async ping() {
      try {
        await sql`select 1`.execute(db);
      } catch (error) {
        throw toStorageError('ping', error, secrets);
      }
    },
    close() {
      closing ??= db.destroy().catch((error: unknown) => {
        throw toStorageError('close', error, secrets);
      });
      return closing;
    },
  };
}

/**
 * The prompt cache PROMPT_CACHE_STORE asks for: `auto` is Redis when REDIS_URL is set (shared by
 * every instance), else the database; undefined for `off`.
 */
export async function openPromptCache(
  choice: PromptCacheChoice | undefined,
  redisUrl: string | undefined,
  database: PromptCacheStore,
): Promise<PromptCacheStore | undefined> {
  const wanted = choice === undefined || choice === 'auto' ? (redisUrl ? 'redis' : 'database') : choice;
  if (wanted === 'off') return undefined;
  if (wanted === 'memory') return createMemoryPromptCache();
  if (wanted === 'database') return database;
  if (redisUrl === undefined) throw new Error('PROMPT_CACHE_STORE=redis needs REDIS_URL');
  return createRedisPromptCache({ url: redisUrl });
}
