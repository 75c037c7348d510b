// Keyset pages (store/cursor.ts) read synchronously, for the embedded API
// (EmbeddedCollection.findPage): the same walks as the server's sliced pages
// (src/server/sliced-query.ts findPage), run in one piece, so a page answers what the HTTP
// API answers for the same query and cursor.
// - no cursor: the first `limit` matches in the query's order (query-exec.ts);
// - `_id` order with no index to use: the _id tree walked from the cursor's `_id`;
// - the order of an index the planner picks for it: the index walked from the cursor's
//   position (index-seek.ts), the rest selected by the sort when a tie is too large;
// - otherwise: the matches after the cursor (cursor.ts isAfter), selected by the sort.
import type { Collection } from './collection.ts';
import { BadRequestError } from './errors.ts';
import { cursorAfter, isAfter, parseCursor, type CursorPosition } from './cursor.ts';
import { indexSeekFor, walkIndexAfter } from './index-seek.ts';
import { planQuery } from './planner.ts';
import type { CompiledFilter } from './query-cache.ts';
import { executeQuery, type ExecResult } from './query-exec.ts';
import { idOrder, normalizeSort, type SortKey } from './sort.ts';
import type { Document, FindOptions } from './types.ts';

/**
 * Where a page request starts: undefined for the first page, else the cursor's position,
 * checked as the HTTP API checks it (BadRequestError, 400 BAD_REQUEST): a cursor needs a
 * limit (the page size) and excludes skip, and must be one this store issues for this sort.
 */
export function pageStart(cursor: unknown, options: FindOptions): CursorPosition | undefined {
  if (cursor === undefined) return undefined;
  if (options.limit === undefined || options.limit === 0) throw new BadRequestError('cursor: needs a limit (the page size)');
  if (options.skip !== undefined) throw new BadRequestError('cursor: cannot be combined with skip');
  return parseCursor(cursor, normalizeSort(options.sort));
}

export interface PageRun extends ExecResult {
  /** The cursor of the next page; undefined when this page is not full (the last one). */
  readonly next: string | undefined;
}

/** One page: the first `limit` matches of `compiled` after `after` (from the start without
 * it; every match when `limit` is 0, with no next page). */
export function runPage(
  coll: Collection | undefined,
  inner: CompiledFilter,
  sortKeys: readonly SortKey[],
  limit: number,
  after: CursorPosition | undefined,
): PageRun {
  const result = pageDocs(coll, inner, sortKeys, limit, after);
  const last = result.docs[result.docs.length - 1];
  const next = limit > 0 && result.docs.length === limit && last !== undefined ? cursorAfter(last, sortKeys) : undefined;
  return { ...result, next };
}

function pageDocs(
  coll: Collection | undefined,
  inner: CompiledFilter,
  sortKeys: readonly SortKey[],
  limit: number,
  after: CursorPosition | undefined,
): ExecResult {
  if (after === undefined || coll === undefined) return executeQuery(coll, inner, { sortKeys, skip: 0, limit });
  const compiled = afterPosition(inner, after, sortKeys, undefined);
  const { natural, reverse } = idOrder(sortKeys);
  if (natural && planQuery(coll, compiled, sortKeys).kind === 'scan') return walkIdsAfter(coll, compiled, after.id, reverse, limit);
  const seek = indexSeekFor(coll, inner, sortKeys);
  if (seek === undefined) return executeQuery(coll, compiled, { sortKeys, skip: 0, limit });
  const docs: Document[] = [];
  const returned = new Set<string>();
  const explain: ExecResult['explain'] = { plan: 'index', keysExamined: 0, docsExamined: 0, nReturned: 0, sort: 'index' };
  const end = walkIndexAfter(coll, seek, inner, sortKeys, after, limit, docs, returned, explain, () => false);
  if (end.kind !== 'done' && docs.length < limit) {
    // A tie too large to take at once: the rest of the page as the sort selects it.
    const more = executeQuery(coll, afterPosition(inner, end.from, sortKeys, returned), { sortKeys, skip: 0, limit: limit - docs.length });
    for (const doc of more.docs) docs.push(doc);
    explain.keysExamined += more.explain.keysExamined;
    explain.docsExamined += more.explain.docsExamined;
    explain.sort = more.explain.sort;
  }
  explain.nReturned = docs.length;
  return { docs, explain };
}

/** `inner` restricted to the documents after `position` (and not in `returned`). */
function afterPosition(
  inner: CompiledFilter,
  position: CursorPosition,
  sortKeys: readonly SortKey[],
  returned: ReadonlySet<string> | undefined,
): CompiledFilter {
  return {
    ...inner,
    matchAll: false,
    test: (doc) => (returned === undefined || !returned.has(doc._id)) && isAfter(doc, position, sortKeys) && inner.test(doc),
  };
}

/** The first `limit` matches after `startId` in _id order (descending when reverse), walked in
 * the _id tree from there. */
function walkIdsAfter(coll: Collection, compiled: CompiledFilter, startId: string, reverse: boolean, limit: number): ExecResult {
  const explain: ExecResult['explain'] = { plan: 'scan', keysExamined: 0, docsExamined: 0, nReturned: 0, sort: 'index' };
  const docs: Document[] = [];
  const visit = (id: string, doc: Document): boolean => {
    if (id === startId) return true; // the scan's bound is inclusive
    explain.keysExamined++;
    explain.docsExamined++;
    if (compiled.test(doc)) docs.push(doc);
    return docs.length < limit;
  };
  if (reverse) coll.byId.scan(undefined, startId, true, visit);
  else coll.byId.scan(startId, undefined, false, visit);
  explain.nReturned = docs.length;
  return { docs, explain };
}
