import { describe, expect, it } from 'vitest';
import { PendingWrites } from '../../src/completions/pending-writes.js';

/** A promise settled from outside, to order what a test waits for without timers. */
function deferred() {
  let resolve!: () => void;
  let reject!: (error: Error) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

describe('PendingWrites', () => {
  it('counts what is running and drains once all of it settled, failures included', async () => {
    const pending = new PendingWrites();
    const first = deferred();
    const second = deferred();
    pending.track(first.promise);
    pending.track(second.promise);
    expect(pending.size).toBe(2);
    let drained = false;
    const draining = pending.drain().then(() => {
      drained = true;
    });
    first.resolve();
    await first.promise;
    await Promise.resolve();
    expect(pending.size).toBe(1);
    expect(drained).toBe(false);
    second.reject(new Error('the database blinked'));
    await draining;
    expect(drained).toBe(true);
    expect(pending.size).toBe(0);
  });

  it('waits for work tracked while it drains (a retry started by a write that failed)', async () => {
    const pending = new PendingWrites();
    const write = deferred();
    const retry = deferred();
    pending.track(
      write.promise.then(() => {
        pending.track(retry.promise);
      }),
    );
    let drained = false;
    const draining = pending.drain().then(() => {
      drained = true;
    });
    write.resolve();
    await expect.poll(() => pending.size).toBe(1);
    expect(drained).toBe(false);
    retry.resolve();
    await draining;
    expect(drained).toBe(true);
  });

  it('drains at once when nothing runs, and cuts a retry pause short when draining starts', async () => {
    const pending = new PendingWrites();
    await pending.drain();
    const other = new PendingWrites();
    const paused = other.pause(60_000);
    await other.drain();
    await expect(paused).resolves.toBeUndefined();
    // Once draining, a pause does not wait at all.
    await expect(other.pause(60_000)).resolves.toBeUndefined();
  });
});
