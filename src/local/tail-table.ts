/**
 * Per-temperature weights of the unigram tail: qt[r] = (P1(token of rank r) / P1max)^(1/T) and
 * their prefix sums, so a step can weigh and sample the ~16k untouched seen tokens in O(log n).
 * Computed once per (model, temperature) and kept in a small cache.
 */
import type { NgramModel } from './ngram-model.js';

export interface TailTable {
  qt: Float64Array;
  cum: Float64Array;
  total: number;
}

const MAX_PER_MODEL = 16;
const tables = new WeakMap<NgramModel, Map<number, TailTable>>();

export function tailTable(model: NgramModel, temperature: number): TailTable {
  let perModel = tables.get(model);
  if (perModel === undefined) {
    perModel = new Map();
    tables.set(model, perModel);
  }
  const hit = perModel.get(temperature);
  if (hit !== undefined) return hit;
  const { seenSorted, unigram } = model.arrays;
  const p1max = unigram[seenSorted[0] as number] as number;
  const invT = 1 / temperature;
  const qt = new Float64Array(seenSorted.length);
  const cum = new Float64Array(seenSorted.length);
  let total = 0;
  for (let r = 0; r < seenSorted.length; r++) {
    const q = ((unigram[seenSorted[r] as number] as number) / p1max) ** invT;
    qt[r] = q;
    total += q;
    cum[r] = total;
  }
  const table = { qt, cum, total };
  if (perModel.size >= MAX_PER_MODEL) {
    const oldest = perModel.keys().next();
    if (!oldest.done) perModel.delete(oldest.value);
  }
  perModel.set(temperature, table);
  return table;
}
