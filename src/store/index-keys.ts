// Index keys: what a document contributes to a secondary index, and how keys
// are ordered in the index's B+tree.
//
// A key is the tuple [value of field 1, ..., value of field n, _id]. The
// trailing _id makes every entry unique in the tree and orders duplicates.
// The tree holds a key as two parts, its head (the field's value, or the array
// of the n values of a compound index) and its _id, in the parallel arrays of
// its leaves: no array per entry (BTree with a tie order). The planner and the
// seeks still speak of whole keys, IndexKey; SecondaryIndex converts.
// Values come from dotted paths; a path that runs through arrays yields every
// element (multikey), flattening nested arrays, which is a superset of what
// mingo's filters look at: the planner may over-fetch, never under-fetch,
// because every candidate is re-checked against the full filter.

import { ValidationError } from './errors.ts';
import { compareValues } from './key-order.ts';
import type { JsonValue } from './types.ts';

export type IndexKey = readonly unknown[];

/** A key without its _id: the value of a single-field index, the n values of a compound one. */
export type IndexHead = unknown;

/** The _id part of an entry, or in a bound a sentinel below or above every _id. */
export type IdSlot = string | typeof TREE_LOW | typeof TREE_HIGH;

/** Tree-order sentinels: below / above every value of a key position, whatever its direction. */
export const TREE_LOW: unique symbol = Symbol('TREE_LOW');
export const TREE_HIGH: unique symbol = Symbol('TREE_HIGH');

export function makeKeyComparator(dirs: ReadonlyArray<1 | -1>): (a: IndexKey, b: IndexKey) => number {
  const n = dirs.length;
  const head = makeHeadComparator(dirs);
  // A compound head compares the first n values of whatever array it is given: a whole key too.
  if (n === 1) return (a, b) => head(a[0], b[0]) || compareIdSlot(a[1], b[1]);
  return (a, b) => head(a, b) || compareIdSlot(a[n], b[n]);
}

/** The order of heads: by their field values, each in its direction (a sentinel ends it either
 * way); 0 when every value is equal (the _ids then decide). */
export function makeHeadComparator(dirs: ReadonlyArray<1 | -1>): (a: IndexHead, b: IndexHead) => number {
  if (dirs.length === 1) {
    // The common single-field index, specialised: this runs ~25 times per lookup.
    const d = dirs[0]!;
    return (x, y) => {
      if (x === y) return 0;
      const tx = typeof x;
      if (tx === typeof y && (tx === 'string' || tx === 'number')) return (x as string) < (y as string) ? -d : d;
      const c = compareField(x, y);
      return c === 2 || c === -2 ? c / 2 : d * c;
    };
  }
  return (a, b) => compareFieldValues(a as IndexKey, b as IndexKey, dirs);
}

/** Two keys by their field values, each in its direction (a sentinel ends it either way): 0
 * when every value is equal, whatever the _ids. */
function compareFieldValues(a: IndexKey, b: IndexKey, dirs: ReadonlyArray<1 | -1>): number {
  for (let i = 0; i < dirs.length; i++) {
    const x = a[i];
    const y = b[i];
    if (x === y) continue;
    const c = compareField(x, y);
    if (c === 2 || c === -2) return c / 2;
    if (c !== 0) return dirs[i] === 1 ? c : -c;
  }
  return 0;
}

/** ±1 (or 0) in value order, or ±2 when a tree sentinel decides (not subject to direction). */
function compareField(x: unknown, y: unknown): number {
  if (x === y) return 0;
  if (x === TREE_LOW || y === TREE_HIGH) return -2;
  if (x === TREE_HIGH || y === TREE_LOW) return 2;
  const c = compareValues(x, y);
  return c < 0 ? -1 : c > 0 ? 1 : 0;
}

export function compareIdSlot(x: unknown, y: unknown): number {
  if (x === y) return 0;
  if (x === TREE_LOW || y === TREE_HIGH) return -1;
  if (x === TREE_HIGH || y === TREE_LOW) return 1;
  return (x as string) < (y as string) ? -1 : 1; // distinct _id strings
}

export interface PathValues {
  values: JsonValue[];
  /** True when the path went through an array (the document is multikey for it). */
  viaArray: boolean;
}

function isIndex(seg: string): boolean {
  return /^(0|[1-9][0-9]*)$/.test(seg);
}

/** All values at a dotted path (null when there are none), deduplicated. */
export function valuesAtPath(doc: unknown, segs: readonly string[]): PathValues {
  // Fast path: a plain nested lookup with no arrays on the way.
  let cur: unknown = doc;
  let i = 0;
  for (; i < segs.length; i++) {
    if (typeof cur !== 'object' || cur === null || Array.isArray(cur)) break;
    cur = Object.hasOwn(cur, segs[i]!) ? (cur as Record<string, unknown>)[segs[i]!] : undefined;
  }
  if (i === segs.length && !Array.isArray(cur)) return { values: [cur === undefined ? null : (cur as JsonValue)], viaArray: false };
  if (i < segs.length && !Array.isArray(cur)) return { values: [null], viaArray: false };

  const out: JsonValue[] = [];
  const state = { viaArray: false };
  collect(cur, segs, i, out, state);
  if (out.length === 0) out.push(null);
  return { values: dedupe(out), viaArray: state.viaArray };
}

