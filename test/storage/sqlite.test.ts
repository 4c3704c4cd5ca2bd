import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createStorage } from '../../src/storage/index.js';
import { storageSuite } from './storage-suite.js';

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
