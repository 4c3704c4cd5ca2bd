import type { UsageEntry, UsageLedger, UsageRecord } from './types.js';

/**
 * The usage ledger off the request path: records are summed in memory per (client, model) and
 * written as one upsert per pair every `flushMs` (or sooner when many pairs wait), instead of one
 * database write per paid call. A client reading its usage flushes first, so it always sees its
 * own calls. A failed write keeps its sums for the next flush; close() flushes what is left and
 * reports what could not be written, with the figures, for reconciliation.
 */

export interface BatchedLedgerOptions {
  flushMs?: number;
  /** Pairs waiting before a flush is started without waiting for the timer. */
  maxPending?: number;
  onError?: (message: string, details: Record<string, unknown>) => void;
}

export interface BatchedLedger extends UsageLedger {
  flush(): Promise<void>;
  /** Flushes and stops the timer; later records are written at once. */
  close(): Promise<void>;
}

type Sum = Required<Omit<UsageRecord, 'at' | 'firstAt'>> & { firstAt: Date; at: Date };

function merge(into: Map<string, Sum>, key: string, sum: Sum): void {
  const current = into.get(key);
  if (current === undefined) {
    into.set(key, sum);
    return;
  }
  current.requests += sum.requests;
  current.promptTokens += sum.promptTokens;
  current.completionTokens += sum.completionTokens;
  current.costUsd += sum.costUsd;
  current.unpricedRequests += sum.unpricedRequests;
  current.cachedRequests += sum.cachedRequests;
  if (sum.firstAt < current.firstAt) current.firstAt = sum.firstAt;
  if (sum.at > current.at) current.at = sum.at;
}

export function createBatchedLedger(inner: UsageLedger, options: BatchedLedgerOptions = {}): BatchedLedger {
  const flushMs = options.flushMs ?? 1_000;
  const maxPending = options.maxPending ?? 1_000;
  let pending = new Map<string, Sum>();
  let timer: NodeJS.Timeout | undefined;
  let flushing: Promise<void> = Promise.resolve();
  let closed = false;

  async function writeAll(batch: Map<string, Sum>): Promise<void> {
    for (const [key, sum] of batch) {
      try {
        await inner.record(sum);
      } catch (error) {
        // Kept for the next flush: usage is never dropped because the database blinked.
        merge(pending, key, sum);
        options.onError?.('usage ledger write failed; kept for the next flush', {
          err: error,
          clientName: sum.clientName,
          model: sum.model,
        });
      }
    }
  }

  function flush(): Promise<void> {
    if (timer !== undefined) {
      clearTimeout(timer);
      timer = undefined;
    }
    // One flush at a time, in order: the next starts after the one running.
    flushing = flushing.then(() => {
      if (pending.size === 0) return;
      const batch = pending;
      pending = new Map();
      return writeAll(batch);
    });
    return flushing;
  }

  return {
    async record(entry) {
      const at = entry.at ?? new Date();
      const sum: Sum = {
        clientName: entry.clientName,
        model: entry.model,
        requests: entry.requests ?? 1,
        promptTokens: entry.promptTokens,
        completionTokens: entry.completionTokens,
        costUsd: entry.costUsd ?? 0,
        unpricedRequests: entry.unpricedRequests ?? 0,
        cachedRequests: entry.cachedRequests ?? 0,
        firstAt: entry.firstAt ?? at,
        at,
      };
      merge(pending, `${entry.clientName}\u0000${entry.model}`, sum);
      if (closed || pending.size >= maxPending) await flush();
      else if (timer === undefined) {
        timer = setTimeout(() => void flush(), flushMs);
        timer.unref();
      }
    },

    async forClient(clientName): Promise<UsageEntry[]> {
      await flush();
      return inner.forClient(clientName);
    },

    flush,

    async close() {
      closed = true;
      await flush();
      for (const sum of pending.values()) {
        options.onError?.('usage ledger entries not written at shutdown; reconcile from this line', {
          ...sum,
        });
      }
    },
  };
}
