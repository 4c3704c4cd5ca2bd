import { expect, it } from 'vitest';
import { type Storage, StorageError, type StorageOptions } from '../../src/storage/index.js';
import { richCompletion, richRequest, runId, stored } from './fixtures.js';

export type OpenStorage = (extra?: Pick<StorageOptions, 'onQuery' | 'now'>) => Promise<Storage>;

/**
 * The behaviour every dialect must share. `open` opens the SAME database each time; the caller
 * owns its lifecycle (fresh database before, cleanup after).
 */
export function storageSuite(dialect: Storage['dialect'], open: OpenStorage): void {
  const withStorage = async <T>(fn: (storage: Storage) => Promise<T>): Promise<T> => {
    const storage = await open();
    try {
      return await fn(storage);
    } finally {
      await storage.close();
    }
  };

  it('reports its dialect and migrates idempotently (sequential and concurrent opens)', async () => {
    const id = `${runId()}-migrate`;
    await withStorage(async (s) => {
      expect(s.dialect).toBe(dialect);
      await s.completions.save(stored(id));
    });
    const again = await Promise.all([open(), open()]);
    for (const s of again) expect(await s.completions.get('client-a', id)).not.toBeNull();
    await Promise.all(again.map((s) => s.close()));
  });

  it('round-trips the full completion JSON, the request and the metadata', () =>
    withStorage(async (s) => {
      const id = `cmpl-${runId()}-rich`;
      const record = {
        completion: richCompletion(id),
        request: richRequest(),
        clientName: 'client-rich',
        storedAt: new Date(),
      };
      expect(await s.completions.save(record)).toBe(true);
      const got = await s.completions.get('client-rich', id);
      expect(got).toEqual(record);
      expect(got?.storedAt).toBeInstanceOf(Date);
      expect(got?.storedAt.getTime()).toBe(record.storedAt.getTime());
      expect(got?.completion.choices[0]?.logprobs?.tokenLogprobs).toEqual([null, -0.25, -1.5e-7]);

      const bare = stored(`cmpl-${runId()}-bare`);
      await s.completions.save(bare);
      expect(await s.completions.get('client-a', bare.completion.id)).toEqual(bare);
      expect(await s.completions.get('client-a', `cmpl-${runId()}-missing`)).toBeNull();
    }));

  it('getMany answers in one query, in order, with null for unknown ids and repeats for duplicates', async () => {
    const prefix = runId();
    const ids = [1, 2, 3].map((n) => `cmpl-${prefix}-${n}`);
    await withStorage(async (s) => {
      for (const id of ids) await s.completions.save(stored(id));
    });
    const queries: string[] = [];
    const s = await open({ onQuery: (sql) => queries.push(sql) });
    try {
      queries.length = 0;
      const [a, b, c] = ids as [string, string, string];
      const unknown = `cmpl-${prefix}-unknown`;
      const got = await s.completions.getMany('client-a', [c, unknown, a, c, b]);
      expect(got.map((r) => r?.completion.id ?? null)).toEqual([c, null, a, c, b]);
      expect(queries).toHaveLength(1);
      expect(await s.completions.getMany('client-a', [])).toEqual([]);
      expect(queries).toHaveLength(1);
      expect(await s.completions.getMany('client-a', [unknown])).toEqual([null]);
    } finally {
      await s.close();
    }
  });

  it('keeps a client’s first record when it saves the same id again, and says it did not insert', () =>
    withStorage(async (s) => {
      const id = `cmpl-${runId()}-dup`;
      const first = stored(id);
      expect(await s.completions.save(first)).toBe(true);
      const second = stored(id, { storedAt: new Date(0), request: richRequest() });
      expect(await s.completions.save(second)).toBe(false);
      expect(await s.completions.get('client-a', id)).toEqual(first);
      const [one, two] = await s.completions.getMany('client-a', [id, id]);
      expect(one).toEqual(first);
      expect(two).toEqual(first);
    }));

  it('keeps clients apart: the same id is one record per client, and no client reads another’s', () =>
    withStorage(async (s) => {
      // Ollama-style ids: short, sequential, bound to repeat across clients.
      const id = `cmpl-7-${runId()}`;
      const onlyB = `cmpl-8-${runId()}`;
      const a = stored(id, { clientName: 'alice' });
      const b = stored(id, { clientName: 'bob', storedAt: new Date(0), request: richRequest() });
      expect(await s.completions.save(a)).toBe(true);
      expect(await s.completions.save(b)).toBe(true);
      expect(await s.completions.save(stored(onlyB, { clientName: 'bob' }))).toBe(true);
      expect(await s.completions.get('alice', id)).toEqual(a);
      expect(await s.completions.get('bob', id)).toEqual(b);
      expect(await s.completions.get('carol', id)).toBeNull();
      expect(await s.completions.get('alice', onlyB)).toBeNull();
      expect(await s.completions.getMany('alice', [onlyB, id, onlyB])).toEqual([null, a, null]);
      expect(await s.completions.getMany('bob', [onlyB, id])).toEqual([
        stored(onlyB, { clientName: 'bob' }),
        b,
      ]);
      // Owner names compare exactly: no case folding, no prefix match.
      expect(await s.completions.get('Alice', id)).toBeNull();
      expect(await s.completions.get('alic', id)).toBeNull();
    }));

  it('persists across close and reopen', async () => {
    const id = `cmpl-${runId()}-persist`;
    const client = `client-${runId()}`;
    await withStorage(async (s) => {
      await s.completions.save(stored(id));
      await s.usage.record({ clientName: client, model: 'm', promptTokens: 3, completionTokens: 4 });
    });
    await withStorage(async (s) => {
      expect(await s.completions.get('client-a', id)).toEqual(stored(id));
      expect(await s.usage.forClient(client)).toMatchObject([{ requests: 1, promptTokens: 3 }]);
    });
  });

  it('counts 50 concurrent usage records exactly, as numbers', () =>
    withStorage(async (s) => {
      const client = `client-${runId()}`;
      const base = Date.parse('2026-03-01T00:00:00.000Z');
      // Shuffled timestamps: firstAt/lastAt must be the min and max, not the first and last writes.
      const offsets = Array.from({ length: 50 }, (_, i) => (i * 37) % 50);
      await Promise.all(
        offsets.map((offset, i) =>
          s.usage.record({
            clientName: client,
            model: 'gpt-x',
            promptTokens: i + 1,
            completionTokens: 2,
            costUsd: 0.25,
            at: new Date(base + offset * 1000),
          }),
        ),
      );
      await s.usage.record({ clientName: client, model: 'unpriced', promptTokens: 1, completionTokens: 1 });
      await s.usage.record({
        clientName: client,
        model: 'unpriced',
        promptTokens: 1,
        completionTokens: 1,
        unpricedRequests: 1,
      });
      // Results served from the prompt cache: counted apart, no request, no tokens, no cost.
      await s.usage.record({
        clientName: client,
        model: 'gpt-x',
        promptTokens: 0,
        completionTokens: 0,
        requests: 0,
        cachedRequests: 3,
        at: new Date(base),
      });
      const entries = await s.usage.forClient(client);
      expect(entries).toEqual([
        {
          clientName: client,
          model: 'gpt-x',
          requests: 50,
          promptTokens: (50 * 51) / 2,
          completionTokens: 100,
          firstAt: new Date(base),
          lastAt: new Date(base + 49_000),
          costUsd: 12.5,
          cachedRequests: 3,
        },
        expect.objectContaining({ model: 'unpriced', requests: 2, costUsd: null, cachedRequests: 0 }),
      ]);
      expect(typeof entries[0]?.requests).toBe('number');
    }));

  it('prompt cache: answers in order, replaces on write, forgets after the TTL (by its clock)', async () => {
    let now = Date.now();
    const storage = await open({ now: () => now });
    try {
      const cache = storage.promptCache;
      expect(cache.kind).toBe(dialect);
      const [a, b, c] = ['a', 'b', 'c'].map((k) => `${runId()}-${k}`) as [string, string, string];
      await cache.setMany([
        { key: a, value: '{"v":1}', ttlSeconds: 10 },
        { key: b, value: '{"v":2}', ttlSeconds: 60 },
        // The same key twice in one write: the last wins, and PostgreSQL is not asked to touch a row twice.
        { key: b, value: '{"v":3}', ttlSeconds: 60 },
      ]);
      expect(await cache.getMany([b, c, a])).toEqual(['{"v":3}', undefined, '{"v":1}']);
      expect(await cache.getMany([])).toEqual([]);
      now += 10_000;
      expect(await cache.getMany([a, b])).toEqual([undefined, '{"v":3}']);
      await cache.setMany([{ key: a, value: '{"v":4}', ttlSeconds: 10 }]);
      expect(await cache.getMany([a])).toEqual(['{"v":4}']);
    } finally {
      await storage.close();
    }
  });

  it('keeps clients apart and sorts a client’s models by code unit', () =>
    withStorage(async (s) => {
      const alice = `alice-${runId()}`;
      const bob = `bob-${runId()}`;
      for (const model of ['b-model', 'Z-model', 'a-model']) {
        await s.usage.record({ clientName: alice, model, promptTokens: 1, completionTokens: 1 });
      }
      await s.usage.record({ clientName: bob, model: 'a-model', promptTokens: 10, completionTokens: 20 });
      const aliceEntries = await s.usage.forClient(alice);
      expect(aliceEntries.map((e) => e.model)).toEqual(['Z-model', 'a-model', 'b-model']);
      expect(aliceEntries.every((e) => e.clientName === alice && e.requests === 1)).toBe(true);
      expect(await s.usage.forClient(bob)).toMatchObject([
        { model: 'a-model', promptTokens: 10, completionTokens: 20 },
      ]);
      expect(await s.usage.forClient(`nobody-${runId()}`)).toEqual([]);
    }));

  it('rejects bad input and use after close with StorageError', async () => {
    const s = await open();
    await expect(
      s.usage.record({ clientName: 'c', model: 'm', promptTokens: -1, completionTokens: 0 }),
    ).rejects.toBeInstanceOf(StorageError);
    await expect(s.completions.save(stored(''))).rejects.toBeInstanceOf(StorageError);
    // A record always has an owner: no empty namespace to fall into by forgetting the client.
    await expect(s.completions.save(stored('cmpl-x', { clientName: '' }))).rejects.toBeInstanceOf(
      StorageError,
    );
    await expect(s.completions.get('', 'cmpl-x')).rejects.toMatchObject({ operation: 'completions.get' });
    await expect(s.completions.getMany('', ['cmpl-x'])).rejects.toBeInstanceOf(StorageError);
    await s.close();
    await s.close();
    await expect(s.completions.get('c', 'x')).rejects.toBeInstanceOf(StorageError);
    await expect(s.usage.forClient('x')).rejects.toMatchObject({ operation: 'usage.forClient' });
  });
}
