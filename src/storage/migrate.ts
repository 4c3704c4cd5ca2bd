import { type Kysely, Migrator } from 'kysely';
import { toStorageError } from './errors.js';
import { migrationProvider } from './migrations.js';
import type { Database } from './schema.js';

/**
 * Brings the schema to the latest migration. Safe to run on every start: Kysely records applied
 * migrations and runs them in one transaction. On PostgreSQL it also holds an advisory lock, so
 * several replicas may start at once; on SQLite a second process migrating at the same instant can
 * fail with SQLITE_BUSY (as a StorageError) and succeeds on restart.
 */
export async function migrateToLatest(
  db: Kysely<Database>,
  secrets: readonly string[],
  schema?: string,
): Promise<void> {
  const migrator = new Migrator({
    db,
    provider: migrationProvider,
    ...(schema === undefined ? {} : { migrationTableSchema: schema }),
  });
  let outcome: Awaited<ReturnType<Migrator['migrateToLatest']>>;
  try {
    outcome = await migrator.migrateToLatest();
  } catch (error) {
    throw toStorageError('migrate', error, secrets);
  }
  // The migrator reports failures in its result instead of throwing.
  if (outcome.error !== undefined) throw toStorageError('migrate', outcome.error, secrets);
}
