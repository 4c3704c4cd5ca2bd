import { describe, expect, it } from 'vitest';
import {
  CircuitBreaker,
  isUpstreamHealthFailure,
  withCircuitBreaker,
} from '../../src/upstream/circuit-breaker.js';
import {
  UpstreamAbortedError,
  UpstreamBadResponseError,
  UpstreamCallerKeyError,
  UpstreamConfigurationError,
  UpstreamRateLimitError,
  UpstreamRequestError,
  UpstreamTimeoutError,
  UpstreamUnavailableError,
} from '../../src/upstream/errors.js';
import type { CompletionsProvider } from '../../src/upstream/provider.js';
import type { WireCompletionResponse } from '../../src/upstream/wire.js';

/** The breaker as a state machine on an injected clock: no timers, no network. */

const coolDownMs = 1_000;

function breakerAt(options: { windowSize?: number; minimumCalls?: number } = {}) {
  const clock = { now: 0 };
  const breaker = new CircuitBreaker({
    windowSize: options.windowSize ?? 4,
    minimumCalls: options.minimumCalls ?? 4,
    failureRatio: 0.5,
    coolDownMs,
    now: () => clock.now,
  });
  return { breaker, clock };
}

const unavailable = () => new UpstreamUnavailableError('5xx');
const fail = (breaker: CircuitBreaker, error: unknown = unavailable()) =>
  breaker.run(() => Promise.reject(error)).catch(() => undefined);
const succeed = (breaker: CircuitBreaker) => breaker.run(() => Promise.resolve('ok'));

async function openBreaker(breaker: CircuitBreaker) {
  for (let i = 0; i < 4; i++) await fail(breaker);
  expect(breaker.state).toBe('open');
}

describe('which errors count against the upstream', () => {
  it.each([
    ['5xx, refused or reset connections', unavailable(), true],
    ['timeouts', new UpstreamTimeoutError('t'), true],
    ['malformed or oversized bodies, cut streams', new UpstreamBadResponseError('b'), true],
    ['the caller’s bad request', new UpstreamRequestError('400'), false],
    ['the caller’s pass-through key refused', new UpstreamCallerKeyError('401'), false],
    ['429 (quota, retried and told with retryAfter)', new UpstreamRateLimitError('429'), false],
    ['our own configuration (the server key refused)', new UpstreamConfigurationError('401'), false],
    ['a cancelled call', new UpstreamAbortedError('gone'), false],
    ['a bug of ours', new TypeError('x'), false],
  ])('%s: %s', (_name, error, counts) => {
    expect(isUpstreamHealthFailure(error)).toBe(counts);
  });

  it('30 refused pass-through keys, 30 bad requests and 30 upstream 429s leave it closed', async () => {
    const { breaker } = breakerAt();
    for (let i = 0; i < 30; i++) {
      await fail(breaker, new UpstreamCallerKeyError('401'));
      await fail(breaker, new UpstreamRequestError('400'));
      await fail(breaker, new UpstreamRateLimitError('429'));
    }
    expect(breaker.state).toBe('closed');
  });
});

describe('opening', () => {
  it('needs the minimum number of calls', async () => {
    const { breaker } = breakerAt({ minimumCalls: 4 });
    for (let i = 0; i < 3; i++) await fail(breaker);
    expect(breaker.state).toBe('closed');
    await fail(breaker);
    expect(breaker.state).toBe('open');
  });

  it('opens at the failure ratio of the recent window, not before', async () => {
    const { breaker } = breakerAt({ windowSize: 4, minimumCalls: 4 });
    await succeed(breaker);
    await succeed(breaker);
    await succeed(breaker);
    await fail(breaker);
    expect(breaker.state).toBe('closed');
    // The window slides: the oldest success drops out, 2 of the last 4 failed.
    await fail(breaker);
    expect(breaker.state).toBe('open');
  });

  it('refuses at once while open, without calling the upstream', async () => {
    const { breaker } = breakerAt();
    await openBreaker(breaker);
    let calls = 0;
    await expect(breaker.run(async () => ++calls)).rejects.toMatchObject({ upstreamCode: 'circuit_open' });
    expect(calls).toBe(0);
  });

  it('ignores late outcomes of calls that began before it opened', async () => {
    const { breaker } = breakerAt();
    const early = breaker.tryAcquire();
    await openBreaker(breaker);
    early?.succeed();
    expect(breaker.state).toBe('open');
  });
});

