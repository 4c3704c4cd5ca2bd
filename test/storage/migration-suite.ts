import { type Kysely, Migrator } from 'kysely';
import { expect, it } from 'vitest';
import type { Storage } from '../../src/storage/index.js';
import { latestMigration, migrationProvider } from '../../src/storage/migrations.js';
import { richCompletion, richRequest, runId, stored } from './fixtures.js';
import type { SchemaShape } from './pg-schema.js';

/** The completions table as migrations 0001 and 0002 left it: one key, `id`, and a nullable owner. */
interface LegacyDatabase {
  completions: {
    id: string;
    model: string;
    created: number;
    client_name: string | null;
    stored_at: number;
    prompt_tokens: number | null;
    completion_tokens: number | null;
    total_tokens: number | null;
    completion_json: string;
    request_json: string;
  };
}

/** An empty database of one dialect, and the ways to reach and inspect it. */
export interface FreshDatabase {
  /** A raw connection for building the old schema; the suite destroys it. */
  legacy(): Kysely<LegacyDatabase>;
  /** Where Kysely keeps its migration tables (PostgreSQL's current schema). */
  migrationTableSchema?: string;
  open(): Promise<Storage>;
  shape(): Promise<SchemaShape>;
  dispose(): Promise<void>;
}

const legacyRow = (id: string, clientName: string | null, storedAt: Date) => {
  const completion = { ...richCompletion(id), usage: null };
  return {
    id,
    model: completion.model,
    created: completion.created,
    client_name: clientName,
    stored_at: storedAt.getTime(),
    prompt_tokens: null,
    completion_tokens: null,
    total_tokens: null,
    completion_json: JSON.stringify(completion),
    request_json: JSON.stringify(stored(id).request),
  };
};

export function migrationSuite(fresh: () => Promise<FreshDatabase>): void {
  const withFresh = async (fn: (database: FreshDatabase) => Promise<void>) => {
    const database = await fresh();
    try {
      await fn(database);
    } finally {
      await database.dispose();
    }
  };

  it('migrates an empty database to completions keyed by (client_name, id)', () =>
    withFresh(async (database) => {
      const storage = await database.open();
      await storage.close();
      const shape = await database.shape();
      expect(shape.tables).toEqual(
        expect.arrayContaining(['completions', 'usage_ledger', 'kysely_migration']),
      );
      expect(shape.tables).not.toContain('completions_by_client');
      expect(shape.primaryKeys.completions).toEqual(['client_name', 'id']);
      expect(shape.primaryKeys.usage_ledger).toEqual(['client_name', 'model']);
      expect(shape.notNull).toEqual(
        expect.arrayContaining([
          'completions.client_name',
          'completions.id',
          'completions.completion_json',
          'completions.request_json',
          'completions.stored_at',
        ]),
      );
      expect(shape.indexes).toContain('completions_client_stored_at');
      expect(shape.migrations).toEqual([
        '0001_completions',
        '0002_usage_ledger',
        '0003_completions_keyed_by_client',
        '0004_usage_cost',
        '0005_prompt_cache',
      ]);
      expect(latestMigration).toBe('0005_prompt_cache');
    }));

  it('keeps every row of a 0002 database; rows without an owner become the anonymous client’s', () =>
    withFresh(async (database) => {
      const legacy = database.legacy();
      const prefix = runId();
      const open = `cmpl-${prefix}-open`;
      const owned = `cmpl-${prefix}-owned`;
      const at = new Date('2025-05-06T07:08:09.010Z');
      try {
        const migrator = new Migrator({
          db: legacy,
          provider: migrationProvider,
          ...(database.migrationTableSchema ? { migrationTableSchema: database.migrationTableSchema } : {}),
        });
        const { error } = await migrator.migrateTo('0002_usage_ledger');
        expect(error).toBeUndefined();
        await legacy
          .insertInto('completions')
          .values([legacyRow(open, null, at), legacyRow(owned, 'alice', at)])
          .execute();
      } finally {
        await legacy.destroy();
      }

      const storage = await database.open();
      try {
        const expected = (id: string, clientName: string) => ({
          completion: { ...richCompletion(id), usage: null },
          request: stored(id).request,
          clientName,
          storedAt: at,
        });
        expect(await storage.completions.get('anonymous', open)).toEqual(expected(open, 'anonymous'));
        expect(await storage.completions.get('alice', owned)).toEqual(expected(owned, 'alice'));
        expect(await storage.completions.getMany('alice', [open, owned])).toEqual([
          null,
          expected(owned, 'alice'),
        ]);
        expect(await storage.completions.get('anonymous', owned)).toBeNull();
        expect(await storage.completions.get('bob', owned)).toBeNull();
        // The new key: the same id is free for another client and taken for its owner.
        const again = { ...stored(owned), request: richRequest() };
        expect(await storage.completions.save({ ...again, clientName: 'alice' })).toBe(false);
        expect(await storage.completions.save({ ...again, clientName: 'bob' })).toBe(true);
        expect(await storage.completions.get('alice', owned)).toEqual(expected(owned, 'alice'));
      } finally {
        await storage.close();
      }
      const shape = await database.shape();
      expect(shape.primaryKeys.completions).toEqual(['client_name', 'id']);
      expect(shape.tables).not.toContain('completions_by_client');
    }));
}
