// find, count and explain for the HTTP routes, in slices that wait for their turn on the
// event loop (loop-turns.ts), so that no read holds a node's loop for longer than one slice
// (issue #11). The results are those of Store.find/count/explain (a property test compares
// them: test/server/sliced-query.property.test.ts); the embedded API keeps the synchronous
// store methods.
//
// 0. The filter is compiled (a wide `$or`/`$and`/`$nor` branch by branch between turns:
//    Store.readTargetSliced), unless cached.
// 1. The synchronous executor runs first with the slice's deadline: most reads (an index
//    lookup, a small collection, a scan that stops early) finish within it, as before.
// 2. Otherwise the candidates are taken at the start of a turn: the documents of an `_id`
//    list or of an index range (up to INDEX_CAPTURE_KEYS_MAX keys) in one piece, or else a
//    CollectionView of the whole collection, walked in _id order over several turns.
//    Documents are frozen and replaced, never changed, on a write, so an array of references
//    is the collection as of that moment; the view gets from the collection the previous
//    document of each id written ahead of its walk, so it too reads that moment's state.
//    That moment is at or after the read barrier the route waited for: the read keeps its
//    consistency level, whatever is applied meanwhile. A view spent by more than
//    VIEW_PRE_IMAGES_MAX such writes is replaced by the collection as it is then, in one
//    piece (a later moment, still after the barrier).
// 3. The candidates are tested against the whole filter, sorted (top-k when a limit is
//    given; not at all for the view in _id order, which stops at skip + limit) and
//    projected in slices.
import { Query } from 'mingo';
import { VIEW_PRE_IMAGES_MAX, type Collection, type CollectionView } from '../store/collection.ts';
import { executeQuery, SliceDeadline } from '../store/query-exec.ts';
import { MINGO_OPTIONS, type CompiledFilter } from '../store/query-cache.ts';
import { planQuery } from '../store/planner.ts';
import { idOrder, normalizeSort, sortDocumentsSliced, type Slicer, type SortKey } from '../store/sort.ts';
import type { Store } from '../store/store.ts';
import type { Document, Explain, Filter, FindOptions, JsonObject } from '../store/types.ts';
import { validateFindOptions } from '../store/validate.ts';
import { cursorAfter, isAfter, type CursorPosition } from '../store/cursor.ts';
import { indexSeekFor, walkIndexAfter } from '../store/index-seek.ts';

/** Index keys taken in one piece, at most: with their documents looked up, ~4 ms. A wider
 * range takes the whole collection instead (an array copy: ~10 ms per 1,000,000 documents)
 * and tests every document, in slices. */
export const INDEX_CAPTURE_KEYS_MAX = 20_000;
/** Documents projected per call of mingo's projector (a call has a fixed cost of a few µs). */
const PROJECT_CHUNK_DOCS = 16;

const projector = new Query({}, MINGO_OPTIONS);

/** For tests: a lower INDEX_CAPTURE_KEYS_MAX exercises the whole-collection view, a lower
 * VIEW_PRE_IMAGES_MAX the capture in one piece that follows a spent view. */
export interface SlicedTuning {
  readonly indexCaptureKeysMax?: number;
  readonly viewPreImagesMax?: number;
}

export interface SlicedResult {
  readonly docs: Document[] | JsonObject[];
  readonly explain: Explain;
}

interface ReadSpec {
  readonly sortKeys: readonly SortKey[];
  readonly skip: number;
  readonly limit: number;
  readonly countOnly: boolean;
}

export async function findSliced(
  store: Store,
  collection: string,
  filter: Filter,
  options: FindOptions,
  slicer: Slicer & { deadline: number },
  tuning: SlicedTuning = {},
): Promise<SlicedResult> {
  validateFindOptions(options);
  const query: ReadSpec = { sortKeys: normalizeSort(options.sort), skip: options.skip ?? 0, limit: options.limit ?? 0, countOnly: false };
  const result = await run(await store.readTargetSliced(collection, filter, slicer), query, slicer, tuning);
  if (options.projection === undefined || Object.keys(options.projection).length === 0) return result;
  const projected: JsonObject[] = [];
  for (let i = 0; i < result.docs.length; i += PROJECT_CHUNK_DOCS) {
    if (slicer.due()) await slicer.next();
    const chunk = result.docs.slice(i, i + PROJECT_CHUNK_DOCS);
    for (const doc of projector.find(chunk, options.projection).all()) projected.push(doc as JsonObject);
  }
  return { docs: projected, explain: result.explain };
}

