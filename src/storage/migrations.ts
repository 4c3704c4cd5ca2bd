import type { Kysely, Migration, MigrationProvider } from 'kysely';

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
};

export const migrationProvider: MigrationProvider = {
  async getMigrations() {
    return migrations;
  },
};

/** The latest migration name, for tests and health checks. */
export const latestMigration = Object.keys(migrations).sort().at(-1) ?? '';
