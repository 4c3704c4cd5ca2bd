import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createStorage, StorageError } from '../../src/storage/index.js';
import { storageSuite } from './storage-suite.js';

const baseUrl = process.env.TEST_DATABASE_URL;

describe.skipIf(!baseUrl)('storage on PostgreSQL', () => {
  // Each run migrates a fresh schema (selected through search_path) and drops it afterwards, so
  // migrations are tested from zero and runs against a shared database never collide.
  const schema = `storage_test_${randomUUID().replaceAll('-', '').slice(0, 12)}`;
  const url = () => {
    const u = new URL(baseUrl ?? '');
    u.searchParams.set('options', `-c search_path=${schema}`);
    return u.toString();
  };
  const admin = async (statement: string) => {
    const client = new pg.Client({ connectionString: baseUrl, connectionTimeoutMillis: 2_000 });
    await client.connect();
    try {
      await client.query(statement);
    } finally {
      await client.end();
    }
  };

  beforeAll(() => admin(`create schema ${schema}`));
  afterAll(() => admin(`drop schema if exists ${schema} cascade`));

  storageSuite('postgres', (extra) =>
    createStorage({ databaseUrl: url(), sqlitePath: 'unused.db', ...extra }),
  );

  it('migrated into the test schema', async () => {
    const storage = await createStorage({ databaseUrl: url(), sqlitePath: 'unused.db' });
    await storage.close();
    const client = new pg.Client({ connectionString: baseUrl });
    await client.connect();
    try {
      const { rows } = await client.query<{ table_name: string }>(
        'select table_name from information_schema.tables where table_schema = $1 order by table_name',
        [schema],
      );
      expect(rows.map((r) => r.table_name)).toEqual(
        expect.arrayContaining(['completions', 'kysely_migration', 'usage_ledger']),
      );
    } finally {
      await client.end();
    }
  });

  it('lets several replicas migrate a fresh schema at the same time', async () => {
    const fresh = `${schema}_fresh`;
    await admin(`create schema ${fresh}`);
    try {
      const u = new URL(baseUrl ?? '');
      u.searchParams.set('options', `-c search_path=${fresh}`);
      const opened = await Promise.all(
        [1, 2, 3].map(() => createStorage({ databaseUrl: u.toString(), sqlitePath: 'unused.db' })),
      );
      await Promise.all(opened.map((s) => s.close()));
    } finally {
      await admin(`drop schema if exists ${fresh} cascade`);
    }
  });

  it('fails with a StorageError that hides a wrong password', async () => {
    const wrong = new URL(baseUrl ?? '');
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
