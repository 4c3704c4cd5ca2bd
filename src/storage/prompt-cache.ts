import type { Kysely } from 'kysely';
import type { PromptCacheStore } from '../templates/cache-store.js';
import { toStorageError } from './errors.js';
import type { Database } from './schema.js';

/**
 * The prompt templates' result cache in the service's database (SQLite or PostgreSQL): one row per
 * key with its expiry. Expired rows are misses at once and deleted at most once a minute, by the
 * writes, so the table holds about one TTL's worth of results.
 */

// Far below SQLite's 32,766 and PostgreSQL's 65,535 bind parameters (a write binds three per row).
const MAX_ROWS_PER_QUERY = 5_000;
const SWEEP_EVERY_MS = 60_000;

function chunks<T>(items: readonly T[]): T[][] {
  const out: T[][] = [];
  for (let at = 0; at < items.length; at += MAX_ROWS_PER_QUERY)
    out.push(items.slice(at, at + MAX_ROWS_PER_QUERY));
  return out;
}

export function createPromptCacheStore(
  db: Kysely<Database>,
  secrets: readonly string[],
  kind: 'sqlite' | 'postgres',
  now: () => number = Date.now,
): PromptCacheStore {
  let lastSweep = 0;
  return {
    kind,
    now,
    async getMany(keys) {
      const values = new Map<string, string>();
      try {
        for (const part of chunks(keys)) {
          const rows = await db
            .selectFrom('prompt_cache')
            .select(['key', 'value_json'])
            .where('key', 'in', part)
            .where('expires_at', '>', now())
            .execute();
          for (const row of rows) values.set(row.key, row.value_json);
        }
      } catch (error) {
        throw toStorageError('promptCache.get', error, secrets);
      }
      return keys.map((key) => values.get(key));
    },
    async setMany(entries) {
      const at = now();
      // One row per key: PostgreSQL refuses an upsert that touches the same row twice.
      const unique = [...new Map(entries.map((e) => [e.key, e])).values()];
      try {
        for (const part of chunks(unique)) {
          await db
            .insertInto('prompt_cache')
            .values(
              part.map((e) => ({ key: e.key, value_json: e.value, expires_at: at + e.ttlSeconds * 1000 })),
            )
            .onConflict((oc) =>
              oc.column('key').doUpdateSet((eb) => ({
                value_json: eb.ref('excluded.value_json'),
                expires_at: eb.ref('excluded.expires_at'),
              })),
            )
            .execute();
        }
        if (at - lastSweep >= SWEEP_EVERY_MS) {
          lastSweep = at;
          await db.deleteFrom('prompt_cache').where('expires_at', '<=', at).execute();
        }
      } catch (error) {
        throw toStorageError('promptCache.set', error, secrets);
      }
    },
  };
}
