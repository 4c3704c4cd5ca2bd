import { sql } from 'kysely';
import { createCompletionStore } from './completion-store.js';
import { openConnection } from './connect.js';
import { toStorageError } from './errors.js';
import { migrateToLatest } from './migrate.js';
import { createPromptCacheStore } from './prompt-cache.js';
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
