import { type Kysely, type Migration, type MigrationProvider, sql } from 'kysely';

/**
 * Migrations live in code (not files read at runtime) so the bundle and tests carry them, and they
 * use only the schema builder with types both SQLite and PostgreSQL accept. Names sort in the order
 * they must run; never edit one that has shipped, add a new one.
 */
const migrations: Record<string, Migration> = {
  '0001_completions': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('completions')
        .ifNotExists()
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('model', 'text', (c) => c.notNull())
        .addColumn('created', 'bigint', (c) => c.notNull())
        .addColumn('client_name', 'text')
        .addColumn('stored_at', 'bigint', (c) => c.notNull())
        .addColumn('prompt_tokens', 'bigint')
        .addColumn('completion_tokens', 'bigint')
        .addColumn('total_tokens', 'bigint')
        .addColumn('completion_json', 'text', (c) => c.notNull())
        .addColumn('request_json', 'text', (c) => c.notNull())
        .execute();
      // "This client's completions, newest first" is the listing anyone will want.
      await db.schema
        .createIndex('completions_client_stored_at')
        .ifNotExists()
        .on('completions')
        .columns(['client_name', 'stored_at'])
        .execute();
    },
    async down(db: Kysely<unknown>) {
      await db.schema.dropTable('completions').ifExists().execute();
    },
  },
  '0002_usage_ledger': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('usage_ledger')
        .ifNotExists()
        .addColumn('client_name', 'text', (c) => c.notNull())
        .addColumn('model', 'text', (c) => c.notNull())
        .addColumn('requests', 'bigint', (c) => c.notNull())
        .addColumn('prompt_tokens', 'bigint', (c) => c.notNull())
        .addColumn('completion_tokens', 'bigint', (c) => c.notNull())
        .addColumn('first_at', 'bigint', (c) => c.notNull())
        .addColumn('last_at', 'bigint', (c) => c.notNull())
        // The upsert in `record` conflicts on this key; it also serves `forClient`.
        .addPrimaryKeyConstraint('usage_ledger_pk', ['client_name', 'model'])
        .execute();
    },
    async down(db: Kysely<unknown>) {
      await db.schema.dropTable('usage_ledger').ifExists().execute();
    },
  },
  '0003_completions_keyed_by_client': {
    // Completion ids are the upstream's, and some compatible servers issue short guessable ones
    // (Ollama: `cmpl-<n>`), so `id` alone let one client shadow or read another's record. The key
    // becomes (client_name, id). SQLite cannot alter a primary key, so on both dialects the new
    // table is built, every row copied, the old table dropped and the new one renamed.
    async up(db: Kysely<unknown>) {
      await inOneTransaction(db, async (trx) => {
        await trx.schema
          .createTable('completions_by_client')
          .addColumn('client_name', 'text', (c) => c.notNull())
          .addColumn('id', 'text', (c) => c.notNull())
          .addColumn('model', 'text', (c) => c.notNull())
          .addColumn('created', 'bigint', (c) => c.notNull())
          .addColumn('stored_at', 'bigint', (c) => c.notNull())
          .addColumn('prompt_tokens', 'bigint')
          .addColumn('completion_tokens', 'bigint')
          .addColumn('total_tokens', 'bigint')
          .addColumn('completion_json', 'text', (c) => c.notNull())
          .addColumn('request_json', 'text', (c) => c.notNull())
          .addPrimaryKeyConstraint('completions_client_id_pk', ['client_name', 'id'])
          .execute();
        // A null owner was written by a caller without a client, which is how the open service
        // runs: such rows belong to the anonymous client. The name is spelled out, not imported,
        // so this migration stays what it was when it shipped.
        await sql`
          insert into completions_by_client
            (client_name, id, model, created, stored_at, prompt_tokens, completion_tokens,
             total_tokens, completion_json, request_json)
          select coalesce(client_name, ${'anonymous'}), id, model, created, stored_at, prompt_tokens,
             completion_tokens, total_tokens, completion_json, request_json
          from completions`.execute(trx);
        await trx.schema.dropTable('completions').execute();
        await trx.schema.alterTable('completions_by_client').renameTo('completions').execute();
        await trx.schema
          .createIndex('completions_client_stored_at')
          .on('completions')
          .columns(['client_name', 'stored_at'])
          .execute();
      });
    },
    // No `down`: two clients may now hold the same id, which the old key cannot represent.
  },
  '0004_usage_cost': {
    // What the calls cost, priced when they were made: a later price change does not rewrite the
    // past. Calls on a model without a price are counted apart, so their cost reads null, not 0.
    async up(db: Kysely<unknown>) {
      await db.schema
        .alterTable('usage_ledger')
        .addColumn('cost_usd', 'double precision', (c) => c.notNull().defaultTo(0))
        .execute();
      await db.schema
        .alterTable('usage_ledger')
        .addColumn('unpriced_requests', 'bigint', (c) => c.notNull().defaultTo(0))
        .execute();
    },
    async down(db: Kysely<unknown>) {
      await db.schema.alterTable('usage_ledger').dropColumn('unpriced_requests').execute();
      await db.schema.alterTable('usage_ledger').dropColumn('cost_usd').execute();
    },
  },
  '0005_prompt_cache': {
    // Template results served from the cache are free and counted apart from billed calls; the
    // cache itself is a key/value table with an expiry, swept by the service as it writes.
    async up(db: Kysely<unknown>) {
      await db.schema
        .alterTable('usage_ledger')
        .addColumn('cached_requests', 'bigint', (c) => c.notNull().defaultTo(0))
        .execute();
      await db.schema
        .createTable('prompt_cache')
        .ifNotExists()
        .addColumn('key', 'text', (c) => c.primaryKey())
        .addColumn('value_json', 'text', (c) => c.notNull())
        .addColumn('expires_at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema
        .createIndex('prompt_cache_expires_at')
        .ifNotExists()
        .on('prompt_cache')
        .column('expires_at')
        .execute();
    },
    async down(db: Kysely<unknown>) {
      await db.schema.dropTable('prompt_cache').ifExists().execute();
      await db.schema.alterTable('usage_ledger').dropColumn('cached_requests').execute();
    },
  },
};

/**
 * PostgreSQL runs each migration inside the migrator's transaction; SQLite (no transactional DDL
 * as far as Kysely knows) does not, and a crash between the drop and the rename would lose the
 * table. SQLite does support DDL in a transaction, so such a migration opens its own.
 */
async function inOneTransaction(
  db: Kysely<unknown>,
  fn: (trx: Kysely<unknown>) => Promise<void>,
): Promise<void> {
  if (db.isTransaction) return fn(db);
  await db.transaction().execute(fn);
}

export const migrationProvider: MigrationProvider = {
  async getMigrations() {
    return migrations;
  },
};

/** The latest migration name, for tests and health checks. */
export const latestMigration = Object.keys(migrations).sort().at(-1) ?? '';