export interface PageResult extends SlicedResult {
  /** The cursor of the next page; undefined when this page is not full (the last one). */
  readonly next: string | undefined;
}

/**
 * One page of a query in keyset order (store/cursor.ts): the first `limit` matches after
 * `after` (from the start without it). In plain `_id` order with no index to use, the walk
 * starts at the cursor's `_id` in the _id tree; in the order of an index the planner picks
 * for it, at the cursor's sort values and `_id` in that index (store/index-seek.ts): so a
 * page costs what it returns (and the filter's rejects), wherever it is. In another order (no
 * such index, a multikey one, a sort naming `_id` with another field), the matches after the
 * cursor are selected by the sort (top-k), as the first page is.
 * A walk that spans several turns goes on after the last position it visited: each page is
 * exact about the documents that stayed, as pages are between each other.
 */
export async function findPage(
  store: Store,
  collection: string,
  filter: Filter,
  options: FindOptions & { readonly limit: number },
  after: CursorPosition | undefined,
  slicer: Slicer & { deadline: number },
): Promise<PageResult> {
  validateFindOptions(options);
  const sortKeys = normalizeSort(options.sort);
  const target = await store.readTargetSliced(collection, filter, slicer);
  let result: SlicedResult;
  if (after === undefined) {
    result = await run(target, { sortKeys, skip: 0, limit: options.limit, countOnly: false }, slicer, {});
  } else {
    const inner = target.compiled;
    const compiled: CompiledFilter = { ...inner, matchAll: false, test: (doc) => isAfter(doc, after, sortKeys) && inner.test(doc) };
    const coll = target.coll();
    const { natural, reverse } = idOrder(sortKeys);
    if (natural && coll !== undefined && planQuery(coll, compiled, sortKeys).kind === 'scan') {
      result = await walkIdsAfter(target.coll, compiled, after.id, reverse, options.limit, slicer);
    } else if (coll !== undefined && indexSeekFor(coll, inner, sortKeys) !== undefined) {
      result = await walkIndexPage(target, after, sortKeys, options.limit, slicer);
    } else {
      result = await run({ coll: target.coll, compiled }, { sortKeys, skip: 0, limit: options.limit, countOnly: false }, slicer, {});
    }
  }
  const raw = result.docs as Document[];
  const last = raw[raw.length - 1];
  const next = options.limit > 0 && raw.length === options.limit && last !== undefined ? cursorAfter(last, sortKeys) : undefined;
  if (options.projection === undefined || Object.keys(options.projection).length === 0) return { ...result, next };
  const projected: JsonObject[] = [];
  for (let i = 0; i < raw.length; i += PROJECT_CHUNK_DOCS) {
    if (slicer.due()) await slicer.next();
    for (const doc of projector.find(raw.slice(i, i + PROJECT_CHUNK_DOCS), options.projection).all()) projected.push(doc as JsonObject);
  }
  return { docs: projected, explain: result.explain, next };
}

/** The first `limit` matches after `startId` in _id order (descending when reverse), walked
 * in the _id tree from there, one slice at a time, each slice going on after the last id. */
async function walkIdsAfter(
  collOf: () => Collection | undefined,
  compiled: CompiledFilter,
  startId: string,
  reverse: boolean,
  limit: number,
  slicer: Slicer & { deadline: number },
): Promise<SlicedResult> {
  const explain = emptyExplain();
  const docs: Document[] = [];
  let from = startId;
  for (;;) {
    const coll = collOf();
    if (coll === undefined) break;
    let sliceOver = false;
    const visit = (id: string, doc: Document): boolean => {
      if (id === from) return true; // the scan's bound is inclusive
      from = id;
      explain.keysExamined++;
      explain.docsExamined++;
      if (compiled.test(doc)) docs.push(doc);
      if (docs.length >= limit) return false;
      if (slicer.due()) {
        sliceOver = true;
        return false;
      }
      return true;
    };
    if (reverse) coll.byId.scan(undefined, from, true, visit);
    else coll.byId.scan(from, undefined, false, visit);
    if (!sliceOver) break;
    await slicer.next();
  }
  explain.nReturned = docs.length;
  return { docs, explain };
}

