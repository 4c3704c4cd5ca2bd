import { describe, expect, it } from 'vitest';
import {
  backoffDelayMs,
  isRetryableConnectionError,
  isRetryableStatus,
  nextRetryDelayMs,
  parseRetryAfterMs,
} from '../../src/upstream/retry.js';

const policy = { baseDelayMs: 500, maxDelayMs: 8_000, maxRetryAfterMs: 20_000 };

describe('retry policy', () => {
  it('retries only statuses that cannot have billed', () => {
    expect([429, 502, 503, 504].every(isRetryableStatus)).toBe(true);
    expect([400, 401, 403, 404, 408, 409, 422, 500, 501].some(isRetryableStatus)).toBe(false);
  });

  it('recognises connection failures by code, also on a cause', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
    expect(isRetryableConnectionError(refused)).toBe(true);
    expect(isRetryableConnectionError(new Error('fetch failed', { cause: refused }))).toBe(true);
    expect(isRetryableConnectionError(Object.assign(new Error('aborted'), { code: 'UND_ERR_ABORTED' }))).toBe(
      false,
    );
  });

  it('parses retry-after-ms, retry-after seconds and dates', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(parseRetryAfterMs({ 'retry-after-ms': '1500.5', 'retry-after': '9' }, now)).toBe(1500.5);
    expect(parseRetryAfterMs({ 'retry-after': '3' }, now)).toBe(3000);
    expect(parseRetryAfterMs({ 'retry-after': 'Thu, 01 Jan 2026 00:00:05 GMT' }, now)).toBe(5000);
    expect(parseRetryAfterMs({ 'retry-after': 'Wed, 31 Dec 2025 23:00:00 GMT' }, now)).toBe(0);
    expect(parseRetryAfterMs({ 'retry-after': 'soon' }, now)).toBeUndefined();
    expect(parseRetryAfterMs({ 'retry-after': '-4' }, now)).toBeUndefined();
    expect(parseRetryAfterMs({}, now)).toBeUndefined();
  });

  it('backs off exponentially with at most 25 % jitter, capped', () => {
    expect(backoffDelayMs(0, policy, () => 0)).toBe(500);
    expect(backoffDelayMs(1, policy, () => 0)).toBe(1000);
    expect(backoffDelayMs(2, policy, () => 1)).toBe(1500);
    expect(backoffDelayMs(10, policy, () => 0)).toBe(8000);
  });

  it('honours the upstream’s wait, but not past the cap or the deadline', () => {
    expect(nextRetryDelayMs({ retryIndex: 0, retryAfterMs: 2000, remainingMs: 10_000, policy })).toBe(2000);
    expect(
      nextRetryDelayMs({ retryIndex: 0, retryAfterMs: 30_000, remainingMs: 60_000, policy }),
    ).toBeUndefined();
    expect(
      nextRetryDelayMs({ retryIndex: 0, retryAfterMs: 2000, remainingMs: 1000, policy }),
    ).toBeUndefined();
    expect(
      nextRetryDelayMs({
        retryIndex: 0,
        retryAfterMs: undefined,
        remainingMs: 10_000,
        policy,
        random: () => 0,
      }),
    ).toBe(500);
  });
});
