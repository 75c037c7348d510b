// Result order. Every query result has a total order: the requested sort keys,
// then _id ascending. So results never depend on which plan ran, and all
// replicas agree on which document a single-document update touches.
//
// A sort field holding an array sorts by its smallest element ascending and
// its largest descending (MongoDB semantics); a missing field sorts as null.

import { valuesAtPath } from './index-keys.ts';
import { compareValues } from './key-order.ts';
import type { Document, JsonValue, SortSpec } from './types.ts';

export interface SortKey {
  readonly path: string;
  readonly segs: readonly string[];
  readonly dir: 1 | -1;
}

/**
 * The sort keys that matter. Keys after `_id` are dropped (_id is unique), and
 * a final `_id: 1` is dropped because it is the implicit tie-break.
 */
export function normalizeSort(sort: SortSpec | undefined): SortKey[] {
  const out: SortKey[] = [];
  if (sort === undefined) return out;
  for (const path of Object.keys(sort)) {
    const dir = sort[path]!;
    if (path === '_id') {
      if (dir === -1) out.push({ path, segs: ['_id'], dir });
      break;
    }
    out.push({ path, segs: path.split('.'), dir });
  }
  return out;
}

/** True when the order is plain _id order (ascending, or descending when reverse). */
export function idOrder(keys: readonly SortKey[]): { natural: boolean; reverse: boolean } {
  if (keys.length === 0) return { natural: true, reverse: false };
  if (keys.length === 1 && keys[0]!.path === '_id') return { natural: true, reverse: true };
  return { natural: false, reverse: false };
}

export function sortValue(doc: Document, key: SortKey): JsonValue {
  const { values } = valuesAtPath(doc, key.segs);
  let best = values[0]!;
  for (let i = 1; i < values.length; i++) {
    const c = compareValues(values[i], best);
    if (key.dir === 1 ? c < 0 : c > 0) best = values[i]!;
  }
  return best;
}

function compareIds(a: Document, b: Document): number {
  return a._id < b._id ? -1 : a._id > b._id ? 1 : 0;
}

/** Sorts documents in place by keys, then _id. */
export function sortDocuments(docs: Document[], keys: readonly SortKey[]): Document[] {
  if (keys.length === 0) return docs.sort(compareIds);
  const decorated: Decorated[] = docs.map((doc) => ({ doc, values: keys.map((k) => sortValue(doc, k)) }));
  decorated.sort(decoratedComparator(keys));
  for (let i = 0; i < docs.length; i++) docs[i] = decorated[i]!.doc;
  return docs;
}

/** True when a and b have equal values for every sort key. */
export function sameSortValues(a: Document, b: Document, keys: readonly SortKey[]): boolean {
  for (const k of keys) if (compareValues(sortValue(a, k), sortValue(b, k)) !== 0) return false;
  return true;
}

/** What a sliced computation asks of its scheduler (src/server/loop-turns.ts): whether its
 * slice is spent (cheap: called once per unit of work), and a wait for its next slice. */
export interface Slicer {
  due(): boolean;
  next(): Promise<void>;
}

interface Decorated {
  readonly doc: Document;
  readonly values: readonly JsonValue[];
}

function decoratedComparator(keys: readonly SortKey[]): (a: Decorated, b: Decorated) => number {
  return (a, b) => {
    for (let i = 0; i < keys.length; i++) {
      const c = compareValues(a.values[i], b.values[i]);
      if (c !== 0) return keys[i]!.dir === 1 ? c : -c;
    }
    return compareIds(a.doc, b.doc);
  };
}

/** Merge sort runs are first sorted in one piece: this many entries (a few hundred µs). */
const SORT_RUN_ENTRIES = 64;

/**
 * The first `need` documents of `docs` in sortDocuments' order (keys, then _id; every
 * document once, so any correct sort gives the same result), computed in slices: sort values
 * are taken, the `need` smallest selected with a bounded heap when `need` is well below the
 * number of documents (a limit: n log need comparisons instead of n log n), and a bottom-up
 * merge sort orders what is left, waiting for the next slice whenever `slicer` says so.
 * `docs` is not changed.
 */
export async function sortDocumentsSliced(docs: readonly Document[], keys: readonly SortKey[], need: number, slicer: Slicer): Promise<Document[]> {
  let entries: Decorated[] = new Array<Decorated>(docs.length);
  for (let i = 0; i < docs.length; i++) {
    if (slicer.due()) await slicer.next();
    const doc = docs[i]!;
    entries[i] = { doc, values: keys.length === 0 ? [] : keys.map((k) => sortValue(doc, k)) };
  }
  const cmp = decoratedComparator(keys);
  // Documents often come in order already (a collection's documents in insertion order,
  // with ids that grow with time): one pass says so.
  let inOrder = true;
  for (let i = 1; i < entries.length && inOrder; i++) {
    if (slicer.due()) await slicer.next();
    inOrder = cmp(entries[i - 1]!, entries[i]!) <= 0;
  }
  if (inOrder) return docs.slice(0, need);
  if (need * 2 < entries.length) entries = await smallest(entries, need, cmp, slicer);
  const sorted = await mergeSort(entries, cmp, slicer);
  const out = new Array<Document>(Math.min(need, sorted.length));
  for (let i = 0; i < out.length; i++) out[i] = sorted[i]!.doc;
  return out;
}

/** The `k` smallest entries (in no order): a max-heap of k entries, the largest at its root. */
async function smallest<T>(entries: readonly T[], k: number, cmp: (a: T, b: T) => number, slicer: Slicer): Promise<T[]> {
  const heap: T[] = [];
  if (k === 0) return heap;
  for (const e of entries) {
    if (slicer.due()) await slicer.next();
    if (heap.length < k) {
      heap.push(e);
      let i = heap.length - 1;
      while (i > 0) {
        const parent = (i - 1) >> 1;
        if (cmp(heap[parent]!, heap[i]!) >= 0) break;
        [heap[parent], heap[i]] = [heap[i]!, heap[parent]!];
        i = parent;
      }
    } else if (cmp(e, heap[0]!) < 0) {
      heap[0] = e;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let top = i;
        if (l < k && cmp(heap[l]!, heap[top]!) > 0) top = l;
        if (r < k && cmp(heap[r]!, heap[top]!) > 0) top = r;
        if (top === i) break;
        [heap[top], heap[i]] = [heap[i]!, heap[top]!];
        i = top;
      }
    }
  }
  return heap;
}

async function mergeSort<T>(input: T[], cmp: (a: T, b: T) => number, slicer: Slicer): Promise<T[]> {
  const n = input.length;
  let src = input;
  for (let start = 0; start < n; start += SORT_RUN_ENTRIES) {
    if (slicer.due()) await slicer.next();
    const run = src.slice(start, Math.min(n, start + SORT_RUN_ENTRIES)).sort(cmp);
    for (let i = 0; i < run.length; i++) src[start + i] = run[i]!;
  }
  let dst = new Array<T>(n);
  for (let width = SORT_RUN_ENTRIES; width < n; width *= 2) {
    for (let lo = 0; lo < n; lo += 2 * width) {
      const mid = Math.min(n, lo + width);
      const hi = Math.min(n, lo + 2 * width);
      let i = lo;
      let j = mid;
      for (let k = lo; k < hi; k++) {
        if (slicer.due()) await slicer.next();
        if (i < mid && (j >= hi || cmp(src[i]!, src[j]!) <= 0)) dst[k] = src[i++]!;
        else dst[k] = src[j++]!;
      }
    }
    [src, dst] = [dst, src];
  }
  return src;
}
