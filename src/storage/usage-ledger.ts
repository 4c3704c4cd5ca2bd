import type { Kysely } from 'kysely';
import { StorageError, toStorageError } from './errors.js';
import { type Database, toNumber } from './schema.js';
import type { UsageEntry, UsageLedger } from './types.js';

export function createUsageLedger(db: Kysely<Database>, secrets: readonly string[]): UsageLedger {
  return {
    async record(entry) {
      const at = (entry.at ?? new Date()).getTime();
      const firstAt = entry.firstAt?.getTime() ?? at;
      if (Number.isNaN(at) || Number.isNaN(firstAt)) {
        throw new StorageError('usage.record', 'at and firstAt must be valid Dates');
      }
      const requests = entry.requests ?? 1;
      const unpriced = entry.unpricedRequests ?? 0;
      const cost = entry.costUsd ?? 0;
      const cached = entry.cachedRequests ?? 0;
      for (const [name, value] of [
        ['promptTokens', entry.promptTokens],
        ['completionTokens', entry.completionTokens],
        ['requests', requests],
        ['unpricedRequests', unpriced],
        ['cachedRequests', cached],
      ] as const) {
        if (!Number.isSafeInteger(value) || value < 0) {
          throw new StorageError('usage.record', `${name} must be a non-negative integer`);
        }
      }
      if (!Number.isFinite(cost) || cost < 0) {
        throw new StorageError('usage.record', 'costUsd must be a non-negative number');
      }
      try {
        // One statement, so the database serialises concurrent increments of the same row; a
        // read-modify-write in JS would lose counts. Both dialects accept this exact upsert.
        await db
          .insertInto('usage_ledger')
          .values({
            client_name: entry.clientName,
            model: entry.model,
            requests,
            prompt_tokens: entry.promptTokens,
            completion_tokens: entry.completionTokens,
            first_at: firstAt,
            last_at: at,
            cost_usd: cost,
            unpriced_requests: unpriced,
            cached_requests: cached,
          })
          .onConflict((oc) =>
            oc.columns(['client_name', 'model']).doUpdateSet((eb) => ({
              requests: eb('usage_ledger.requests', '+', eb.ref('excluded.requests')),
              prompt_tokens: eb('usage_ledger.prompt_tokens', '+', eb.ref('excluded.prompt_tokens')),
              completion_tokens: eb(
                'usage_ledger.completion_tokens',
                '+',
                eb.ref('excluded.completion_tokens'),
              ),
              cost_usd: eb('usage_ledger.cost_usd', '+', eb.ref('excluded.cost_usd')),
              unpriced_requests: eb(
                'usage_ledger.unpriced_requests',
                '+',
                eb.ref('excluded.unpriced_requests'),
              ),
              cached_requests: eb('usage_ledger.cached_requests', '+', eb.ref('excluded.cached_requests')),
              // CASE rather than LEAST/MIN: PostgreSQL and SQLite spell the two-argument min differently.
              first_at: eb
                .case()
                .when('excluded.first_at', '<', eb.ref('usage_ledger.first_at'))
                .then(eb.ref('excluded.first_at'))
                .else(eb.ref('usage_ledger.first_at'))
                .end(),
              last_at: eb
                .case()
                .when('excluded.last_at', '>', eb.ref('usage_ledger.last_at'))
                .then(eb.ref('excluded.last_at'))
                .else(eb.ref('usage_ledger.last_at'))
                .end(),
            })),
          )
          .execute();
      } catch (error) {
        throw toStorageError('usage.record', error, secrets);
      }
    },

    async forClient(clientName) {
      let entries: UsageEntry[];
      try {
        const rows = await db
          .selectFrom('usage_ledger')
          .selectAll()
          .where('client_name', '=', clientName)
          .execute();
        entries = rows.map((row) => ({
          clientName: row.client_name,
          model: row.model,
          requests: toNumber(row.requests),
          promptTokens: toNumber(row.prompt_tokens),
          completionTokens: toNumber(row.completion_tokens),
          firstAt: new Date(toNumber(row.first_at)),
          lastAt: new Date(toNumber(row.last_at)),
          costUsd: toNumber(row.unpriced_requests) > 0 ? null : Number(row.cost_usd),
          cachedRequests: toNumber(row.cached_requests),
        }));
      } catch (error) {
        throw toStorageError('usage.forClient', error, secrets);
      }
      // Sorted here, by code unit, because ORDER BY follows the PostgreSQL database's collation
      // (often case-insensitive) and SQLite's BINARY one: the same data would sort differently.
      return entries.sort((a, b) => (a.model < b.model ? -1 : a.model > b.model ? 1 : 0));
    },
  };
}
