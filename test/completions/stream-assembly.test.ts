import { describe, expect, it } from 'vitest';
import { toCompletion } from '../../src/completions/mapping.js';
import type { Completion, CompletionChoice, CompletionLogprobs } from '../../src/completions/model.js';
import { StreamAssembly } from '../../src/completions/stream-assembly.js';
import type { WireCompletionResponse } from '../../src/upstream/wire.js';
import { recorded } from '../helpers/recorded.js';

/** Streamed events folded back into the completion a non-streamed call would have returned. */

function event(choices: Partial<CompletionChoice>[], usage: Completion['usage'] = null): Completion {
  return {
    id: 'cmpl-1',
    object: 'text_completion',
    created: 1,
    model: 'm',
    systemFingerprint: null,
    choices: choices.map((c) => ({
      text: '',
      index: 0,
      logprobs: null,
      finishReason: null,
      finishReasonRaw: null,
      ...c,
    })),
    usage,
  };
}

const usage = {
  promptTokens: 3,
  completionTokens: 6,
  totalTokens: 9,
  promptTokensDetails: null,
  completionTokensDetails: null,
};

function assemble(events: Completion[]): Completion | undefined {
  const assembly = new StreamAssembly();
  for (const e of events) assembly.add(e);
  return assembly.result();
}

describe('StreamAssembly', () => {
  it('has no result before the first event', () => {
    expect(new StreamAssembly().result()).toBeUndefined();
  });

  it('folds the recorded basic stream into one choice with its text and finish reason', () => {
    const events = recorded('openai-stream-basic.sse')
      .split('\n\n')
      .filter((block) => block.startsWith('data: {'))
      .map((block) => toCompletion(JSON.parse(block.slice('data: '.length)) as WireCompletionResponse));
    expect(events).toHaveLength(7);
    expect(assemble(events)).toEqual({
      ...events[0],
      choices: [
        {
          text: 'The answer is 4.',
          index: 0,
          logprobs: null,
          finishReason: 'STOP',
          finishReasonRaw: 'stop',
        },
      ],
    });
  });

  it('keeps the first event’s id, model and creation time', () => {
    const first = { ...event([{ text: 'a' }]), id: 'cmpl-first', model: 'm-1', created: 10 };
    const later = { ...event([{ text: 'b' }]), id: 'cmpl-later', model: 'm-2', created: 20 };
    expect(assemble([first, later])).toMatchObject({ id: 'cmpl-first', model: 'm-1', created: 10 });
  });

  it('joins text per choice index, interleaved, and sorts the choices by index', () => {
    const result = assemble([
      event([{ index: 1, text: 'B1' }]),
      event([{ index: 0, text: 'A1' }]),
      event([
        { index: 1, text: 'B2' },
        { index: 0, text: 'A2' },
      ]),
      event([{ index: 0, text: '', finishReason: 'LENGTH', finishReasonRaw: 'length' }]),
      event([{ index: 1, text: '', finishReason: 'STOP', finishReasonRaw: 'stop' }]),
    ]);
    expect(result?.choices.map((c) => [c.index, c.text, c.finishReason, c.finishReasonRaw])).toEqual([
      [0, 'A1A2', 'LENGTH', 'length'],
      [1, 'B1B2', 'STOP', 'stop'],
    ]);
  });

  it('keeps a finish reason that a later piece without one does not erase', () => {
    const result = assemble([
      event([{ text: 'a', finishReason: 'STOP', finishReasonRaw: 'stop' }]),
      // An upstream that repeats its final chunk, or sends one more empty piece.
      event([{ text: '' }]),
    ]);
    expect(result?.choices[0]).toMatchObject({ text: 'a', finishReason: 'STOP', finishReasonRaw: 'stop' });
  });

  it('takes the last finish reason when several come', () => {
    const result = assemble([
      event([{ text: 'a', finishReason: 'OTHER', finishReasonRaw: 'abort' }]),
      event([{ text: 'b', finishReason: 'LENGTH', finishReasonRaw: 'length' }]),
    ]);
    expect(result?.choices[0]).toMatchObject({
      text: 'ab',
      finishReason: 'LENGTH',
      finishReasonRaw: 'length',
    });
  });

  it('takes usage from the usage event (no choices) without adding a choice', () => {
    const result = assemble([
      event([{ text: 'a', finishReason: 'STOP', finishReasonRaw: 'stop' }]),
      event([], usage),
    ]);
    expect(result?.usage).toEqual(usage);
    expect(result?.choices).toHaveLength(1);
  });

  it('leaves usage null when no event carries it', () => {
    expect(assemble([event([{ text: 'a' }])])?.usage).toBeNull();
  });

  it('concatenates logprobs piece by piece', () => {
    const lp = (token: string, logprob: number, offset: number): CompletionLogprobs => ({
      tokens: [token],
      tokenLogprobs: [logprob],
      textOffset: [offset],
      topLogprobs: [[{ token, logprob }]],
    });
    const result = assemble([
      event([{ text: 'a', logprobs: lp('a', -1, 0) }]),
      event([{ text: 'b', logprobs: lp('b', -2, 1) }]),
      event([{ text: 'c', logprobs: lp('c', -3, 2) }]),
    ]);
    expect(result?.choices[0]?.logprobs).toEqual({
      tokens: ['a', 'b', 'c'],
      tokenLogprobs: [-1, -2, -3],
      textOffset: [0, 1, 2],
      topLogprobs: [
        [{ token: 'a', logprob: -1 }],
        [{ token: 'b', logprob: -2 }],
        [{ token: 'c', logprob: -3 }],
      ],
    });
  });

  it('keeps topLogprobs as they were when a piece has none', () => {
    const result = assemble([
      event([
        { text: 'a', logprobs: { tokens: ['a'], tokenLogprobs: [-1], textOffset: [0], topLogprobs: null } },
      ]),
      event([
        {
          text: 'b',
          logprobs: {
            tokens: ['b'],
            tokenLogprobs: [-2],
            textOffset: [1],
            topLogprobs: [[{ token: 'b', logprob: -2 }]],
          },
        },
      ]),
    ]);
    expect(result?.choices[0]?.logprobs).toEqual({
      tokens: ['a', 'b'],
      tokenLogprobs: [-1, -2],
      textOffset: [0, 1],
      topLogprobs: null,
    });
  });

  it('never changes the events it was given', () => {
    const logprobs: CompletionLogprobs = {
      tokens: ['a'],
      tokenLogprobs: [-1],
      textOffset: [0],
      topLogprobs: null,
    };
    const first = event([{ text: 'a', logprobs }]);
    const snapshot = structuredClone(first);
    assemble([
      first,
      event([
        {
          text: 'b',
          logprobs: { tokens: ['b'], tokenLogprobs: [-2], textOffset: [1], topLogprobs: null },
          finishReason: 'STOP',
          finishReasonRaw: 'stop',
        },
      ]),
      event([], usage),
    ]);
    expect(first).toEqual(snapshot);
  });

  it('can be read more than once, and further events still count', () => {
    const assembly = new StreamAssembly();
    assembly.add(event([{ text: 'a' }]));
    expect(assembly.result()?.choices[0]?.text).toBe('a');
    assembly.add(event([{ text: 'b' }]));
    expect(assembly.result()?.choices[0]?.text).toBe('ab');
  });
});
