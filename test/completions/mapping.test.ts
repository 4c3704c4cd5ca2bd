import { describe, expect, it } from 'vitest';
import {
  argumentForParam,
  promptForms,
  toChoice,
  toCompletion,
  toFinishReason,
  toModel,
  toUsage,
  toWireRequest,
} from '../../src/completions/mapping.js';
import type { CompletionRequestInput } from '../../src/completions/model.js';
import type { WireChoice, WireCompletionResponse } from '../../src/upstream/wire.js';
import { recordedJson } from '../helpers/recorded.js';

/** GraphQL input → wire request and wire response → GraphQL objects, without a server. */

const base: CompletionRequestInput = { model: 'gpt-3.5-turbo-instruct', prompt: { text: 'Say hi' } };

describe('toWireRequest', () => {
  it('sends only model and prompt when nothing else is set, so the upstream applies its defaults', () => {
    expect(toWireRequest(base)).toEqual({ model: 'gpt-3.5-turbo-instruct', prompt: 'Say hi' });
  });

  it('treats null like absent for every optional argument', () => {
    const nulls: CompletionRequestInput = {
      ...base,
      suffix: null,
      maxTokens: null,
      temperature: null,
      topP: null,
      n: null,
      logprobs: null,
      echo: null,
      stop: null,
      presencePenalty: null,
      frequencyPenalty: null,
      bestOf: null,
      logitBias: null,
      user: null,
      seed: null,
      streamOptions: null,
      store: null,
    };
    expect(toWireRequest(nulls)).toEqual({ model: 'gpt-3.5-turbo-instruct', prompt: 'Say hi' });
  });

  it('maps every parameter to its snake_case wire name', () => {
    const stop = ['\n', 'END'];
    const wire = toWireRequest({
      ...base,
      suffix: ' after',
      maxTokens: 32,
      temperature: 0.7,
      topP: 0.9,
      n: 2,
      logprobs: 3,
      echo: true,
      stop,
      presencePenalty: -1.5,
      frequencyPenalty: 1.25,
      bestOf: 4,
      logitBias: [
        { token: 50256, bias: -100 },
        { token: 198, bias: 2.5 },
      ],
      user: 'user-1',
      seed: 42,
      streamOptions: { includeUsage: true },
    });
    expect(wire).toEqual({
      model: 'gpt-3.5-turbo-instruct',
      prompt: 'Say hi',
      suffix: ' after',
      max_tokens: 32,
      temperature: 0.7,
      top_p: 0.9,
      n: 2,
      logprobs: 3,
      echo: true,
      stop: ['\n', 'END'],
      presence_penalty: -1.5,
      frequency_penalty: 1.25,
      best_of: 4,
      logit_bias: { '50256': -100, '198': 2.5 },
      user: 'user-1',
      seed: 42,
      stream_options: { include_usage: true },
    });
    // A copy: the wire request never aliases the caller's arrays.
    expect(wire.stop).not.toBe(stop);
  });

  it('keeps falsy values that are real settings: 0, false, an empty suffix', () => {
    expect(
      toWireRequest({ ...base, maxTokens: 0, temperature: 0, echo: false, suffix: '', seed: 0 }),
    ).toEqual({
      model: 'gpt-3.5-turbo-instruct',
      prompt: 'Say hi',
      max_tokens: 0,
      temperature: 0,
      echo: false,
      suffix: '',
      seed: 0,
    });
  });

  it('sends stream_options only when includeUsage is given, false included', () => {
    expect(toWireRequest({ ...base, streamOptions: {} })).not.toHaveProperty('stream_options');
    expect(toWireRequest({ ...base, streamOptions: { includeUsage: null } })).not.toHaveProperty(
      'stream_options',
    );
    expect(toWireRequest({ ...base, streamOptions: { includeUsage: false } }).stream_options).toEqual({
      include_usage: false,
    });
  });

  it('sends an empty logit bias list as an empty map', () => {
    expect(toWireRequest({ ...base, logitBias: [] }).logit_bias).toEqual({});
  });

  it('never sends the store flag or stream itself: those are the service’s business', () => {
    const wire = toWireRequest({ ...base, store: true });
    expect(wire).not.toHaveProperty('store');
    expect(wire).not.toHaveProperty('stream');
  });

  describe('prompt forms', () => {
    it.each([
      ['text', { text: 'one' }, 'one'],
      ['an empty text', { text: '' }, ''],
      ['texts', { texts: ['a', 'b'] }, ['a', 'b']],
      ['tokens', { tokens: [1212, 318] }, [1212, 318]],
      ['token batches', { tokenBatches: [[1, 2], [3]] }, [[1, 2], [3]]],
    ])('%s', (_name, prompt, wire) => {
      expect(toWireRequest({ ...base, prompt }).prompt).toEqual(wire);
    });

    it('copies list prompts instead of aliasing them', () => {
      const batches = [[1, 2], [3]];
      const wire = toWireRequest({ ...base, prompt: { tokenBatches: batches } }).prompt as number[][];
      expect(wire).not.toBe(batches);
      expect(wire[0]).not.toBe(batches[0]);
    });

    it('falls back to the spec’s default prompt when no form is set', () => {
      expect(toWireRequest({ ...base, prompt: {} }).prompt).toBe('<|endoftext|>');
      expect(toWireRequest({ ...base, prompt: { text: null, texts: null } }).prompt).toBe('<|endoftext|>');
    });
  });
});

