// The session records one client of the client library holds (store/sessions.ts), by sequence
// number, with a min-heap of those numbers, so that an acknowledgement (Idempotency-Answered-
// Through) takes out exactly the records at or below it, lowest first: its cost is what it
// drops, never what the client holds above it (a client may hold 100,000 records and send
// acknowledgements that raise one at a time). Pure: no I/O.

import { assert } from '../assert.ts';

/** Stale heap slots (seqs no longer held) allowed beyond twice the records held, before the
 * heap is rebuilt from the records held: each rebuild is paid for by the removals before it. */
const HEAP_STALE_SLOTS_MIN = 16;

export class ClientRecords<T> {
  private readonly bySeq = new Map<number, T>();
  /** A binary min-heap of seqs; a seq whose record was removed stays until it reaches the top
   * (lowestAtOrBelow skips it) or the heap is rebuilt. */
  private heap: number[] = [];

  get size(): number {
    return this.bySeq.size;
  }

  /** Slots of the heap, stale ones included: at most twice the records held, plus HEAP_STALE_SLOTS_MIN. */
  get heapSlots(): number {
    return this.heap.length;
  }

  get(seq: number): T | undefined {
    return this.bySeq.get(seq);
  }

  add(seq: number, record: T): void {
    assert(!this.bySeq.has(seq), `client record ${seq} added twice`);
    this.bySeq.set(seq, record);
    const heap = this.heap;
    let i = heap.push(seq) - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (heap[parent]! <= seq) break;
      heap[i] = heap[parent]!;
      i = parent;
    }
    heap[i] = seq;
  }

  remove(seq: number): void {
    assert(this.bySeq.delete(seq), `client record ${seq} removed but not held`);
    if (this.heap.length > 2 * this.bySeq.size + HEAP_STALE_SLOTS_MIN) {
      // Ascending order is a valid min-heap.
      this.heap = [...this.bySeq.keys()].sort((a, b) => a - b);
    }
  }

  /** The held record of the lowest seq, if that seq is at most `through`. */
  lowestAtOrBelow(through: number): { seq: number; record: T } | undefined {
    while (this.heap.length > 0) {
      const seq = this.heap[0]!;
      if (seq > through) return undefined;
      const record = this.bySeq.get(seq);
      if (record !== undefined) return { seq, record };
      this.popTop();
    }
    return undefined;
  }

  private popTop(): void {
    const heap = this.heap;
    const last = heap.pop()!;
    if (heap.length === 0) return;
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= heap.length) break;
      const right = left + 1;
      const child = right < heap.length && heap[right]! < heap[left]! ? right : left;
      if (heap[child]! >= last) break;
      heap[i] = heap[child]!;
      i = child;
    }
    heap[i] = last;
  }
}
