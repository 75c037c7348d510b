// Keyset pages in the order of a secondary index (issue #14): the page after a cursor
// (store/cursor.ts: the last document's sort values, then its `_id`) starts where the cursor
// is in the index's B+tree and walks on from there, so a page costs what it returns, plus
// the documents the filter rejects on the way, wherever it is; it does not filter and sort
// the matches from the start again.
//
// The answers are those of the query's order (sort.ts: the sort values, then `_id`
// ascending) restricted to the documents after the cursor (cursor.ts isAfter), whichever
// way they are found. Three walks, by what the index's order is within a tie (documents with
// equal sort values):
// - forward, the `_id` right after the sort fields (`{price: 1}` sorted by price ascending,
//   `{cat: 1, price: 1}` with `cat` pinned by the filter): the index's order is the query's
//   order; the walk seeks [sort values, _id] and stops at the page's end.
// - backward, the `_id` right after the sort fields (`{price: 1}` sorted by price
//   descending): the index lists a tie with `_id` descending, the query wants it ascending;
//   the walk goes from tie to tie backwards, and forward within each tie, so it too stops at
//   the page's end (two descents of the tree per tie).
// - an index with fields after the sort's (`{price: 1, name: 1}` sorted by price): a tie is
//   in the order of those fields, so each tie is taken whole and sorted by `_id` (as the first
//   page does, query-exec.ts scanIndexSorted); the page also costs the rest of the cursor's
//   tie and the whole of its last one. A tie of more than SEEK_TIE_KEYS_MAX entries is not
//   taken: the caller answers the rest of the page as before (all the matches after the
//   position, sorted).
//
// Not here (the caller answers as before): a multikey index (an array on a sort field: the
// document is listed once per element, and its sort value is its smallest or largest element,
// so the index's order is not the query's; the planner does not use the index for the order
// then), an index the planner does not choose (another has better bounds for the filter), a
// sort that names `_id` with another field. Missing fields and null are one value in the
// index's order and in the query's (null, key-order.ts), so they seek like any other.
//
// Pure and synchronous: a walk stops when `due()` says so, at a position in the query's order
// that the next walk starts after (the caller takes its turn on the event loop in between,
// src/server/sliced-query.ts), so writes applied meanwhile shift nothing, as between pages.
import type { Collection } from './collection.ts';
import { isAfter, type CursorPosition } from './cursor.ts';
import { TREE_HIGH, TREE_LOW, type IndexKey } from './index-keys.ts';
import type { SecondaryIndex } from './index-secondary.ts';
import { compareValues } from './key-order.ts';
import { planQuery } from './planner.ts';
import type { CompiledFilter } from './query-cache.ts';
import { sortDocuments, type SortKey } from './sort.ts';
import type { Document, Explain, JsonValue } from './types.ts';

/** Entries of one tie (equal sort values) taken and sorted at once, at most, in an index with
 * fields after the sort's: as many as an in-memory sort takes within a slice
 * (query-exec.ts SYNC_SORT_DOCS_MAX). */
export const SEEK_TIE_KEYS_MAX = 2_000;

/** How an index yields the query's order (from the planner's choice). */
export interface IndexSeek {
  readonly index: SecondaryIndex;
  /** [start, end] in tree order, ascending and disjoint (planner.ts). */
  readonly intervals: ReadonlyArray<readonly [IndexKey, IndexKey]>;
  /** The walk goes against the tree's order. */
  readonly reverse: boolean;
  /** The index field of the first sort key; the fields before it are pinned to one value by
   * the filter (the same in every interval). */
  readonly first: number;
  /** The `_id` slot follows the sort fields: within a tie the tree is in `_id` order. */
  readonly idAfterSort: boolean;
}

/** Where a walk ended: the page is full or the index is walked to its end; or its slice is
 * spent, or a tie is too large (`fallback`), after `from` (all before it is in the page). */
export type WalkEnd = { readonly kind: 'done' } | { readonly kind: 'due' | 'fallback'; readonly from: CursorPosition };

/** The index walk for a query with this filter and order, when the planner picks an index
 * that yields the order (undefined otherwise: see the top of this file). */