describe('promptForms', () => {
  it('lists the forms that are set, null and undefined being unset', () => {
    expect(promptForms({ text: 'a' })).toEqual(['text']);
    expect(promptForms({ text: 'a', tokens: [1] })).toEqual(['text', 'tokens']);
    expect(promptForms({ text: null, texts: undefined, tokens: null, tokenBatches: [[1]] })).toEqual([
      'tokenBatches',
    ]);
    expect(promptForms({})).toEqual([]);
  });

  it('counts an empty text or an empty list as set: emptiness is validation’s business', () => {
    expect(promptForms({ text: '' })).toEqual(['text']);
    expect(promptForms({ texts: [] })).toEqual(['texts']);
  });
});

describe('argumentForParam', () => {
  it.each([
    [undefined, 'input'],
    ['model', 'input.model'],
    ['prompt', 'input.prompt'],
    ['suffix', 'input.suffix'],
    ['max_tokens', 'input.maxTokens'],
    ['temperature', 'input.temperature'],
    ['top_p', 'input.topP'],
    ['n', 'input.n'],
    ['logprobs', 'input.logprobs'],
    ['echo', 'input.echo'],
    ['stop', 'input.stop'],
    ['presence_penalty', 'input.presencePenalty'],
    ['frequency_penalty', 'input.frequencyPenalty'],
    ['best_of', 'input.bestOf'],
    ['logit_bias', 'input.logitBias'],
    ['user', 'input.user'],
    ['seed', 'input.seed'],
    ['stream', 'input'],
    ['stream_options', 'input.streamOptions'],
    // Chat-style upstreams name the prompt `messages`.
    ['messages', 'input.prompt'],
  ])('%s → %s', (param, argument) => {
    expect(argumentForParam(param)).toBe(argument);
  });

  it('names the root parameter of a nested or indexed one', () => {
    expect(argumentForParam('logit_bias.50256')).toBe('input.logitBias');
    expect(argumentForParam('prompt[1]')).toBe('input.prompt');
    expect(argumentForParam('stream_options.include_usage')).toBe('input.streamOptions');
  });

  it('camelCases a parameter it does not know', () => {
    expect(argumentForParam('some_new_param')).toBe('input.someNewParam');
    expect(argumentForParam('plain')).toBe('input.plain');
  });
});

describe('toFinishReason', () => {
  it.each([
    [null, null],
    ['stop', 'STOP'],
    ['length', 'LENGTH'],
    ['content_filter', 'CONTENT_FILTER'],
    // Compatible servers invent their own words; the raw one is kept beside OTHER.
    ['abort', 'OTHER'],
    ['repetition', 'OTHER'],
    ['', 'OTHER'],
    ['STOP', 'OTHER'],
  ])('%j → %j', (raw, reason) => {
    expect(toFinishReason(raw)).toBe(reason);
  });
});

describe('toChoice', () => {
  const choice: WireChoice = { text: 'Hi', index: 2, logprobs: null, finish_reason: 'length' };

  it('keeps the text, the index and the raw finish reason beside the enum', () => {
    expect(toChoice(choice)).toEqual({
      text: 'Hi',
      index: 2,
      logprobs: null,
      finishReason: 'LENGTH',
      finishReasonRaw: 'length',
    });
    expect(toChoice({ ...choice, finish_reason: 'eos' })).toMatchObject({
      finishReason: 'OTHER',
      finishReasonRaw: 'eos',
    });
    expect(toChoice({ ...choice, finish_reason: null })).toMatchObject({
      finishReason: null,
      finishReasonRaw: null,
    });
  });

  it('maps logprobs, the top alternatives sorted from the most likely', () => {
    const mapped = toChoice({
      ...choice,
      logprobs: {
        tokens: ['Hi', '!'],
        token_logprobs: [null, -0.5],
        text_offset: [0, 2],
        top_logprobs: [null, { '?': -2, '!': -0.5, '.': -1 }],
      },
    });
    expect(mapped.logprobs).toEqual({
      tokens: ['Hi', '!'],
      tokenLogprobs: [null, -0.5],
      textOffset: [0, 2],
      topLogprobs: [
        null,
        [
          { token: '!', logprob: -0.5 },
          { token: '.', logprob: -1 },
          { token: '?', logprob: -2 },
        ],
      ],
    });
  });

  it('keeps a missing top_logprobs list as null', () => {
    const mapped = toChoice({
      ...choice,
      logprobs: { tokens: ['a'], token_logprobs: [-1], text_offset: [0], top_logprobs: null },
    });
    expect(mapped.logprobs?.topLogprobs).toBeNull();
  });

  it('maps an empty top map to an empty list', () => {
    const mapped = toChoice({
      ...choice,
      logprobs: { tokens: ['a'], token_logprobs: [-1], text_offset: [0], top_logprobs: [{}] },
    });
    expect(mapped.logprobs?.topLogprobs).toEqual([[]]);
  });
});

