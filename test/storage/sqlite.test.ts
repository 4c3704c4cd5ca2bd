import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { Kysely, SqliteDialect } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createStorage } from '../../src/storage/index.js';
import { runId } from './fixtures.js';
import { migrationSuite } from './migration-suite.js';
import type { SchemaShape } from './pg-schema.js';
import { storageSuite } from './storage-suite.js';

/** The same shape `describePgSchema` reports, read from SQLite's catalogue. */
function describeSqlite(path: string): SchemaShape {
  const raw = new Database(path, { readonly: true });
  try {
    const names = (type: string) =>
      raw
        .prepare<[string], { name: string }>('select name from sqlite_master where type = ? order by name')
        .all(type)
        .map((row) => row.name);
    const tables = names('table');
    const primaryKeys: Record<string, string[]> = {};
    const notNull: string[] = [];
    for (const table of tables) {
      const columns = raw.pragma(`table_info(${table})`) as { name: string; notnull: number; pk: number }[];
      const key = columns.filter((c) => c.pk > 0).sort((a, b) => a.pk - b.pk);
      if (key.length > 0) primaryKeys[table] = key.map((c) => c.name);
      for (const c of columns) if (c.notnull === 1) notNull.push(`${table}.${c.name}`);
    }
    const migrations = tables.includes('kysely_migration')
      ? raw
          .prepare<[], { name: string }>('select name from kysely_migration order by name')
          .all()
          .map((row) => row.name)
      : [];
    return { tables, primaryKeys, notNull, indexes: names('index'), migrations };
  } finally {
    raw.close();
  }
}

describe('storage on SQLite', () => {
  let dir: string;
  // Nested and not yet existing: createStorage must create the parent directory.
  const path = () => join(dir, 'nested', 'deeper', 'completions.db');

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'completions-storage-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  storageSuite('sqlite', (extra) => createStorage({ sqlitePath: path(), ...extra }));

  migrationSuite(async () => {
    const file = join(dir, `migration-${runId()}.db`);
    return {
      legacy: () => new Kysely({ dialect: new SqliteDialect({ database: new Database(file) }) }),
      open: () => createStorage({ sqlitePath: file }),
      shape: async () => describeSqlite(file),
      dispose: async () => {},
    };
  });

  it('creates the file in WAL mode', async () => {
    const storage = await createStorage({ sqlitePath: path() });
    try {
      expect((await stat(path())).isFile()).toBe(true);
      const raw = new Database(path(), { readonly: true });
      try {
        expect(raw.pragma('journal_mode', { simple: true })).toBe('wal');
        const tables = raw.prepare(`select name from sqlite_master where type = 'table' order by name`).all();
        expect(tables.map((t) => (t as { name: string }).name)).toEqual(
          expect.arrayContaining(['completions', 'usage_ledger', 'kysely_migration']),
        );
      } finally {
        raw.close();
      }
    } finally {
      await storage.close();
    }
  });

  it('uses SQLite when DATABASE_URL is empty', async () => {
    const storage = await createStorage({ databaseUrl: '  ', sqlitePath: path() });
    expect(storage.dialect).toBe('sqlite');
    await storage.close();
  });
});
