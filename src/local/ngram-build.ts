/**
 * Counts n-grams of a token stream and turns them into `ModelArrays`. One sort of all positions
 * by the n-gram starting there serves every order at once, since sorting by the first N tokens
 * also sorts by the first k. Long loops yield to the event loop through `Yielder`.
 */
import { hashTokens, type LevelArrays, type ModelArrays, UNSEEN_MASS } from './ngram-model.js';
import { isVocabToken, VOCAB_ARRAY_SIZE, VOCAB_SIZE } from './tokenizer.js';
import type { Yielder } from './yielder.js';

/** Stand-in for "no token before" at the very start of the corpus, for continuation counts. */
const START = VOCAB_ARRAY_SIZE;

async function sortedPositions(tokens: Uint32Array, order: number, yielder: Yielder): Promise<Uint32Array> {
  const n = tokens.length;
  // Counting sort by first token, then a comparison sort inside each (small) bucket.
  const starts = new Uint32Array(VOCAB_ARRAY_SIZE + 1);
  for (let i = 0; i < n; i++)
    starts[(tokens[i] as number) + 1] = (starts[(tokens[i] as number) + 1] as number) + 1;
  for (let t = 0; t < VOCAB_ARRAY_SIZE; t++)
    starts[t + 1] = (starts[t + 1] as number) + (starts[t] as number);
  const fill = starts.slice();
  const pos = new Uint32Array(n);
  for (let i = 0; i < n; i++) {
    const t = tokens[i] as number;
    const at = fill[t] as number;
    pos[at] = i;
    fill[t] = at + 1;
  }
  const compare = (a: number, b: number): number => {
    for (let j = 1; j < order; j++) {
      const ta = a + j < n ? (tokens[a + j] as number) : -1;
      const tb = b + j < n ? (tokens[b + j] as number) : -1;
      if (ta !== tb) return ta - tb;
    }
    return 0;
  };
  for (let t = 0; t < VOCAB_ARRAY_SIZE; t++) {
    const from = starts[t] as number;
    const to = starts[t + 1] as number;
    if (to - from > 1) pos.subarray(from, to).sort(compare);
    await yielder.maybe();
  }
  return pos;
}

/** Common prefix length (capped at `order`) of the n-grams at sorted neighbours j-1 and j. */
function neighbourLcp(tokens: Uint32Array, pos: Uint32Array, order: number): Uint8Array {
  const n = tokens.length;
  const lcp = new Uint8Array(n);
  for (let j = 1; j < n; j++) {
    const a = pos[j - 1] as number;
    const b = pos[j] as number;
    let l = 0;
    while (l < order && a + l < n && b + l < n && tokens[a + l] === tokens[b + l]) l++;
    lcp[j] = l;
  }
  return lcp;
}

/** Modified-KN discounts from counts-of-counts (Chen & Goodman), kept inside their valid ranges. */
function discountsFor(counts: Uint32Array): Float64Array {
  const nc = [0, 0, 0, 0, 0];
  for (const c of counts) if (c <= 4) nc[c] = (nc[c] as number) + 1;
  const [, n1 = 0, n2 = 0, n3 = 0, n4 = 0] = nc;
  const y = n1 + 2 * n2 > 0 ? n1 / (n1 + 2 * n2) : 0.5;
  const clamp = (d: number, max: number) => (Number.isFinite(d) ? Math.min(Math.max(d, 0.05), max) : 0.5);
  return Float64Array.of(
    0,
    clamp(1 - (2 * y * n2) / n1, 0.95),
    clamp(2 - (3 * y * n3) / n2, 1.95),
    clamp(3 - (4 * y * n4) / n3, 2.95),
  );
}

interface RawLevel {
  ctxTok: number[];
  ctxOff: number[];
  succTok: number[];
  succCount: number[];
}

/** Walks the sorted positions once for order k, grouping k-grams and their (k-1)-token contexts. */
async function countLevel(
  tokens: Uint32Array,
  pos: Uint32Array,
  lcp: Uint8Array,
  k: number,
  raw: boolean,
  yielder: Yielder,
): Promise<RawLevel> {
  const n = tokens.length;
  const out: RawLevel = { ctxTok: [], ctxOff: [], succTok: [], succCount: [] };
  const seenLeft = new Int32Array(VOCAB_ARRAY_SIZE + 1).fill(-1);
  let group = -1;
  let groupCount = 0;
  let runLcp = 0;
  let first = true;
  const closeGroup = () => {
    if (group >= 0) out.succCount.push(groupCount);
  };
  for (let j = 0; j < n; j++) {
    if (j > 0) runLcp = Math.min(runLcp, lcp[j] as number);
    const p = pos[j] as number;
    if (n - p < k) continue;
    const newContext = first || runLcp < k - 1;
    const newGram = newContext || runLcp < k;
    first = false;
    runLcp = k;
    if (newGram) {
      closeGroup();
      group++;
      groupCount = 0;
      if (newContext) {
        out.ctxOff.push(out.succTok.length);
        for (let i = 0; i < k - 1; i++) out.ctxTok.push(tokens[p + i] as number);
      }
      out.succTok.push(tokens[p + k - 1] as number);
    }
    if (raw) groupCount++;
    else {
      // Continuation count: how many distinct tokens precede this k-gram.
      const left = p > 0 ? (tokens[p - 1] as number) : START;
      if (seenLeft[left] !== group) {
        seenLeft[left] = group;
        groupCount++;
      }
    }
    if ((j & 0x3fff) === 0) await yielder.maybe();
  }
  closeGroup();
  out.ctxOff.push(out.succTok.length);
  return out;
}