describe('toUsage', () => {
  it('is null when the upstream sent none', () => {
    expect(toUsage(undefined)).toBeNull();
    expect(toUsage(null)).toBeNull();
  });

  it('maps the counts as given (no total is recomputed) and absent details as null', () => {
    expect(toUsage({ prompt_tokens: 3, completion_tokens: 4, total_tokens: 8 })).toEqual({
      promptTokens: 3,
      completionTokens: 4,
      totalTokens: 8,
      promptTokensDetails: null,
      completionTokensDetails: null,
    });
    expect(
      toUsage({
        prompt_tokens: 1,
        completion_tokens: 1,
        total_tokens: 2,
        prompt_tokens_details: null,
        completion_tokens_details: null,
      }),
    ).toMatchObject({ promptTokensDetails: null, completionTokensDetails: null });
  });

  it('maps every detail, a missing one as null', () => {
    const usage = toUsage({
      prompt_tokens: 10,
      completion_tokens: 20,
      total_tokens: 30,
      prompt_tokens_details: { cached_tokens: 4, audio_tokens: 0 },
      completion_tokens_details: {
        reasoning_tokens: 5,
        accepted_prediction_tokens: 1,
        rejected_prediction_tokens: 2,
        text_tokens: 12,
      },
    });
    expect(usage?.promptTokensDetails).toEqual({
      audioTokens: 0,
      cachedTokens: 4,
      textTokens: null,
      imageTokens: null,
      cacheWriteTokens: null,
    });
    expect(usage?.completionTokensDetails).toEqual({
      acceptedPredictionTokens: 1,
      audioTokens: null,
      reasoningTokens: 5,
      rejectedPredictionTokens: 2,
      textTokens: 12,
    });
    const full = toUsage({
      prompt_tokens: 1,
      completion_tokens: 1,
      total_tokens: 2,
      prompt_tokens_details: { text_tokens: 1, image_tokens: 2, cache_write_tokens: 3 },
      completion_tokens_details: { audio_tokens: 7 },
    });
    expect(full?.promptTokensDetails).toMatchObject({ textTokens: 1, imageTokens: 2, cacheWriteTokens: 3 });
    expect(full?.completionTokensDetails).toMatchObject({ audioTokens: 7 });
  });
});

describe('toCompletion', () => {
  it('maps a recorded non-streamed body field by field', () => {
    const wire = recordedJson('openai-nonstream-basic.json') as WireCompletionResponse;
    expect(toCompletion(wire)).toEqual({
      id: 'cmpl-C47L3RG6ICY37W3Q0flVHr4BPTPMS',
      object: 'text_completion',
      created: 1755097557,
      model: 'gpt-3.5-turbo-instruct:20230824-v2',
      systemFingerprint: null,
      choices: [
        {
          text: '\n\nThe Toronto Raptors won the 2019 NBA Finals.',
          index: 0,
          logprobs: null,
          finishReason: 'STOP',
          finishReasonRaw: 'stop',
        },
      ],
      usage: {
        promptTokens: 10,
        completionTokens: 12,
        totalTokens: 22,
        promptTokensDetails: null,
        completionTokensDetails: null,
      },
    });
  });

  it('keeps the system fingerprint, and a streamed chunk without usage has usage null', () => {
    const chunk: WireCompletionResponse = {
      id: 'cmpl-1',
      object: 'text_completion',
      created: 1,
      model: 'm',
      system_fingerprint: 'fp_1',
      choices: [{ text: 'a', index: 0, logprobs: null, finish_reason: null }],
    };
    expect(toCompletion(chunk)).toMatchObject({ systemFingerprint: 'fp_1', usage: null });
    expect(toCompletion({ ...chunk, system_fingerprint: null }).systemFingerprint).toBeNull();
  });

  it('maps a usage-only chunk: no choices, only usage', () => {
    const completion = toCompletion({
      id: 'cmpl-1',
      object: 'text_completion',
      created: 1,
      model: 'm',
      choices: [],
      usage: { prompt_tokens: 3, completion_tokens: 6, total_tokens: 9 },
    });
    expect(completion.choices).toEqual([]);
    expect(completion.usage?.totalTokens).toBe(9);
  });
});

describe('toModel', () => {
  it('maps the listed fields', () => {
    expect(toModel({ id: 'davinci-002', object: 'model', created: 1692634301, owned_by: 'system' })).toEqual({
      id: 'davinci-002',
      object: 'model',
      created: 1692634301,
      ownedBy: 'system',
    });
  });

  it('turns a zero creation time and an empty owner (what checks fill in for missing ones) into null', () => {
    expect(toModel({ id: 'local', object: 'model', created: 0, owned_by: '' })).toEqual({
      id: 'local',
      object: 'model',
      created: null,
      ownedBy: null,
    });
  });
});
