import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createStorage, StorageError } from '../../src/storage/index.js';
import { migrationSuite } from './migration-suite.js';
import { createPgSchema, describePgSchema, type PgSchema } from './pg-schema.js';
import { storageSuite } from './storage-suite.js';

const baseUrl = process.env.TEST_DATABASE_URL ?? '';

/** What every migrated schema holds: the shape the storage code relies on. */
const migratedShape = {
  tables: expect.arrayContaining(['completions', 'kysely_migration', 'usage_ledger']),
  primaryKeys: expect.objectContaining({
    completions: ['client_name', 'id'],
    usage_ledger: ['client_name', 'model'],
  }),
  notNull: expect.arrayContaining(['completions.client_name', 'completions.id', 'usage_ledger.client_name']),
  indexes: expect.arrayContaining(['completions_client_id_pk', 'completions_client_stored_at']),
  migrations: [
    '0001_completions',
    '0002_usage_ledger',
    '0003_completions_keyed_by_client',
    '0004_usage_cost',
    '0005_prompt_cache',
  ],
};

describe.skipIf(!baseUrl)('storage on PostgreSQL', () => {
  // Each run migrates a fresh schema (selected through search_path) and drops it afterwards, so
  // migrations are tested from zero and runs against a shared database never collide.
  let schema: PgSchema;

  beforeAll(async () => {
    schema = await createPgSchema(baseUrl, 'storage_test');
  });
  afterAll(() => schema?.drop());

  storageSuite('postgres', (extra) =>
    createStorage({ databaseUrl: schema.url, sqlitePath: 'unused.db', ...extra }),
  );

  migrationSuite(async () => {
    const fresh = await createPgSchema(baseUrl, 'migration_test');
    return {
      legacy: () =>
        new Kysely({ dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: fresh.url }) }) }),
      migrationTableSchema: fresh.name,
      open: () => createStorage({ databaseUrl: fresh.url, sqlitePath: 'unused.db' }),
      shape: () => describePgSchema(baseUrl, fresh.name),
      dispose: () => fresh.drop(),
    };
  });

  it('migrated into the test schema, with the keys and indexes the store relies on', async () => {
    const storage = await createStorage({ databaseUrl: schema.url, sqlitePath: 'unused.db' });
    await storage.close();
    expect(await describePgSchema(baseUrl, schema.name)).toEqual(expect.objectContaining(migratedShape));
  });

  it('lets several replicas migrate a fresh schema at the same time, each migration once', async () => {
    const fresh = await createPgSchema(baseUrl, 'storage_fresh');
    try {
      const opened = await Promise.all(
        [1, 2, 3].map(() => createStorage({ databaseUrl: fresh.url, sqlitePath: 'unused.db' })),
      );
      await Promise.all(opened.map((s) => s.close()));
      // The advisory lock serialised them: one set of tables, every migration recorded once.
      expect(await describePgSchema(baseUrl, fresh.name)).toEqual(expect.objectContaining(migratedShape));
    } finally {
      await fresh.drop();
    }
  });

  it('fails with a StorageError that hides a wrong password', async () => {
    const wrong = new URL(baseUrl);
    const password = 'Wr0ng-Pa55word-xyz';
    wrong.password = password;
    const error = await createStorage({ databaseUrl: wrong.toString(), sqlitePath: 'unused.db' }).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(StorageError);
    const text = `${String(error)} ${(error as Error).stack} ${String((error as Error).cause)}`;
    expect(text).not.toContain(password);
    expect((error as StorageError).operation).toBe('connect');
  });
});
