/**
 * One decoding step over the full vocabulary without materialising it. After `model.gather` the
 * distribution is: explicit values for a few hundred "touched" tokens (plus any token with a bias
 * or penalty), and beta * unigram[t] for all others (the tail, whose order and per-temperature
 * weights are fixed per model, so they come from precomputed prefix sums).
 *
 * Semantics (documented for the API): logit_bias and presence/frequency penalties change the
 * logits as OpenAI documents; reported logprobs are of that adjusted distribution, before
 * temperature and top_p. Sampling uses softmax(adjusted logits / temperature), cut to the nucleus.
 */
import type { NgramModel } from './ngram-model.js';
import { cutNucleus } from './nucleus.js';
import type { Rng } from './rng.js';
import { tailTable } from './tail-table.js';

export interface SamplingSettings {
  /** 0 means greedy (argmax). */
  temperature: number;
  topP: number;
  bias: ReadonlyMap<number, number>;
  presencePenalty: number;
  frequencyPenalty: number;
  /** Alternatives to report per token, or -1 for no logprobs at all. */
  topLogprobs: number;
}

export interface StepResult {
  token: number;
  logprob: number;
  /** [token, logprob] best first, the chosen token always included; null without logprobs. */
  top: [number, number][] | null;
}

export class Sampler {
  private readonly penalties: boolean;
  /** Tokens whose `scratch.mod` entry this step set, to clear it afterwards (reused: no garbage). */
  private readonly modded: number[] = [];

  constructor(
    private readonly model: NgramModel,
    private readonly settings: SamplingSettings,
  ) {
    this.penalties = settings.presencePenalty !== 0 || settings.frequencyPenalty !== 0;
  }

  /**
   * Evaluates P(. | hist[..end)) with bias and penalties (`counts`: generated tokens so far), then
   * picks a token, or scores `forced` (echoed prompt tokens) when it is >= 0.
   */
  step(
    hist: ArrayLike<number>,
    end: number,
    counts: ReadonlyMap<number, number> | null,
    rng: Rng,
    forced = -1,
  ) {
    const { model, settings } = this;
    const s = model.scratch;
    const { unigram } = model.arrays;
    const beta = model.gather(hist, end);
    const { value, touched, mod } = s;
    const modded = this.modded;
    modded.length = 0;
    for (const [t, b] of settings.bias) this.addMod(t, b, beta);
    if (counts !== null && this.penalties) {
      for (const [t, c] of counts)
        this.addMod(t, -(c * settings.frequencyPenalty + settings.presencePenalty), beta);
    }
    let z = 1;
    let maxQ = -1;
    let best = -1;
    for (let i = 0; i < s.count; i++) {
      const t = touched[i] as number;
      const m = mod[t] as number;
      if (m !== 0) {
        const p = value[t] as number;
        const q = p * Math.exp(m);
        z += q - p;
        value[t] = q;
      }
      if ((value[t] as number) > maxQ) {
        maxQ = value[t] as number;
        best = t;
      }
    }
    for (const t of modded) mod[t] = 0;

    let token: number;
    if (forced >= 0) token = forced;
    else if (settings.temperature <= 0) token = this.argmax(beta, best, maxQ);
    else token = this.sample(beta, maxQ, rng);
    const chosen = s.isTouched(token) ? (value[token] as number) : beta * (unigram[token] as number);
    const logprob = Math.log(chosen / z);
    const top = settings.topLogprobs >= 0 ? this.topK(beta, z, token, logprob) : null;
    return { token, logprob, top } satisfies StepResult;
  }

  /** Gives token t an explicit value (if the step had none) and adds `delta` to its logit. */
  private addMod(t: number, delta: number, beta: number): void {
    const s = this.model.scratch;
    s.touch(t, beta * (this.model.arrays.unigram[t] as number));
    if (s.mod[t] === 0) this.modded.push(t);
    // Never exactly 0 while in use (a +1 bias and a -1 penalty), which would mean "unmodified".
    s.mod[t] = (s.mod[t] as number) + delta || Number.MIN_VALUE;
  }

  private argmax(beta: number, best: number, maxQ: number): number {
    const { seenSorted, unigram } = this.model.arrays;
    const s = this.model.scratch;
    for (let r = 0; r < seenSorted.length; r++) {
      const t = seenSorted[r] as number;
      if (s.isTouched(t)) continue;
      return beta * (unigram[t] as number) > maxQ ? t : best;
    }
    return best;
  }

