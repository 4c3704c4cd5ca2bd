import { beforeAll, describe, expect, it } from 'vitest';
import type { LocalProvider } from '../../src/local/provider.js';
import { encodeText } from '../../src/local/tokenizer.js';
import { UpstreamRequestError } from '../../src/upstream/errors.js';
import type { WireCompletionRequest, WireCompletionResponse, WireLogprobs } from '../../src/upstream/wire.js';
import { localProvider } from './shared-provider.js';

let provider: LocalProvider;
beforeAll(async () => {
  provider = await localProvider();
});

async function complete(req: Omit<WireCompletionRequest, 'model'>): Promise<WireCompletionResponse> {
  return (await provider.complete({ model: provider.modelId, ...req })).response;
}

function first(res: WireCompletionResponse) {
  const choice = res.choices[0];
  if (choice === undefined) throw new Error('no choice');
  return choice;
}

function logprobsOf(res: WireCompletionResponse, i = 0): WireLogprobs {
  const lp = res.choices[i]?.logprobs;
  if (!lp) throw new Error('no logprobs');
  return lp;
}

async function refusal(
  req: Omit<WireCompletionRequest, 'model'> & { model?: string },
): Promise<UpstreamRequestError> {
  const err = await provider.complete({ model: provider.modelId, ...req }).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(UpstreamRequestError);
  return err as UpstreamRequestError;
}

describe('local engine: request handling', () => {
  it('lists its model in OpenAI model-object shape', async () => {
    const models = await provider.listModels();
    expect(models).toEqual([
      { id: 'local-ngram-moby-dick', object: 'model', created: expect.any(Number), owned_by: 'local' },
    ]);
  });

  it('answers in the OpenAI response shape', async () => {
    const res = await complete({ prompt: 'Call me Ishmael.', max_tokens: 5, seed: 1 });
    expect(res.id).toMatch(/^cmpl-[A-Za-z0-9]{24}$/);
    expect(res).toMatchObject({ object: 'text_completion', model: provider.modelId });
    expect(res.system_fingerprint).toMatch(/^fp_local_[0-9a-f]{10}$/);
    expect(Math.abs(res.created - Date.now() / 1000)).toBeLessThan(5);
    expect(first(res)).toEqual({
      text: expect.any(String),
      index: 0,
      logprobs: null,
      finish_reason: 'length',
    });
    expect(res.usage).toEqual({ prompt_tokens: 6, completion_tokens: 5, total_tokens: 11 });
  });

  it('refuses an unknown model like OpenAI (model_not_found)', async () => {
    const err = await refusal({ model: 'gpt-4', prompt: 'x' });
    expect(err).toMatchObject({ param: 'model', upstreamCode: 'model_not_found' });
    expect(err.message).toBe('The model `gpt-4` does not exist or you do not have access to it.');
  });

  it.each<[Omit<WireCompletionRequest, 'model'>, string]>([
    [{ prompt: 'x', suffix: 'end' }, 'suffix'],
    [{ prompt: 'x', best_of: 2, stream: true }, 'best_of'],
    [{ prompt: 'x', n: 3, best_of: 2 }, 'best_of'],
    [{ prompt: 'x', max_tokens: 2048 }, 'max_tokens'],
    [{ prompt: [1, 100256] }, 'prompt'],
    [{ prompt: [[5], [-1]] }, 'prompt'],
    [{ prompt: 'x', logit_bias: { abc: 1 } }, 'logit_bias'],
  ])('refuses %j (param %s)', async (req, param) => {
    const err = await (req.stream
      ? (async () => {
          for await (const _ of provider.stream({ model: provider.modelId, ...req })) void _;
        })().catch((e: unknown) => e)
      : refusal(req));
    expect(err).toBeInstanceOf(UpstreamRequestError);
    expect((err as UpstreamRequestError).param).toBe(param);
  });

  it('states the context limit like OpenAI', async () => {
    const err = await refusal({ prompt: 'Call me Ishmael.', max_tokens: 2044 });
    expect(err.message).toBe(
      "This model's maximum context length is 2048 tokens, however you requested 2050 tokens " +
        '(6 in your prompt; 2044 for the completion). Please reduce your prompt; or completion length.',
    );
    // Past the window on its own: the max_tokens asked for, not the window it was cut to.
    const past = await refusal({ prompt: 'Call me Ishmael.', max_tokens: 16_000 });
    expect(past.message).toBe(
      "This model's maximum context length is 2048 tokens, however you requested 16006 tokens " +
        '(6 in your prompt; 16000 for the completion). Please reduce your prompt; or completion length.',
    );
  });
});