/**
 * The first `limit` matches after `after` in the order of an index (store/index-seek.ts), one
 * slice at a time. Each slice plans again on the collection as it is then and goes on after
 * the last position the previous one visited; when the index no longer yields the order (it
 * was dropped, or became multikey) or a tie is too large to take at once, the rest of the page
 * is selected as before, by the sort of the matches after that position (run).
 */
async function walkIndexPage(
  target: ReturnType<Store['readTarget']>,
  after: CursorPosition,
  sortKeys: readonly SortKey[],
  limit: number,
  slicer: Slicer & { deadline: number },
): Promise<SlicedResult> {
  const explain = emptyExplain();
  const docs: Document[] = [];
  const returned = new Set<string>();
  const inner = target.compiled;
  const due = (): boolean => slicer.due();
  let from = after;
  for (;;) {
    const coll = target.coll();
    const seek = coll === undefined ? undefined : indexSeekFor(coll, inner, sortKeys);
    if (coll !== undefined && seek !== undefined) {
      const end = walkIndexAfter(coll, seek, inner, sortKeys, from, limit, docs, returned, explain, due);
      if (end.kind === 'done') break;
      from = end.from;
      if (end.kind === 'due') {
        await slicer.next();
        continue;
      }
    }
    // The rest of the page as the sort selects it (a document already in the page is not
    // taken again: a write may have moved it ahead).
    const rest = limit - docs.length;
    if (rest > 0) {
      const position = from;
      const compiled: CompiledFilter = {
        ...inner,
        matchAll: false,
        test: (doc) => !returned.has(doc._id) && isAfter(doc, position, sortKeys) && inner.test(doc),
      };
      const more = await run({ coll: target.coll, compiled }, { sortKeys, skip: 0, limit: rest, countOnly: false }, slicer, {});
      for (const doc of more.docs as Document[]) docs.push(doc);
      explain.keysExamined += more.explain.keysExamined;
      explain.docsExamined += more.explain.docsExamined;
      explain.sort = more.explain.sort;
      if (explain.index === undefined) {
        explain.plan = more.explain.plan;
        if (more.explain.index !== undefined) explain.index = more.explain.index;
      }
    }
    break;
  }
  explain.nReturned = docs.length;
  return { docs, explain };
}

export async function countSliced(
  store: Store,
  collection: string,
  filter: Filter,
  slicer: Slicer & { deadline: number },
  tuning: SlicedTuning = {},
): Promise<number> {
  const target = await store.readTargetSliced(collection, filter, slicer);
  if (target.compiled.matchAll) return target.coll()?.size ?? 0;
  const query: ReadSpec = { sortKeys: [], skip: 0, limit: 0, countOnly: true };
  return (await run(target, query, slicer, tuning)).docs.length;
}

async function run(
  target: ReturnType<Store['readTarget']>,
  query: ReadSpec,
  slicer: Slicer & { deadline: number },
  tuning: SlicedTuning,
): Promise<SlicedResult> {
  // Compiling a filter may have spent the slice (a wide `$or` is compiled in slices, branch by
  // branch, by readTargetSliced): then the synchronous attempt is skipped.
  const { compiled } = target;
  if (performance.now() < slicer.deadline) {
    try {
      return executeQuery(target.coll(), compiled, { ...query, deadline: slicer.deadline });
    } catch (e) {
      if (!(e instanceof SliceDeadline)) throw e;
    }
  }
  // Take the candidates at the start of a slice (the first one is spent), from the collection
  // as it is then (dropped or created meanwhile included).
  await slicer.next();
  const coll = target.coll();
  const explain = emptyExplain();
  if (coll === undefined) return { docs: [], explain };
  const need = query.limit === 0 ? Infinity : query.skip + query.limit;
  const taken = capture(coll, compiled, query, explain, tuning);
  let matches: Document[] | undefined;
  let ordered = taken.ordered;
  if (taken.kind === 'view') {
    matches = await walkView(taken.view, compiled, ordered ? need : Infinity, explain, slicer);
  }
  if (matches === undefined) {
    // Listed candidates; or a view that too many writes spent: the collection as it is now
    // (still at or after the read barrier), in one piece (see VIEW_PRE_IMAGES_MAX).
    const listed = taken.kind === 'list' ? taken : { candidates: captureAll(target.coll(), explain), ordered: query.countOnly };
    ordered = listed.ordered;
    // Ordered candidates stop at `need` matches; the others are all tested, then sorted.
    const stopAt = ordered ? need : Infinity;
    const { candidates } = listed;
    matches = [];
    for (let i = 0; i < candidates.length && matches.length < stopAt; i++) {
      if (slicer.due()) await slicer.next();
      const doc = candidates[i]!;
      explain.docsExamined++;
      if (compiled.test(doc)) matches.push(doc);
    }
  }
  let out: Document[];
  if (ordered) {
    out = query.skip === 0 && matches.length <= need ? matches : matches.slice(query.skip, need);
  } else {
    explain.sort = 'memory';
    out = (await sortDocumentsSliced(matches, query.sortKeys, need, slicer)).slice(query.skip);
  }
  explain.nReturned = out.length;
  return { docs: out, explain };
}

