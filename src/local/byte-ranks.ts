/**
 * cl100k_base's byte sequence -> rank lookup for the merge of long pre-tokens, which needs ranks
 * of byte fragments that are not valid UTF-8. An open-addressing hash table in typed arrays: a
 * lookup hashes bytes in place and allocates nothing, and the table is ~2 MB of flat memory the
 * garbage collector never walks (a Map of 100 k latin1 strings cost 20–50 ms GC pauses to build
 * and rehashed all entries at once, ~40 ms, when it grew past 65,536).
 */
import bpeRanks from 'gpt-tokenizer/bpeRanks/cl100k_base';
import { Yielder } from './yielder.js';

const SLOTS = 1 << 18;
const MASK = SLOTS - 1;

function hash(bytes: Uint8Array, from: number, to: number): number {
  let h = 0x811c9dc5;
  for (let i = from; i < to; i++) h = Math.imul(h ^ (bytes[i] as number), 0x01000193);
  return h >>> 0;
}

export class ByteRanks {
  /** Token bytes, back to back; token r is pool[start[r], start[r] + length[r]). */
  private pool = Buffer.alloc(1 << 20);
  private used = 0;
  private readonly start = new Int32Array(bpeRanks.length);
  private readonly length = new Int32Array(bpeRanks.length);
  private readonly slots = new Int32Array(SLOTS).fill(-1);

  add(rank: number, entry: string | readonly number[]): void {
    // A UTF-8 character is at most 3 bytes per UTF-16 unit.
    const room = typeof entry === 'string' ? entry.length * 3 : entry.length;
    if (this.used + room > this.pool.length) {
      const grown = Buffer.alloc(Math.max(this.pool.length * 2, this.used + room));
      this.pool.copy(grown, 0, 0, this.used);
      this.pool = grown;
    }
    let written: number;
    if (typeof entry === 'string') {
      written = this.pool.write(entry, this.used, 'utf8');
    } else {
      this.pool.set(entry, this.used);
      written = entry.length;
    }
    this.start[rank] = this.used;
    this.length[rank] = written;
    let slot = hash(this.pool, this.used, this.used + written) & MASK;
    while ((this.slots[slot] as number) >= 0) slot = (slot + 1) & MASK;
    this.slots[slot] = rank;
    this.used += written;
  }

  /** The rank of bytes[from, to), or -1 when those bytes are not one token. */
  rank(bytes: Uint8Array, from: number, to: number): number {
    const size = to - from;
    for (let slot = hash(bytes, from, to) & MASK; ; slot = (slot + 1) & MASK) {
      const rank = this.slots[slot] as number;
      if (rank < 0) return -1;
      if (this.length[rank] === size && this.equals(rank, bytes, from)) return rank;
    }
  }

  private equals(rank: number, bytes: Uint8Array, from: number): boolean {
    const pool = this.pool;
    const base = this.start[rank] as number;
    const size = this.length[rank] as number;
    for (let i = 0; i < size; i++) if (pool[base + i] !== bytes[from + i]) return false;
    return true;
  }
}

let table: Promise<ByteRanks> | undefined;

/**
 * Built on first use (~20 ms of work), in slices of its own, so no request owns the build: an
 * aborted request does not fail it for the others. Prompts without long pieces never need it.
 */
export function byteRanks(): Promise<ByteRanks> {
  table ??= build();
  return table;
}

async function build(): Promise<ByteRanks> {
  const ranks = new ByteRanks();
  const yielder = new Yielder(3);
  for (let rank = 0; rank < bpeRanks.length; rank++) {
    const entry = bpeRanks[rank];
    if (entry !== undefined) ranks.add(rank, entry);
    if ((rank & 255) === 0 && yielder.due()) await yielder.yieldNow();
  }
  return ranks;
}
