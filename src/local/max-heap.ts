/**
 * A binary max-heap of indices ordered by an external weight array. The nucleus (top_p) needs the
 * largest weights one by one only until the kept mass reaches top_p: heapify is O(n) and each pop
 * O(log n), far cheaper than sorting thousands of candidates per token.
 */
export class IndexMaxHeap {
  private readonly heap: Int32Array;
  private size: number;

  /** `buffer`, when big enough, is used in place of a new array (the caller's to reuse per step). */
  constructor(
    private readonly weights: ArrayLike<number>,
    count: number,
    buffer?: Int32Array,
  ) {
    this.heap = buffer !== undefined && buffer.length >= count ? buffer : new Int32Array(count);
    for (let i = 0; i < count; i++) this.heap[i] = i;
    this.size = count;
    for (let i = (count >> 1) - 1; i >= 0; i--) this.siftDown(i);
  }

  get length(): number {
    return this.size;
  }

  /** Weight of the largest entry, or -1 when empty. */
  peekWeight(): number {
    return this.size > 0 ? (this.weights[this.heap[0] as number] as number) : -1;
  }

  pop(): number {
    const top = this.heap[0] as number;
    this.size--;
    if (this.size > 0) {
      this.heap[0] = this.heap[this.size] as number;
      this.siftDown(0);
    }
    return top;
  }

  private siftDown(start: number): void {
    const { heap, weights, size } = this;
    let i = start;
    const item = heap[i] as number;
    const w = weights[item] as number;
    for (;;) {
      let child = 2 * i + 1;
      if (child >= size) break;
      const right = child + 1;
      if (
        right < size &&
        (weights[heap[right] as number] as number) > (weights[heap[child] as number] as number)
      ) {
        child = right;
      }
      if ((weights[heap[child] as number] as number) <= w) break;
      heap[i] = heap[child] as number;
      i = child;
    }
    heap[i] = item;
  }
}