/** Tests the view's documents in slices; undefined when writes spent the view meanwhile. */
async function walkView(
  view: CollectionView,
  compiled: CompiledFilter,
  stopAt: number,
  explain: Explain,
  slicer: Slicer & { deadline: number },
): Promise<Document[] | undefined> {
  const matches: Document[] = [];
  const visit = (doc: Document): boolean => {
    explain.docsExamined++;
    if (compiled.test(doc)) matches.push(doc);
    return matches.length < stopAt;
  };
  const due = (): boolean => slicer.due();
  try {
    while (view.step(visit, due)) {
      await slicer.next();
      if (view.spent) {
        explain.docsExamined = 0;
        return undefined;
      }
    }
    return matches;
  } finally {
    view.close();
  }
}

function emptyExplain(): Explain {
  return { plan: 'scan', keysExamined: 0, docsExamined: 0, nReturned: 0, sort: 'index' };
}

type Taken = { kind: 'list'; candidates: Document[]; ordered: boolean } | { kind: 'view'; view: CollectionView; ordered: boolean };

/**
 * The candidate documents (see the top of this file): a list taken in one piece (an `_id`
 * list, an index range), or a view of the whole collection walked in _id order over several
 * turns; and whether they come in the result's order (an `_id` list, or the view, for a
 * query in `_id` order; a count needs no order).
 */
function capture(coll: Collection, compiled: CompiledFilter, query: ReadSpec, explain: Explain, tuning: SlicedTuning): Taken {
  const keysMax = tuning.indexCaptureKeysMax ?? INDEX_CAPTURE_KEYS_MAX;
  const plan = planQuery(coll, compiled, query.sortKeys);
  const { natural, reverse } = idOrder(query.sortKeys);
  if (plan.kind === 'id') {
    explain.plan = 'id';
    const ids = natural && reverse ? plan.ids.slice().reverse() : plan.ids;
    const candidates: Document[] = [];
    for (const id of ids) {
      explain.keysExamined++;
      const doc = coll.docs.get(id);
      if (doc !== undefined) candidates.push(doc);
    }
    return { kind: 'list', candidates, ordered: natural || query.countOnly };
  }
  if (plan.kind === 'index') {
    const seen = new Set<string>();
    const candidates: Document[] = [];
    let keys = 0;
    for (const [start, end] of plan.intervals) {
      plan.index.scan(start, end, false, (_, id) => {
        if (++keys > keysMax) return false;
        if (seen.has(id)) return true;
        seen.add(id);
        candidates.push(coll.docs.get(id)!);
        return true;
      });
      if (keys > keysMax) break;
    }
    if (keys <= keysMax) {
      explain.plan = 'index';
      explain.index = plan.index.name;
      explain.intervals = plan.intervals.length;
      explain.keysExamined = keys;
      return { kind: 'list', candidates, ordered: query.countOnly };
    }
  }
  explain.plan = 'scan';
  const view = coll.openView(natural && reverse, tuning.viewPreImagesMax ?? VIEW_PRE_IMAGES_MAX);
  return { kind: 'view', view, ordered: natural || query.countOnly };
}

/** The whole collection in one piece (in no order: the document maps' values copy three
 * times faster than the _id tree is walked; the matches are sorted afterwards). */
function captureAll(coll: Collection | undefined, explain: Explain): Document[] {
  explain.plan = 'scan';
  return coll === undefined ? [] : coll.docs.toArray();
}