export function indexSeekFor(coll: Collection, compiled: CompiledFilter, sortKeys: readonly SortKey[]): IndexSeek | undefined {
  if (sortKeys.length === 0 || sortKeys.some((k) => k.path === '_id')) return undefined;
  const plan = planQuery(coll, compiled, sortKeys);
  if (plan.kind !== 'index' || !plan.sortByIndex || plan.index.isMultikey) return undefined;
  const fields = plan.index.spec.fields;
  const first = fields.findIndex(([path]) => path === sortKeys[0]!.path);
  // sortFromIndex (planner.ts) put the sort fields there, one after the other.
  if (first < 0 || sortKeys.some((k, i) => fields[first + i]?.[0] !== k.path)) return undefined;
  return {
    index: plan.index,
    intervals: plan.intervals,
    reverse: plan.reverse,
    first,
    idAfterSort: first + sortKeys.length === fields.length,
  };
}

/**
 * Appends to `page` the matches of `compiled` after `from` in the query's order, until it
 * holds `limit` documents, the index ends, or `due()` (asked after each entry; between ties
 * when the index has fields after the sort's). An `_id` in `returned` is not taken again (a
 * document moved ahead by a write between two walks of one page); the ids taken are added.
 */
export function walkIndexAfter(
  coll: Collection,
  seek: IndexSeek,
  compiled: CompiledFilter,
  sortKeys: readonly SortKey[],
  from: CursorPosition,
  limit: number,
  page: Document[],
  returned: Set<string>,
  explain: Explain,
  due: () => boolean,
): WalkEnd {
  explain.plan = 'index';
  explain.index = seek.index.name;
  explain.intervals = seek.intervals.length;
  if (page.length >= limit || seek.intervals.length === 0) return DONE;
  const walk = new Walk(coll, seek, compiled, sortKeys, limit, page, returned, explain, due);
  if (!seek.idAfterSort) return walk.byTies(from);
  return seek.reverse ? walk.tieByTieBackward(from) : walk.forward(from);
}

const DONE: WalkEnd = { kind: 'done' };

class Walk {
  private readonly n: number;
  private readonly end: number;
  private readonly cmp: (a: IndexKey, b: IndexKey) => number;
  /** The values of the pinned fields before the sort fields. */
  private readonly prefix: readonly unknown[];

  constructor(
    private readonly coll: Collection,
    private readonly seek: IndexSeek,
    private readonly compiled: CompiledFilter,
    private readonly sortKeys: readonly SortKey[],
    private readonly limit: number,
    private readonly page: Document[],
    private readonly returned: Set<string>,
    private readonly explain: Explain,
    private readonly due: () => boolean,
  ) {
    this.n = seek.index.paths.length;
    this.end = seek.first + sortKeys.length;
    this.cmp = seek.index.compare;
    this.prefix = seek.intervals[0]![0].slice(0, seek.first);
  }

  /** The key [pinned values, sort values of `at`, then `rest` up to and with the `_id` slot]. */
  private keyAt(values: readonly unknown[], rest: unknown): unknown[] {
    const key = [...this.prefix, ...values];
    while (key.length <= this.n) key.push(rest);
    return key;
  }

  private positionOf(key: IndexKey, id: string): CursorPosition {
    return { values: key.slice(this.seek.first, this.end) as JsonValue[], id };
  }

  /** Tests the document of an entry; true when it joined the page. */
  private take(key: IndexKey): boolean {
    this.explain.keysExamined++;
    const id = key[this.n] as string;
    if (this.returned.has(id)) return false;
    const doc = this.coll.docs.get(id)!;
    this.explain.docsExamined++;
    if (!this.compiled.test(doc)) return false;
    this.page.push(doc);
    this.returned.add(id);
    return true;
  }

  /** Scans [lo, hi] within the intervals, in the walk's direction. */
  private scanIntervals(lo: IndexKey, hi: IndexKey, visit: (key: IndexKey) => boolean): void {
    const { intervals, reverse } = this.seek;
    let going = true;
    const guarded = (key: IndexKey): boolean => (going = visit(key));
    for (let i = 0; i < intervals.length && going; i++) {
      const [start, end] = intervals[reverse ? intervals.length - 1 - i : i]!;
      if (this.cmp(end, lo) < 0 || this.cmp(start, hi) > 0) continue;
      const from = this.cmp(start, lo) > 0 ? start : lo;
      const to = this.cmp(end, hi) < 0 ? end : hi;
      this.seek.index.scanKeys(from, to, reverse, guarded);
    }
  }

