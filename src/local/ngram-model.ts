/**
 * An interpolated modified-Kneser-Ney n-gram model held in flat typed arrays (so the disk cache
 * maps straight back into memory), with the per-step sparse evaluation the sampler needs.
 *
 * P(w | h) at order k = max(c(hw) - D(c), 0) / c(h) + gamma(h) * P(w | h shortened by one), with
 * raw counts at the top order and continuation counts below it (Chen & Goodman). Order 1 backs off
 * to a uniform over the tokens seen in the corpus, and the whole seen part is scaled by (1 - EPS)
 * so every other token of the vocabulary gets an equal share of EPS: nothing has probability 0,
 * yet unseen junk is practically never sampled. The distribution sums to 1 over the vocabulary.
 */
import { EOT, VOCAB_ARRAY_SIZE } from './tokenizer.js';

/** Probability mass shared by all tokens never seen in the corpus. */
export const UNSEEN_MASS = 1e-9;

/** One order k >= 2: its contexts (k-1 tokens each) and their successor counts. */
export interface LevelArrays {
  /** `ctxCount * (order - 1)` tokens, context after context. */
  ctxTok: Uint32Array;
  /** Successors of context i are `succ*[ctxOff[i] .. ctxOff[i+1])`, sorted by token id. */
  ctxOff: Uint32Array;
  ctxInvTotal: Float64Array;
  ctxGamma: Float64Array;
  succTok: Uint32Array;
  succCount: Uint32Array;
  /** Open-addressing hash of contexts: context index + 1, 0 for an empty slot. */
  table: Int32Array;
  /** Modified-KN discounts indexed by min(count, 3); index 0 unused. */
  discounts: Float64Array;
}

export interface ModelArrays {
  order: number;
  /** `levels[k - 2]` is order k, for k = 2..order. */
  levels: LevelArrays[];
  /** P(w) at order 1 for every id, EPS share included (0 for ids outside the vocabulary). */
  unigram: Float64Array;
  /** Seen tokens by decreasing unigram probability: the order of the dense "tail". */
  seenSorted: Uint32Array;
  /** Position of a token in `seenSorted`, -1 if unseen. */
  rankOf: Int32Array;
  /** Vocabulary ids never seen in the corpus. */
  unseen: Uint32Array;
}

export function hashTokens(tokens: ArrayLike<number>, start: number, length: number): number {
  let h = 0x811c9dc5 ^ length;
  for (let i = 0; i < length; i++) {
    h = Math.imul(h ^ (tokens[start + i] as number), 0x01000193);
    h ^= h >>> 13;
  }
  h = Math.imul(h, 0x5bd1e995);
  return (h ^ (h >>> 15)) >>> 0;
}

/**
 * Scratch for one evaluation step, shared by every request: a step runs synchronously from start
 * to end, so two requests never use it at the same time.
 */
export class StepScratch {
  /** Per token: the probability (then the biased weight) while `mark[t] === stamp`. */
  readonly value = new Float64Array(VOCAB_ARRAY_SIZE);
  readonly mark = new Uint32Array(VOCAB_ARRAY_SIZE);
  /** The tokens with explicit values this step ("touched"); everything else is tail. */
  readonly touched = new Uint32Array(VOCAB_ARRAY_SIZE);
  /** Per touched index: a sampling weight. */
  readonly weight = new Float64Array(VOCAB_ARRAY_SIZE);
  /** Per token: the logit change (bias, penalties) of this step; left all-zero between steps. */
  readonly mod = new Float64Array(VOCAB_ARRAY_SIZE);
  count = 0;
  stamp = 0;

  begin(): void {
    this.stamp = (this.stamp + 1) >>> 0;
    if (this.stamp === 0) {
      this.mark.fill(0);
      this.stamp = 1;
    }
    this.count = 0;
  }

  isTouched(token: number): boolean {
    return this.mark[token] === this.stamp;
  }

  touch(token: number, initial: number): void {
    if (this.mark[token] !== this.stamp) {
      this.mark[token] = this.stamp;
      this.value[token] = initial;
      this.touched[this.count++] = token;
    }
  }
}

export class NgramModel {
  readonly order: number;
  readonly scratch = new StepScratch();

  constructor(readonly arrays: ModelArrays) {
    this.order = arrays.order;
  }

  /** Index of the context `hist[end - k + 1 .. end)` at order k, or -1 if never seen. */
  findContext(k: number, hist: ArrayLike<number>, end: number): number {
    const level = this.arrays.levels[k - 2];
    const len = k - 1;
    const start = end - len;
    if (level === undefined || start < 0) return -1;
    const { table, ctxTok } = level;
    const mask = table.length - 1;
    for (let slot = hashTokens(hist, start, len) & mask; ; slot = (slot + 1) & mask) {
      const entry = table[slot] as number;
      if (entry === 0) return -1;
      const base = (entry - 1) * len;
      let same = true;
      for (let j = 0; j < len; j++) {
        if (ctxTok[base + j] !== hist[start + j]) {
          same = false;
          break;
        }
      }
      if (same) return entry - 1;
    }
  }

  /**
   * Sparse evaluation of P(. | hist[..end)): afterwards `scratch.value[t]` is the exact P(t) for
   * every touched t, and every other token t has P(t) = beta * unigram[t]. Returns beta.
   */
  gather(hist: ArrayLike<number>, end: number): number {
    const s = this.scratch;
    s.begin();
    const { value, mark, touched } = s;
    const stamp = s.stamp;
    let weight = 1;
    for (let k = this.order; k >= 2; k--) {
      const ctx = this.findContext(k, hist, end);
      if (ctx < 0) continue;
      const level = this.arrays.levels[k - 2] as LevelArrays;
      const { succTok, succCount, discounts } = level;
      const scale = weight * (level.ctxInvTotal[ctx] as number);
      const to = level.ctxOff[ctx + 1] as number;
      for (let i = level.ctxOff[ctx] as number; i < to; i++) {
        const t = succTok[i] as number;
        const c = succCount[i] as number;
        const mass = scale * (c - (discounts[Math.min(c, 3)] as number));
        if (mark[t] === stamp) value[t] = (value[t] as number) + mass;
        else {
          mark[t] = stamp;
          value[t] = mass;
          touched[s.count++] = t;
        }
      }
      weight *= level.ctxGamma[ctx] as number;
    }
    const unigram = this.arrays.unigram;
    for (let i = 0; i < s.count; i++) {
      const t = touched[i] as number;
      value[t] = (value[t] as number) + weight * (unigram[t] as number);
    }
    return weight;
  }

  /**
   * The whole distribution over the vocabulary, computed densely bottom-up, independent of
   * `gather`'s top-down sparse path: the reference the tests check the engine against.
   */
  distribution(context: readonly number[]): Float64Array {
    const hist = [EOT, ...context];
    const dist = Float64Array.from(this.arrays.unigram);
    for (let k = 2; k <= this.order; k++) {
      const ctx = this.findContext(k, hist, hist.length);
      if (ctx < 0) continue;
      const level = this.arrays.levels[k - 2] as LevelArrays;
      const gamma = level.ctxGamma[ctx] as number;
      for (let t = 0; t < dist.length; t++) dist[t] = (dist[t] as number) * gamma;
      const inv = level.ctxInvTotal[ctx] as number;
      const to = level.ctxOff[ctx + 1] as number;
      for (let i = level.ctxOff[ctx] as number; i < to; i++) {
        const c = level.succCount[i] as number;
        const t = level.succTok[i] as number;
        dist[t] = (dist[t] as number) + (c - (level.discounts[Math.min(c, 3)] as number)) * inv;
      }
    }
    return dist;
  }
}
