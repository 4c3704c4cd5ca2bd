import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadOrBuildModel } from '../../src/local/model-store.js';
import type { NgramModel } from '../../src/local/ngram-model.js';
import { candidateRng } from '../../src/local/rng.js';
import { Sampler, type SamplingSettings } from '../../src/local/sampler.js';
import { EOT, encodeText, isVocabToken, VOCAB_ARRAY_SIZE } from '../../src/local/tokenizer.js';
import { localProvider } from './shared-provider.js';

let model: NgramModel;

beforeAll(async () => {
  model = (await localProvider()).model;
});

const plain: SamplingSettings = {
  temperature: 1,
  topP: 1,
  bias: new Map(),
  presencePenalty: 0,
  frequencyPenalty: 0,
  topLogprobs: 5,
};

/** Contexts a client could send: corpus phrases, chapter starts, unseen tokens, random ids. */
function sampleContexts(): number[][] {
  const rng = candidateRng([7, 7], 0, 0);
  const contexts = [
    [],
    [EOT],
    encodeText('Call me Ishmael. Some years ago'),
    encodeText('the white whale'),
    encodeText('Captain Ahab'),
    encodeText('GraphQL federation subgraph'),
    encodeText(' and the'),
  ];
  for (let i = 0; i < 12; i++) {
    const len = 1 + Math.floor(rng() * 6);
    contexts.push(Array.from({ length: len }, () => Math.floor(rng() * 100256)));
  }
  return contexts;
}

describe('n-gram model probabilities', () => {
  it('sums to 1 over the whole vocabulary for every context', () => {
    for (const context of sampleContexts()) {
      const dist = model.distribution(context);
      let sum = 0;
      for (const p of dist) sum += p;
      expect(Math.abs(sum - 1)).toBeLessThan(1e-9);
    }
  });

  it('gives every vocabulary token a positive probability and non-tokens none', () => {
    const dist = model.distribution(encodeText('the whale'));
    const wrong: number[] = [];
    for (let t = 0; t < VOCAB_ARRAY_SIZE; t++) {
      if (isVocabToken(t) !== (dist[t] as number) > 0) wrong.push(t);
    }
    expect(wrong).toEqual([]);
  });

  it('keeps unseen tokens negligible: their total mass is at most 1e-9', () => {
    const dist = model.distribution(encodeText('Ahab said'));
    let unseen = 0;
    for (const t of model.arrays.unseen) unseen += dist[t] as number;
    expect(unseen).toBeGreaterThan(0);
    expect(unseen).toBeLessThanOrEqual(1e-9 * (1 + 1e-9));
  });

  it('reports, without bias, exactly the dense logprob of each token (sparse path = dense path)', () => {
    const sampler = new Sampler(model, plain);
    const rng = candidateRng([1, 1], 0, 0);
    for (const context of sampleContexts()) {
      const dist = model.distribution(context);
      const hist = [EOT, ...context];
      const probe = [
        ...model.arrays.seenSorted.subarray(0, 3),
        model.arrays.unseen[0] ?? 0,
        encodeText(' whale')[0] ?? 0,
      ];
      const best = Array.from(dist.keys())
        .sort((a, b) => (dist[b] as number) - (dist[a] as number))
        .slice(0, 5);
      for (const token of probe) {
        const { logprob, top } = sampler.step(hist, hist.length, null, rng, token);
        expect(logprob).toBeCloseTo(Math.log(dist[token] as number), 9);
        expect(top?.slice(0, 5).map(([t]) => t)).toEqual(best);
      }
    }
  });

  it('samples only inside the nucleus of the dense distribution, in proportion (top_p)', () => {
    const contexts = [
      encodeText('The'),
      encodeText('Call me Ishmael. Some years ago'),
      encodeText(' and the'),
      encodeText('GraphQL federation subgraph'),
    ];
    const cases = [
      { temperature: 1, topP: 0.9 },
      { temperature: 0.7, topP: 0.5 },
      { temperature: 1.3, topP: 0.99 },
    ];
    for (const context of contexts) {
      const dist = model.distribution(context);
      const hist = [EOT, ...context];
      const order = Array.from(dist.keys())
        .filter((t) => (dist[t] as number) > 0)
        .sort((a, b) => (dist[b] as number) - (dist[a] as number));
      for (const { temperature, topP } of cases) {
        // The reference: weights p^(1/T), largest first, kept until their mass reaches topP.
        const weight = (t: number) => (dist[t] as number) ** (1 / temperature);
        let total = 0;
        for (const t of order) total += weight(t);
        let kept = 0;
        let cut = 0;
        for (const t of order) {
          kept += weight(t);
          cut = weight(t);
          if (kept >= topP * total) break;
        }
        const top = order[0] as number;
        const sampler = new Sampler(model, { ...plain, temperature, topP, topLogprobs: -1 });
        const rng = candidateRng([3, temperature * 10], 0, 0);
        const draws = 1500;
        let topCount = 0;
        const outside: number[] = [];
        for (let i = 0; i < draws; i++) {
          const { token } = sampler.step(hist, hist.length, null, rng);
          if (weight(token) < cut * (1 - 1e-9)) outside.push(token);
          if (token === top) topCount++;
        }
        expect(outside).toEqual([]);
        // The most likely token is drawn with its share of the nucleus (4 standard deviations).
        const share = weight(top) / kept;
        const sd = Math.sqrt((share * (1 - share)) / draws);
        expect(Math.abs(topCount / draws - share)).toBeLessThan(4 * sd + 1e-3);
      }
    }
  });

  it('renormalises over the whole vocabulary after logit_bias', () => {
    const boosted = encodeText(' harpoon')[0] as number;
    const banned = encodeText(' the')[0] as number;
    const bias = new Map([
      [boosted, 3],
      [banned, -100],
    ]);
    const sampler = new Sampler(model, { ...plain, bias });
    const context = [EOT, ...encodeText('and the')];
    const dist = model.distribution(context.slice(1));
    let z = 0;
    for (let t = 0; t < dist.length; t++) z += (dist[t] as number) * Math.exp(bias.get(t) ?? 0);
    const rng = candidateRng([2, 2], 0, 0);
    for (const token of [boosted, banned, encodeText(',')[0] as number]) {
      const { logprob } = sampler.step(context, context.length, null, rng, token);
      expect(logprob).toBeCloseTo(
        Math.log(((dist[token] as number) * Math.exp(bias.get(token) ?? 0)) / z),
        9,
      );
    }
  });
});

describe('model cache', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ngram-cache-test-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('builds once, then loads the same arrays from disk, and rebuilds a damaged cache', async () => {
    const built = await loadOrBuildModel({ cacheDir: dir, order: 3 });
    expect(built.source).toBe('built');
    const files = (await readdir(dir)).filter((f) => f.endsWith('.bin'));
    expect(files).toHaveLength(1);
    const loaded = await loadOrBuildModel({ cacheDir: dir, order: 3 });
    expect(loaded.source).toBe('cache');
    expect(loaded.key).toBe(built.key);
    const context = encodeText('the sperm whale');
    expect(Array.from(loaded.model.distribution(context))).toEqual(
      Array.from(built.model.distribution(context)),
    );

    // A file from another format version must not be trusted.
    const file = join(dir, files[0] as string);
    const bytes = await readFile(file);
    bytes.writeUInt32LE(999, 4);
    await writeFile(file, bytes);
    expect((await loadOrBuildModel({ cacheDir: dir, order: 3 })).source).toBe('built');
  }, 60_000);
});
