/**
 * Byte-pair merging of one long pre-token in O(n log n), in slices. gpt-tokenizer merges with a
 * linear scan per merge (quadratic: a 16 KB run of letters takes ~0.2 s, a 500 KB one minutes),
 * which is fine for words but not for an adversarial prompt. This applies the same rule — merge
 * the adjacent pair of lowest rank, leftmost first, until none is in the vocabulary — with a heap,
 * so the result is the same tokens, and it offers the event loop a turn as it goes.
 */
import type { ByteRanks } from './byte-ranks.js';
import type { WorkMeter } from './yielder.js';

/** A binary min-heap of numbers (rank * SPAN + start: rank first, then the leftmost start). */
class MinHeap {
  private items: Float64Array;
  size = 0;

  constructor(capacity: number) {
    this.items = new Float64Array(Math.max(16, capacity));
  }

  push(value: number): void {
    if (this.size === this.items.length) {
      const grown = new Float64Array(this.items.length * 2);
      grown.set(this.items);
      this.items = grown;
    }
    const items = this.items;
    let i = this.size++;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if ((items[parent] as number) <= value) break;
      items[i] = items[parent] as number;
      i = parent;
    }
    items[i] = value;
  }

  pop(): number {
    const items = this.items;
    const top = items[0] as number;
    const last = items[--this.size] as number;
    let i = 0;
    for (;;) {
      let child = 2 * i + 1;
      if (child >= this.size) break;
      if (child + 1 < this.size && (items[child + 1] as number) < (items[child] as number)) child++;
      if ((items[child] as number) >= last) break;
      items[i] = items[child] as number;
      i = child;
    }
    items[i] = last;
    return top;
  }
}

/** Larger than any piece merged here (pieces are bounded by the context check before merging). */
const SPAN = 2 ** 24;

/**
 * The tokens of one pre-token's UTF-8 bytes. Parts are a linked list over byte offsets; the heap
 * holds every current adjacent pair keyed by (rank, start), plus stale keys, which are skipped:
 * a key is current when its start is alive and the pair starting there still has that rank.
 */
export async function mergeBytes(bytes: Uint8Array, ranks: ByteRanks, meter: WorkMeter): Promise<number[]> {
  const n = bytes.length;
  if (n >= SPAN) throw new RangeError(`a pre-token of ${n} bytes is too long to merge`);
  const next = new Int32Array(n);
  const prev = new Int32Array(n);
  const dead = new Uint8Array(n);
  // Rank of the pair starting at each part, -1 when it is not in the vocabulary (or there is none).
  const pairRank = new Int32Array(n).fill(-1);
  const heap = new MinHeap(2 * n);
  const rankOf = (from: number, to: number) => ranks.rank(bytes, from, to);
  const setPair = (start: number) => {
    const second = next[start] as number;
    const rank = second < n ? rankOf(start, next[second] as number) : -1;
    pairRank[start] = rank;
    if (rank >= 0) heap.push(rank * SPAN + start);
  };
  for (let i = 0; i < n; i++) {
    next[i] = i + 1;
    prev[i] = i - 1;
  }
  for (let i = 0; i < n; i++) {
    setPair(i);
    if (meter.add(1)) await meter.checkpoint();
  }
  while (heap.size > 0) {
    const key = heap.pop();
    const start = key % SPAN;
    const rank = (key - start) / SPAN;
    if (meter.add(1)) await meter.checkpoint();
    if (dead[start] === 1 || pairRank[start] !== rank) continue;
    const second = next[start] as number;
    const after = next[second] as number;
    dead[second] = 1;
    next[start] = after;
    if (after < n) prev[after] = start;
    setPair(start);
    const before = prev[start] as number;
    if (before >= 0) setPair(before);
  }
  const tokens: number[] = [];
  for (let i = 0; i < n; i = next[i] as number) {
    const rank = rankOf(i, next[i] as number);
    // Every single byte is a token of cl100k_base, so a part is always one.
    if (rank < 0) throw new Error(`no token for bytes ${i}..${next[i]} of a pre-token`);
    tokens.push(rank);
  }
  return tokens;
}