function collect(v: unknown, segs: readonly string[], i: number, out: JsonValue[], state: { viaArray: boolean }): void {
  if (Array.isArray(v)) {
    state.viaArray = true;
    if (i === segs.length) {
      if (v.length === 0) out.push([]);
      for (const el of v) {
        if (Array.isArray(el)) collect(el, segs, i, out, state);
        else out.push(el as JsonValue);
      }
      return;
    }
    const seg = segs[i]!;
    // A numeric segment may mean "element n" as well as a field of each element.
    if (isIndex(seg)) {
      const n = Number(seg);
      if (n < v.length) collect(v[n], segs, i + 1, out, state);
    }
    for (const el of v) {
      if (Array.isArray(el)) collect(el, segs, i, out, state);
      else if (typeof el === 'object' && el !== null && Object.hasOwn(el, seg)) {
        collect((el as Record<string, unknown>)[seg], segs, i + 1, out, state);
      }
    }
    return;
  }
  if (i === segs.length) {
    if (v !== undefined) out.push(v as JsonValue);
    return;
  }
  if (typeof v === 'object' && v !== null && Object.hasOwn(v, segs[i]!)) {
    collect((v as Record<string, unknown>)[segs[i]!], segs, i + 1, out, state);
  }
}

function dedupe(values: JsonValue[]): JsonValue[] {
  if (values.length < 2) return values;
  const sorted = values.slice().sort(compareValues);
  const out: JsonValue[] = [sorted[0]!];
  for (let i = 1; i < sorted.length; i++) {
    if (compareValues(sorted[i]!, out[out.length - 1]!) !== 0) out.push(sorted[i]!);
  }
  return out;
}

/** What scalarValueAt answers when the path meets an array (the document is multikey for it). */
export const ARRAY_ON_PATH: unique symbol = Symbol('ARRAY_ON_PATH');

/**
 * The value a path indexes in a document when it meets no array on the way nor at the end
 * (null when it ends early or finds nothing), else ARRAY_ON_PATH: valuesAtPath's answer for
 * most documents, without its allocations.
 */
export function scalarValueAt(doc: unknown, segs: readonly string[]): unknown {
  let cur: unknown = doc;
  let i = 0;
  for (; i < segs.length; i++) {
    if (typeof cur !== 'object' || cur === null) break;
    if (Array.isArray(cur)) return ARRAY_ON_PATH;
    cur = Object.hasOwn(cur, segs[i]!) ? (cur as Record<string, unknown>)[segs[i]!] : undefined;
  }
  if (Array.isArray(cur)) return ARRAY_ON_PATH;
  return i === segs.length && cur !== undefined ? cur : null;
}

/**
 * The one head of a document whose indexed paths meet no array, or ARRAY_ON_PATH when one
 * does: headsForDocument then collects every value. This runs for every index on every write.
 */
function scalarHead(doc: Readonly<Record<string, unknown>>, paths: ReadonlyArray<readonly string[]>): IndexHead {
  if (paths.length === 1) return scalarValueAt(doc, paths[0]!);
  const n = paths.length;
  const head = new Array<unknown>(n);
  for (let f = 0; f < n; f++) {
    const value = scalarValueAt(doc, paths[f]!);
    if (value === ARRAY_ON_PATH) return ARRAY_ON_PATH;
    head[f] = value;
  }
  return head;
}

export interface DocHeads {
  /** The heads of the document's keys (its _id completes each), distinct. */
  heads: IndexHead[];
  multikey: boolean;
}

/**
 * The index keys of a document for the given field paths, as heads. At most one field
 * may run through an array ("parallel arrays" would need a cross product).
 */
export function headsForDocument(doc: Readonly<Record<string, unknown>>, paths: ReadonlyArray<readonly string[]>, indexName: string): DocHeads {
  const head = scalarHead(doc, paths);
  if (head !== ARRAY_ON_PATH) return { heads: [head], multikey: false };
  const id = doc['_id'];
  if (paths.length === 1) {
    const pv = valuesAtPath(doc, paths[0]!);
    return { heads: pv.values, multikey: pv.viaArray };
  }
  const perField: JsonValue[][] = [];
  let arrayField = -1;
  for (let f = 0; f < paths.length; f++) {
    const pv = valuesAtPath(doc, paths[f]!);
    if (pv.viaArray) {
      if (arrayField !== -1) {
        throw new ValidationError(
          `cannot index parallel arrays: fields "${paths[arrayField]!.join('.')}" and "${paths[f]!.join('.')}" of index "${indexName}" are both arrays in document "${String(id)}"`,
        );
      }
      arrayField = f;
    }
    perField.push(pv.values);
  }
  if (arrayField === -1) return { heads: [perField.map((v) => v[0])], multikey: false };
  const heads: IndexHead[] = perField[arrayField]!.map((value) => {
    const h: unknown[] = perField.map((v) => v[0]);
    h[arrayField] = value;
    return h;
  });
  return { heads, multikey: true };
}
