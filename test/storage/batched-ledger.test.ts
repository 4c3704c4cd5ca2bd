import { describe, expect, it } from 'vitest';
import { createBatchedLedger } from '../../src/storage/batched-ledger.js';
import { createStorage, type UsageLedger, type UsageRecord } from '../../src/storage/index.js';

/** A ledger that counts its writes and can be told to fail. */
function countingLedger(inner: UsageLedger) {
  const state = { writes: 0, failing: false };
  const ledger: UsageLedger = {
    async record(entry: UsageRecord) {
      if (state.failing) throw new Error('database is down');
      state.writes++;
      await inner.record(entry);
    },
    forClient: (client) => inner.forClient(client),
  };
  return { ledger, state };
}

describe('batched usage ledger', () => {
  it('writes one upsert per client and model, however many calls, and a reader sees every call', async () => {
    const storage = await createStorage({ sqlitePath: ':memory:' });
    const { ledger, state } = countingLedger(storage.usage);
    const batched = createBatchedLedger(ledger, { flushMs: 60_000 });
    for (let i = 0; i < 50; i++) {
      await batched.record({ clientName: 'a', model: 'm', promptTokens: 2, completionTokens: 3 });
      await batched.record({ clientName: 'b', model: 'm', promptTokens: 1, completionTokens: 1 });
    }
    expect(state.writes).toBe(0);
    expect(await batched.forClient('a')).toMatchObject([
      { clientName: 'a', model: 'm', requests: 50, promptTokens: 100, completionTokens: 150 },
    ]);
    expect(state.writes).toBe(2);
    await batched.close();
    await storage.close();
  });

  it('keeps the sums of a failed write for the next flush, and reports what is left at close', async () => {
    const storage = await createStorage({ sqlitePath: ':memory:' });
    const { ledger, state } = countingLedger(storage.usage);
    const reported: string[] = [];
    const batched = createBatchedLedger(ledger, {
      flushMs: 60_000,
      onError: (message) => reported.push(message),
    });
    await batched.record({ clientName: 'a', model: 'm', promptTokens: 2, completionTokens: 3 });
    state.failing = true;
    await batched.flush();
    await batched.record({ clientName: 'a', model: 'm', promptTokens: 2, completionTokens: 3 });
    state.failing = false;
    expect(await batched.forClient('a')).toMatchObject([
      { requests: 2, promptTokens: 4, completionTokens: 6 },
    ]);

    await batched.record({ clientName: 'a', model: 'm', promptTokens: 1, completionTokens: 1 });
    state.failing = true;
    await batched.close();
    expect(reported.at(-1)).toMatch(/not written at shutdown; reconcile/);
    await storage.close();
  });

  it('flushes on its own when many pairs wait', async () => {
    const storage = await createStorage({ sqlitePath: ':memory:' });
    const { ledger, state } = countingLedger(storage.usage);
    const batched = createBatchedLedger(ledger, { flushMs: 60_000, maxPending: 3 });
    for (const client of ['a', 'b', 'c']) {
      await batched.record({ clientName: client, model: 'm', promptTokens: 1, completionTokens: 1 });
    }
    expect(state.writes).toBe(3);
    await batched.close();
    await storage.close();
  });
});