  /** Tree order is the query's order: from [values, id] on, stopping at the page's end. */
  forward(from: CursorPosition): WalkEnd {
    const at = this.keyAt(from.values, from.id);
    let end: WalkEnd = DONE;
    this.scanIntervals(at, this.keyAt([], TREE_HIGH), (key) => {
      if (this.cmp(key, at) === 0) return true; // the cursor's own document
      this.take(key);
      if (this.page.length >= this.limit) return false;
      if (this.due()) {
        end = { kind: 'due', from: this.positionOf(key, key[this.n] as string) };
        return false;
      }
      return true;
    });
    return end;
  }

  /**
   * Backwards from tie to tie, each tie forward in `_id` order: the rest of the cursor's tie
   * (the ids after its own), then each lower tie, found by one step back from the start of the
   * one before, stopping at the page's end.
   */
  tieByTieBackward(from: CursorPosition): WalkEnd {
    const { index } = this.seek;
    let tie: unknown[] = [...this.prefix, ...from.values];
    let after: unknown = from.id;
    for (;;) {
      const lo = [...tie, after];
      let end: WalkEnd | undefined;
      // Within one tie: every entry has the pinned values, and the filter tests each document,
      // so no interval needs to bound it.
      index.scanKeys(lo, [...tie, TREE_HIGH], false, (key) => {
        if (this.cmp(key, lo) === 0) return true; // the cursor's own document
        this.take(key);
        if (this.page.length >= this.limit) end = DONE;
        else if (this.due()) end = { kind: 'due', from: this.positionOf(key, key[this.n] as string) };
        return end === undefined;
      });
      if (end !== undefined) return end;
      let below: IndexKey | undefined;
      this.scanIntervals(this.keyAt([], TREE_LOW), [...tie, TREE_LOW], (key) => {
        below = key;
        return false;
      });
      if (below === undefined) return DONE;
      tie = below.slice(0, this.n);
      after = TREE_LOW;
    }
  }

  /**
   * An index with fields after the sort's: each tie taken whole (at most SEEK_TIE_KEYS_MAX
   * entries), sorted by `_id`; the first one seen may be the cursor's, whose documents up to
   * the cursor's `_id` are not taken.
   */
  byTies(from: CursorPosition): WalkEnd {
    const { reverse } = this.seek;
    const at = this.keyAt(from.values, reverse ? TREE_HIGH : TREE_LOW);
    const lo = reverse ? this.keyAt([], TREE_LOW) : at;
    const hi = reverse ? at : this.keyAt([], TREE_HIGH);
    let position = from;
    let first = true;
    let tieKey: IndexKey | undefined;
    let tieKeys = 0;
    let lastId = '';
    let matches: Document[] = [];
    let end: WalkEnd = DONE;
    const flush = (): void => {
      sortDocuments(matches, []);
      for (const doc of matches) {
        if (this.page.length >= this.limit) break;
        this.page.push(doc);
        this.returned.add(doc._id);
      }
      position = this.positionOf(tieKey!, lastId);
      first = false;
      tieKey = undefined;
      tieKeys = 0;
      lastId = '';
      matches = [];
    };
    this.scanIntervals(lo, hi, (key) => {
      if (tieKey !== undefined && !this.sameTie(key, tieKey)) {
        const wasFirst = first;
        flush();
        if (this.page.length >= this.limit) return false;
        // Not after the first tie: the next walk would start at it again (it may be the
        // cursor's), and a slice that is always due would never go further.
        if (!wasFirst && this.due()) {
          end = { kind: 'due', from: position };
          return false;
        }
      }
      tieKey ??= key;
      if (++tieKeys > SEEK_TIE_KEYS_MAX) {
        end = { kind: 'fallback', from: position };
        return false;
      }
      this.explain.keysExamined++;
      const id = key[this.n] as string;
      if (id > lastId) lastId = id;
      if (this.returned.has(id)) return true;
      const doc = this.coll.docs.get(id)!;
      this.explain.docsExamined++;
      if (first && !isAfter(doc, from, this.sortKeys)) return true;
      if (this.compiled.test(doc)) matches.push(doc);
      return true;
    });
    if (end.kind === 'done' && tieKey !== undefined) flush();
    return end;
  }

  private sameTie(a: IndexKey, b: IndexKey): boolean {
    for (let i = this.seek.first; i < this.end; i++) if (compareValues(a[i], b[i]) !== 0) return false;
    return true;
  }
}