function finishLevel(raw: RawLevel, k: number): LevelArrays {
  const succCount = Uint32Array.from(raw.succCount);
  const ctxOff = Uint32Array.from(raw.ctxOff);
  const ctxTok = Uint32Array.from(raw.ctxTok);
  const numCtx = ctxOff.length - 1;
  const discounts = discountsFor(succCount);
  const ctxInvTotal = new Float64Array(numCtx);
  const ctxGamma = new Float64Array(numCtx);
  for (let c = 0; c < numCtx; c++) {
    let total = 0;
    let discounted = 0;
    for (let i = ctxOff[c] as number; i < (ctxOff[c + 1] as number); i++) {
      const count = succCount[i] as number;
      total += count;
      discounted += discounts[Math.min(count, 3)] as number;
    }
    ctxInvTotal[c] = 1 / total;
    ctxGamma[c] = discounted / total;
  }
  let size = 1;
  while (size < numCtx * 2) size *= 2;
  const table = new Int32Array(size);
  const len = k - 1;
  for (let c = 0; c < numCtx; c++) {
    let slot = hashTokens(ctxTok, c * len, len) & (size - 1);
    while (table[slot] !== 0) slot = (slot + 1) & (size - 1);
    table[slot] = c + 1;
  }
  return {
    ctxTok,
    ctxOff,
    ctxInvTotal,
    ctxGamma,
    succTok: Uint32Array.from(raw.succTok),
    succCount,
    table,
    discounts,
  };
}

/** Order 1: continuation-count KN unigram over seen tokens, EPS spread over the unseen rest. */
function finishUnigram(raw: RawLevel): Pick<ModelArrays, 'unigram' | 'seenSorted' | 'rankOf' | 'unseen'> {
  const counts = Uint32Array.from(raw.succCount);
  const discounts = discountsFor(counts);
  const seen = Uint32Array.from(raw.succTok);
  let total = 0;
  let discounted = 0;
  for (const c of counts) {
    total += c;
    discounted += discounts[Math.min(c, 3)] as number;
  }
  const unigram = new Float64Array(VOCAB_ARRAY_SIZE);
  const uniform = discounted / total / seen.length;
  seen.forEach((t, i) => {
    const c = counts[i] as number;
    unigram[t] = (1 - UNSEEN_MASS) * ((c - (discounts[Math.min(c, 3)] as number)) / total + uniform);
  });
  const unseenList: number[] = [];
  const unseenShare = UNSEEN_MASS / (VOCAB_SIZE - seen.length);
  for (let t = 0; t < VOCAB_ARRAY_SIZE; t++) {
    if (isVocabToken(t) && unigram[t] === 0) {
      unigram[t] = unseenShare;
      unseenList.push(t);
    }
  }
  const seenSorted = Uint32Array.from(
    Array.from(seen).sort((a, b) => (unigram[b] as number) - (unigram[a] as number) || a - b),
  );
  const rankOf = new Int32Array(VOCAB_ARRAY_SIZE).fill(-1);
  seenSorted.forEach((t, i) => {
    rankOf[t] = i;
  });
  return { unigram, seenSorted, rankOf, unseen: Uint32Array.from(unseenList) };
}

export async function buildModelArrays(
  tokens: Uint32Array,
  order: number,
  yielder: Yielder,
): Promise<ModelArrays> {
  const pos = await sortedPositions(tokens, order, yielder);
  const lcp = neighbourLcp(tokens, pos, order);
  await yielder.maybe();
  const levels: LevelArrays[] = [];
  let unigram: Pick<ModelArrays, 'unigram' | 'seenSorted' | 'rankOf' | 'unseen'> | undefined;
  for (let k = 1; k <= order; k++) {
    const raw = await countLevel(tokens, pos, lcp, k, k === order, yielder);
    if (k === 1) unigram = finishUnigram(raw);
    else levels.push(finishLevel(raw, k));
    await yielder.maybe();
  }
  if (unigram === undefined) throw new Error('order must be at least 1');
  return { order, levels, ...unigram };
}
