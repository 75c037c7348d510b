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
  const decorated = docs.map((doc) => ({ doc, values: keys.map((k) => sortValue(doc, k)) }));
  decorated.sort((a, b) => {
    for (let i = 0; i < keys.length; i++) {
      const c = compareValues(a.values[i], b.values[i]);
      if (c !== 0) return keys[i]!.dir === 1 ? c : -c;
    }
    return compareIds(a.doc, b.doc);
  });
  for (let i = 0; i < docs.length; i++) docs[i] = decorated[i]!.doc;
  return docs;
}

/** True when a and b have equal values for every sort key. */
export function sameSortValues(a: Document, b: Document, keys: readonly SortKey[]): boolean {
  for (const k of keys) if (compareValues(sortValue(a, k), sortValue(b, k)) !== 0) return false;
  return true;
}