  private sample(beta: number, maxQ: number, rng: Rng): number {
    const { model, settings } = this;
    const s = model.scratch;
    const { seenSorted, unigram, rankOf, unseen } = model.arrays;
    const tail = tailTable(model, settings.temperature);
    const invT = 1 / settings.temperature;
    const p1max = unigram[seenSorted[0] as number] as number;
    // Weights are relative to the largest probability so tiny temperatures do not underflow all.
    const ref = Math.max(maxQ, beta * p1max);
    const { touched, value, weight } = s;
    let sumE = 0;
    let seenInE = 0;
    let unseenInE = 0;
    for (let i = 0; i < s.count; i++) {
      const t = touched[i] as number;
      const w = invT === 1 ? (value[t] as number) / ref : ((value[t] as number) / ref) ** invT;
      weight[i] = w;
      sumE += w;
      const r = rankOf[t] as number;
      if (r >= 0) seenInE += tail.qt[r] as number;
      else unseenInE++;
    }
    const tailScale = ((beta * p1max) / ref) ** invT;
    const unseenW = ((beta * (unigram[unseen[0] ?? 0] as number)) / ref) ** invT;
    let tailRanks = seenSorted.length;
    let tailSum = tailScale * Math.max(0, tail.total - seenInE);
    let unseenSum = (unseen.length - unseenInE) * unseenW;
    let explicitTokens: ArrayLike<number> = touched;
    let explicitWeights: ArrayLike<number> = weight;
    let explicitCount = s.count;
    if (settings.topP < 1) {
      const cut = cutNucleus({
        touched,
        weight,
        count: s.count,
        rankOf,
        tail,
        tailScale,
        target: settings.topP * (sumE + tailSum + unseenSum),
      });
      explicitTokens = cut.tokens;
      explicitWeights = cut.weights;
      explicitCount = cut.tokens.length;
      sumE = cut.explicitSum;
      tailRanks = cut.tailRanks;
      tailSum = cut.tailSum;
      if (!cut.exhausted) unseenSum = 0;
    }
    let x = rng() * (sumE + tailSum + unseenSum);
    for (let i = 0; i < explicitCount; i++) {
      x -= explicitWeights[i] as number;
      if (x < 0) return explicitTokens[i] as number;
    }
    // Rounding can leave x just past the last explicit weight when nothing else is in play.
    if (tailSum === 0 && unseenSum === 0 && explicitCount > 0)
      return explicitTokens[explicitCount - 1] as number;
    if (x < tailSum || unseenSum === 0) return this.sampleTail(tail.cum, tailRanks, rng);
    for (let tries = 0; tries < 64; tries++) {
      const t = unseen[Math.floor(rng() * unseen.length)] as number;
      if (!s.isTouched(t)) return t;
    }
    return touched[0] as number;
  }

  /** A tail token among ranks [0, ranks), by the prefix sums, skipping touched tokens. */
  private sampleTail(cum: Float64Array, ranks: number, rng: Rng): number {
    const { seenSorted } = this.model.arrays;
    const s = this.model.scratch;
    const limit = ranks > 0 ? (cum[ranks - 1] as number) : 0;
    for (let tries = 0; tries < 64; tries++) {
      const x = rng() * limit;
      let lo = 0;
      let hi = ranks - 1;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if ((cum[mid] as number) > x) hi = mid;
        else lo = mid + 1;
      }
      const t = seenSorted[lo] as number;
      if (!s.isTouched(t)) return t;
    }
    // Touched tokens hold almost all tail mass: take the best untouched one.
    for (let r = 0; r < seenSorted.length; r++)
      if (!s.isTouched(seenSorted[r] as number)) return seenSorted[r] as number;
    return seenSorted[0] as number;
  }

  private topK(beta: number, z: number, chosen: number, chosenLogprob: number): [number, number][] {
    const k = this.settings.topLogprobs;
    const s = this.model.scratch;
    const { seenSorted, unigram } = this.model.arrays;
    const top: [number, number][] = [];
    const offer = (t: number, v: number) => {
      if (top.length === k && (top[k - 1] as [number, number])[1] >= v) return;
      let i = top.length < k ? top.length : k - 1;
      top[i] = [t, v];
      while (i > 0 && (top[i - 1] as [number, number])[1] < v) {
        top[i] = top[i - 1] as [number, number];
        top[--i] = [t, v];
      }
    };
    if (k > 0) {
      for (let i = 0; i < s.count; i++)
        offer(s.touched[i] as number, s.value[s.touched[i] as number] as number);
      let fromTail = 0;
      for (let r = 0; r < seenSorted.length && fromTail < k; r++) {
        const t = seenSorted[r] as number;
        if (s.isTouched(t)) continue;
        offer(t, beta * (unigram[t] as number));
        fromTail++;
      }
    }
    const out = top.map(([t, v]): [number, number] => [t, Math.log(v / z)]);
    if (!out.some(([t]) => t === chosen)) out.push([chosen, chosenLogprob]);
    return out;
  }
}