describe('cool-down and the single probe', () => {
  it('is half-open after the cool-down; one probe at a time; a good probe closes it', async () => {
    const { breaker, clock } = breakerAt();
    await openBreaker(breaker);
    clock.now = coolDownMs - 1;
    expect(breaker.state).toBe('open');
    clock.now = coolDownMs;
    expect(breaker.state).toBe('half-open');
    const probe = breaker.tryAcquire();
    expect(probe).toBeDefined();
    expect(breaker.tryAcquire()).toBeUndefined();
    probe?.succeed();
    expect(breaker.state).toBe('closed');
    expect(breaker.tryAcquire()).toBeDefined();
  });

  it('a failed probe opens it for another cool-down', async () => {
    const { breaker, clock } = breakerAt();
    await openBreaker(breaker);
    clock.now = coolDownMs;
    await fail(breaker);
    expect(breaker.state).toBe('open');
    clock.now = 2 * coolDownMs - 1;
    expect(breaker.state).toBe('open');
    clock.now = 2 * coolDownMs;
    expect(breaker.state).toBe('half-open');
  });

  it('a probe that says nothing about the upstream frees the slot and leaves it half-open', async () => {
    const { breaker, clock } = breakerAt();
    await openBreaker(breaker);
    clock.now = coolDownMs;
    for (const error of [
      new UpstreamCallerKeyError('401'),
      new UpstreamRateLimitError('429'),
      new UpstreamRequestError('400'),
      new UpstreamAbortedError('gone'),
    ]) {
      await fail(breaker, error);
      expect(breaker.state).toBe('half-open');
      expect(breaker.tryAcquire()?.abandon()).toBeUndefined();
    }
  });

  it('settling a permit twice counts once', async () => {
    const { breaker, clock } = breakerAt();
    await openBreaker(breaker);
    clock.now = coolDownMs;
    const probe = breaker.tryAcquire();
    probe?.abandon();
    probe?.fail();
    expect(breaker.state).toBe('half-open');
  });
});

const chunk: WireCompletionResponse = {
  id: 'cmpl-1',
  object: 'text_completion',
  created: 1,
  model: 'm',
  system_fingerprint: null,
  choices: [{ text: 'a', index: 0, logprobs: null, finish_reason: null }],
  usage: null,
};

/** A provider whose stream yields the given chunks, then throws `end` when given. */
function streamingProvider(chunks: number, end?: Error): CompletionsProvider {
  return {
    name: 'fake',
    complete: () => Promise.reject(new Error('unused')),
    listModels: () => Promise.resolve([]),
    async *stream() {
      for (let i = 0; i < chunks; i++) yield chunk;
      if (end) throw end;
    },
  };
}

describe('streams', () => {
  const request = { model: 'm', prompt: 'p' };

  it('the probe is decided at the first chunk: a reader that stops does not hold the slot', async () => {
    const { breaker, clock } = breakerAt();
    await openBreaker(breaker);
    clock.now = coolDownMs;
    const iterator = withCircuitBreaker(streamingProvider(3), breaker)
      .stream(request)
      [Symbol.asyncIterator]();
    await iterator.next();
    // The reader now holds the generator suspended at `yield` and reads no further.
    expect(breaker.state).toBe('closed');
    expect(breaker.tryAcquire()).toBeDefined();
  });

  it('a probe whose caller leaves before the first chunk frees the slot', async () => {
    const { breaker, clock } = breakerAt();
    await openBreaker(breaker);
    clock.now = coolDownMs;
    const iterator = withCircuitBreaker(streamingProvider(0, new UpstreamAbortedError('gone')), breaker)
      .stream(request)
      [Symbol.asyncIterator]();
    await expect(iterator.next()).rejects.toBeInstanceOf(UpstreamAbortedError);
    expect(breaker.state).toBe('half-open');
    expect(breaker.tryAcquire()).toBeDefined();
  });

  it('an early return (unsubscribe) records nothing and frees nothing twice', async () => {
    const { breaker } = breakerAt({ minimumCalls: 2, windowSize: 2 });
    const iterator = withCircuitBreaker(streamingProvider(3), breaker)
      .stream(request)
      [Symbol.asyncIterator]();
    await iterator.next();
    await iterator.return?.(undefined);
    // Had the stream been recorded, this failure would make 2 outcomes, half failed: open.
    await fail(breaker);
    expect(breaker.state).toBe('closed');
  });

  it('a stream that fails after it started counts as a failure', async () => {
    const { breaker } = breakerAt({ minimumCalls: 1, windowSize: 1 });
    const stream = withCircuitBreaker(
      streamingProvider(2, new UpstreamBadResponseError('cut')),
      breaker,
    ).stream(request);
    await expect(async () => {
      for await (const _ of stream) {
      }
    }).rejects.toBeInstanceOf(UpstreamBadResponseError);
    expect(breaker.state).toBe('open');
  });

  it('a probe stream that answered, then broke, closed the circuit and put one failure in the new window', async () => {
    const { breaker, clock } = breakerAt({ minimumCalls: 2, windowSize: 2 });
    for (let i = 0; i < 2; i++) await fail(breaker);
    clock.now = coolDownMs;
    const stream = withCircuitBreaker(streamingProvider(1, new UpstreamTimeoutError('idle')), breaker).stream(
      request,
    );
    await expect(async () => {
      for await (const _ of stream) {
      }
    }).rejects.toBeInstanceOf(UpstreamTimeoutError);
    expect(breaker.state).toBe('closed');
    await fail(breaker);
    expect(breaker.state).toBe('open');
  });

  it('a probe stream refused before answering reopens the circuit', async () => {
    const { breaker, clock } = breakerAt();
    await openBreaker(breaker);
    clock.now = coolDownMs;
    const stream = withCircuitBreaker(streamingProvider(0, unavailable()), breaker).stream(request);
    await expect(async () => {
      for await (const _ of stream) {
      }
    }).rejects.toBeInstanceOf(UpstreamUnavailableError);
    expect(breaker.state).toBe('open');
  });
});