describe('local engine: parameters', () => {
  it('respects max_tokens and finishes with length', async () => {
    for (const max of [1, 7, 40]) {
      const res = await complete({
        prompt: 'The whale',
        max_tokens: max,
        logprobs: 0,
        seed: max,
        temperature: 1,
      });
      const choice = first(res);
      expect(logprobsOf(res).tokens.length).toBeLessThanOrEqual(max);
      expect(res.usage?.completion_tokens).toBeLessThanOrEqual(max);
      if (choice.finish_reason === 'length') expect(res.usage?.completion_tokens).toBe(max);
    }
  });

  it('defaults max_tokens to 16', async () => {
    const res = await complete({ prompt: 'and the', temperature: 0 });
    expect(res.usage?.completion_tokens).toBe(16);
  });

  it('never returns a stop sequence, even one spanning token boundaries', async () => {
    const base = await complete({ prompt: 'Call me', max_tokens: 40, temperature: 0, logprobs: 0 });
    const { text } = first(base);
    const offsets = logprobsOf(base).text_offset;
    // A stop made of the end of one token and the start of the next.
    const boundary = offsets[4] as number;
    const stop = text.slice(boundary - 2, boundary + 2);
    const cut = await complete({ prompt: 'Call me', max_tokens: 40, temperature: 0, stop: [stop] });
    expect(first(cut).text).toBe(text.slice(0, text.indexOf(stop)));
    expect(first(cut).finish_reason).toBe('stop');

    for (let seed = 0; seed < 12; seed++) {
      const stops = [' the', ',', 'e w'];
      const res = await complete({ prompt: 'The sea', max_tokens: 30, seed, stop: stops, n: 2 });
      for (const choice of res.choices) for (const s of stops) expect(choice.text).not.toContain(s);
    }
  });

  it('echoes the prompt with exact offsets and a null first logprob', async () => {
    const prompt = 'Call me Ishmael—“whale”';
    const res = await complete({ prompt, echo: true, max_tokens: 10, logprobs: 3, seed: 3 });
    const choice = first(res);
    const lp = logprobsOf(res);
    expect(choice.text.startsWith(prompt)).toBe(true);
    expect(lp.token_logprobs[0]).toBeNull();
    expect(lp.top_logprobs?.[0]).toBeNull();
    expect(lp.tokens.length).toBe(encodeText(prompt).length + (res.usage?.completion_tokens ?? 0));
    const misplaced = lp.tokens.filter((token, i) => !choice.text.slice(lp.text_offset[i]).startsWith(token));
    expect(misplaced).toEqual([]);
    expect(lp.text_offset).toEqual([...lp.text_offset].sort((a, b) => a - b));
  });

  it('allows max_tokens 0 with echo', async () => {
    const res = await complete({ prompt: 'Whales', echo: true, max_tokens: 0 });
    expect(first(res)).toMatchObject({ text: 'Whales', finish_reason: 'length' });
    expect(res.usage?.completion_tokens).toBe(0);
  });

  it('reports top_logprobs sorted, at most logprobs+1 entries, including the chosen token', async () => {
    for (const logprobs of [0, 1, 5]) {
      const res = await complete({ prompt: 'The whale', max_tokens: 20, logprobs, seed: 11 });
      const lp = logprobsOf(res);
      lp.tokens.forEach((token, i) => {
        const top = lp.top_logprobs?.[i];
        if (!top) throw new Error('missing top_logprobs');
        expect(Object.keys(top).length).toBeLessThanOrEqual(logprobs + 1);
        expect(top[token]).toBe(lp.token_logprobs[i]);
        // JS objects list integer-like keys first; the rest keeps the descending order built.
        const values = Object.entries(top)
          .filter(([k]) => !/^\d+$/.test(k))
          .map(([, v]) => v);
        expect(values).toEqual([...values].sort((a, b) => b - a));
        for (const v of Object.values(top)) expect(v).toBeLessThanOrEqual(0);
      });
    }
  });

  it('is greedy at temperature 0: every chosen token is the most likely one', async () => {
    const res = await complete({ prompt: 'The whale', max_tokens: 20, logprobs: 1, temperature: 0 });
    const lp = logprobsOf(res);
    lp.tokens.forEach((_, i) => {
      expect(lp.token_logprobs[i]).toBe(Math.max(...Object.values(lp.top_logprobs?.[i] ?? {})));
    });
    const tiny = await complete({ prompt: 'The whale', max_tokens: 20, temperature: 1, top_p: 0, seed: 5 });
    expect(first(tiny).text).toBe(first(res).text);
  });

  it('is deterministic per seed and differs between seeds', async () => {
    const req = { prompt: 'It was', max_tokens: 30, temperature: 1 };
    const a = await complete({ ...req, seed: 42 });
    const b = await complete({ ...req, seed: 42 });
    const c = await complete({ ...req, seed: 43 });
    const d = await complete(req);
    const e = await complete(req);
    expect(first(a).text).toBe(first(b).text);
    expect(first(a).text).not.toBe(first(c).text);
    expect(first(d).text).not.toBe(first(e).text);
  });

  it('applies logit_bias: -100 bans a token, +100 forces one', async () => {
    const greedy = await complete({ prompt: 'and the', max_tokens: 20, temperature: 0, logprobs: 0 });
    const favourite = encodeText(logprobsOf(greedy).tokens[0] as string)[0] as number;
    for (let seed = 0; seed < 5; seed++) {
      const banned = await complete({
        prompt: 'and the',
        max_tokens: 20,
        seed,
        logprobs: 0,
        logit_bias: { [favourite]: -100 },
      });
      expect(logprobsOf(banned).tokens).not.toContain(logprobsOf(greedy).tokens[0]);
    }
    expect(encodeText(' whale')).toHaveLength(1);
    const forcedId = encodeText(' whale')[0] as number;
    const forced = await complete({
      prompt: 'and the',
      max_tokens: 8,
      seed: 1,
      logprobs: 0,
      logit_bias: { [forcedId]: 100 },
    });
    expect(first(forced).text).toBe(' whale'.repeat(8));
  });

  it('penalises repetition with frequency_penalty', async () => {
    const distinct = (res: WireCompletionResponse) => new Set(logprobsOf(res).tokens).size;
    const plain = await complete({ prompt: 'and the', max_tokens: 60, temperature: 0, logprobs: 0 });
    const penalised = await complete({
      prompt: 'and the',
      max_tokens: 60,
      temperature: 0,
      logprobs: 0,
      frequency_penalty: 2,
    });
    expect(distinct(penalised)).toBeGreaterThan(distinct(plain) + 10);
  });

  it('indexes choices promptIndex * n + i and bills every best_of candidate', async () => {
    const res = await complete({
      prompt: ['The sea', 'Ahab'],
      n: 2,
      best_of: 3,
      max_tokens: 6,
      seed: 9,
      logprobs: 0,
    });
    expect(res.choices.map((c) => c.index)).toEqual([0, 1, 2, 3]);
    expect(res.usage?.prompt_tokens).toBe(encodeText('The sea').length + encodeText('Ahab').length);
    const returned = res.choices.reduce((sum, c) => sum + (c.logprobs?.tokens.length ?? 0), 0);
    expect(res.usage?.completion_tokens).toBeGreaterThan(returned);
    // best_of keeps the candidates with the best mean logprob, best first.
    const mean = (i: number) => {
      const lps = logprobsOf(res, i).token_logprobs as number[];
      return lps.reduce((a, b) => a + b, 0) / lps.length;
    };
    expect(mean(0)).toBeGreaterThanOrEqual(mean(1));
  });

  it('accepts every prompt form', async () => {
    const ids = encodeText('The whale');
    const forms: WireCompletionRequest['prompt'][] = [
      'The whale',
      ['The whale', 'Ahab'],
      ids,
      [ids, ids, ids],
    ];
    const counts = [];
    for (const prompt of forms) {
      const res = await complete({ prompt, max_tokens: 2, n: 2, seed: 1 });
      counts.push(res.choices.length);
    }
    expect(counts).toEqual([2, 4, 2, 6]);
  });
});
