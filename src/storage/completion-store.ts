import type { Kysely, Selectable } from 'kysely';
import type { Completion, CompletionRequestInput } from '../completions/model.js';
import { StorageError, type StorageOperation, toStorageError } from './errors.js';
import { type CompletionsTable, type Database, toNumber } from './schema.js';
import type { CompletionStore, StoredCompletion } from './types.js';

// Far above any federation batch, far below SQLite's 32,766 and PostgreSQL's 65,535 bind
// parameters; only a batch larger than this takes more than one query.
const MAX_IDS_PER_QUERY = 10_000;

type Row = Pick<
  Selectable<CompletionsTable>,
  'client_name' | 'stored_at' | 'completion_json' | 'request_json'
>;

export function createCompletionStore(db: Kysely<Database>, secrets: readonly string[]): CompletionStore {
  // Every read names the client: the (client_name, id) key is also the only access rule.
  const selectRows = (clientName: string, ids: readonly string[]) =>
    db
      .selectFrom('completions')
      .select(['id', 'client_name', 'stored_at', 'completion_json', 'request_json'])
      .where('client_name', '=', clientName)
      .where('id', 'in', ids)
      .execute();

  return {
    async save(record) {
      const values = toRow(record);
      try {
        // First write wins (see CompletionStore.save): a repeated id is a retry, not an update.
        const result = await db
          .insertInto('completions')
          .values(values)
          .onConflict((oc) => oc.columns(['client_name', 'id']).doNothing())
          .executeTakeFirst();
        // Both drivers count a row skipped by DO NOTHING as 0 rows.
        return result.numInsertedOrUpdatedRows === 1n;
      } catch (error) {
        throw toStorageError('completions.save', error, secrets);
      }
    },

    async get(clientName, id) {
      assertClientName(clientName, 'completions.get');
      let row: Row | undefined;
      try {
        row = await db
          .selectFrom('completions')
          .select(['client_name', 'stored_at', 'completion_json', 'request_json'])
          .where('client_name', '=', clientName)
          .where('id', '=', id)
          .executeTakeFirst();
      } catch (error) {
        throw toStorageError('completions.get', error, secrets);
      }
      return row === undefined ? null : fromRow(row, 'completions.get');
    },

    async getMany(clientName, ids) {
      assertClientName(clientName, 'completions.getMany');
      const unique = [...new Set(ids)];
      if (unique.length === 0) return [];
      const byId = new Map<string, StoredCompletion>();
      try {
        for (let start = 0; start < unique.length; start += MAX_IDS_PER_QUERY) {
          const batch = unique.slice(start, start + MAX_IDS_PER_QUERY);
          for (const row of await selectRows(clientName, batch)) {
            byId.set(row.id, fromRow(row, 'completions.getMany'));
          }
        }
      } catch (error) {
        throw toStorageError('completions.getMany', error, secrets);
      }
      return ids.map((id) => byId.get(id) ?? null);
    },
  };
}

/**
 * An empty or missing name would be a namespace of its own that a caller reaches by forgetting
 * to say who it acts for; refusing it keeps every record owned by a real client.
 */
function assertClientName(clientName: unknown, operation: StorageOperation): asserts clientName is string {
  if (typeof clientName !== 'string' || clientName === '') {
    throw new StorageError(operation, 'clientName must be a non-empty string');
  }
}

function toRow(record: StoredCompletion) {
  const { completion, request } = record;
  assertClientName(record.clientName, 'completions.save');
  if (typeof completion.id !== 'string' || completion.id === '') {
    throw new StorageError('completions.save', 'completion.id must be a non-empty string');
  }
  const created = Math.trunc(completion.created);
  if (!Number.isSafeInteger(created)) {
    throw new StorageError('completions.save', 'completion.created must be a unix timestamp');
  }
  const storedAt = record.storedAt.getTime();
  if (Number.isNaN(storedAt)) throw new StorageError('completions.save', 'storedAt is an invalid Date');
  let completionJson: string;
  let requestJson: string;
  try {
    completionJson = JSON.stringify(completion);
    requestJson = JSON.stringify(request);
  } catch (error) {
    throw toStorageError('completions.save', error);
  }
  return {
    id: completion.id,
    model: completion.model,
    created,
    client_name: record.clientName,
    stored_at: storedAt,
    // Query conveniences only; the JSON body stays the source of truth, so odd values become null.
    prompt_tokens: tokenCount(completion.usage?.promptTokens),
    completion_tokens: tokenCount(completion.usage?.completionTokens),
    total_tokens: tokenCount(completion.usage?.totalTokens),
    completion_json: completionJson,
    request_json: requestJson,
  };
}

function tokenCount(value: number | undefined): number | null {
  return value !== undefined && Number.isSafeInteger(value) ? value : null;
}

function fromRow(row: Row, operation: 'completions.get' | 'completions.getMany'): StoredCompletion {
  try {
    return {
      completion: JSON.parse(row.completion_json) as Completion,
      request: JSON.parse(row.request_json) as CompletionRequestInput,
      clientName: row.client_name,
      storedAt: new Date(toNumber(row.stored_at)),
    };
  } catch (error) {
    // A row another writer corrupted: report it as storage trouble, not as a crash in the caller.
    throw toStorageError(operation, error);
  }
}
