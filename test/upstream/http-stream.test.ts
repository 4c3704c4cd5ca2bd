import { PassThrough } from 'node:stream';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { CallDeadline } from '../../src/upstream/deadline.js';
import { UpstreamBadResponseError, UpstreamCallerKeyError } from '../../src/upstream/errors.js';
import { type StreamCompletionArgs, streamCompletion } from '../../src/upstream/http-stream.js';

/** The streamed call over a fake socket: size caps, the idle clock, errors inside the stream. */

const event = (text: string, finish: string | null = null) =>
  `data: ${JSON.stringify({ id: 'cmpl-1', object: 'text_completion', created: 1, model: 'm', choices: [{ text, index: 0, logprobs: null, finish_reason: finish }] })}\n\n`;

/** A body that behaves as undici's does: destroyed when the call's signal aborts. */
function fakeUpstream(overrides: Partial<StreamCompletionArgs> = {}) {
  const body = new PassThrough();
  const args: StreamCompletionArgs = {
    wire: { model: 'm', prompt: 'p' },
    callOptions: {},
    timeouts: { firstByteMs: 1_000, idleMs: 1_000, totalMs: 60_000 },
    secrets: [],
    open: async (_body: string, deadline: CallDeadline) => {
      deadline.signal.addEventListener('abort', () => body.destroy(new Error('aborted')), { once: true });
      return { status: 200, headers: { 'content-type': 'text/event-stream' }, body, requestId: 'req_s' };
    },
    ...overrides,
  };
  return { body, stream: streamCompletion(args) };
}

async function drain(stream: AsyncIterable<unknown>): Promise<number> {
  let count = 0;
  for await (const _ of stream) count++;
  return count;
}

afterEach(() => {
  vi.useRealTimers();
});

describe('streamCompletion caps', () => {
  it('a stream past maxBytes is UPSTREAM_BAD_RESPONSE and its connection is closed', async () => {
    const { body, stream } = fakeUpstream({ maxBytes: 4_096 });
    const reading = drain(stream);
    for (let i = 0; i < 100 && !body.destroyed; i++) body.write(event('x'.repeat(100)));
    await expect(reading).rejects.toThrow(UpstreamBadResponseError);
    await expect(reading).rejects.toThrow(/larger than 4096 bytes/);
    expect(body.destroyed).toBe(true);
  });

  it('a line past maxLineBytes is UPSTREAM_BAD_RESPONSE and its connection is closed', async () => {
    const { body, stream } = fakeUpstream({ maxLineBytes: 1_024 });
    const reading = drain(stream);
    body.write(event('fine'));
    for (let i = 0; i < 100 && !body.destroyed; i++) body.write('x'.repeat(100));
    await expect(reading).rejects.toThrow(UpstreamBadResponseError);
    await expect(reading).rejects.toMatchObject({ requestId: 'req_s' });
    expect(body.destroyed).toBe(true);
  });

  it('a stream within the caps is read whole', async () => {
    const { body, stream } = fakeUpstream({ maxBytes: 4_096, maxLineBytes: 1_024 });
    body.end(`${event('a')}${event('b', 'stop')}data: [DONE]\n\n`);
    expect(await drain(stream)).toBe(2);
  });
});

describe('the idle clock', () => {
  it('stops while the caller holds a chunk: a slow reader is not an upstream timeout', async () => {
    vi.useFakeTimers();
    const { body, stream } = fakeUpstream();
    const iterator = stream[Symbol.asyncIterator]();
    body.write(event('a'));
    expect((await iterator.next()).value?.choices[0]?.text).toBe('a');
    // The caller sits on the chunk for ten idle periods.
    await vi.advanceTimersByTimeAsync(10_000);
    expect(body.destroyed).toBe(false);
    body.end(`${event('b', 'stop')}data: [DONE]\n\n`);
    expect((await iterator.next()).value?.choices[0]?.text).toBe('b');
    expect((await iterator.next()).done).toBe(true);
  });

  it('still fires while the upstream is silent', async () => {
    vi.useFakeTimers();
    const { body, stream } = fakeUpstream();
    const iterator = stream[Symbol.asyncIterator]();
    body.write(event('a'));
    await iterator.next();
    const next = iterator.next();
    const outcome = expect(next).rejects.toMatchObject({ name: 'UpstreamTimeoutError' });
    await vi.advanceTimersByTimeAsync(1_001);
    await outcome;
  });
});

describe('errors inside the stream', () => {
  it('an error event refusing the caller’s pass-through key is theirs to fix', async () => {
    const { body, stream } = fakeUpstream({ callOptions: { apiKey: 'sk-caller-0123456789' } });
    body.end(`data: ${JSON.stringify({ error: { message: 'Incorrect API key provided', code: 401 } })}\n\n`);
    await expect(drain(stream)).rejects.toBeInstanceOf(UpstreamCallerKeyError);
  });
});
