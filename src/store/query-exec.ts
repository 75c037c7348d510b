// Runs a plan: produces candidates, re-checks each with the full filter,
// orders, skips and limits. Ordered sources (an _id scan in natural order, an
// index that yields the sort) stream and stop early; the others collect all
// matches and sort in memory.

import type { Collection } from './collection.ts';
import { TREE_HIGH, TREE_LOW } from './index-keys.ts';
import { WRITE_SCAN_DOCS_MAX } from './commands.ts';
import { ValidationError } from './errors.ts';
import type { CompiledFilter } from './query-cache.ts';
import { planQuery, type Plan } from './planner.ts';
import { idOrder, sameSortValues, sortDocuments, type SortKey } from './sort.ts';
import type { Document, Explain } from './types.ts';

export interface ExecOptions {
  sortKeys: readonly SortKey[];
  skip: number;
  /** 0: no limit. */
  limit: number;
  /** Count only: order does not matter. */
  countOnly?: boolean;
  /** Documents the query may examine, at most, else a ValidationError (writes: writeExaminedMax). */
  examinedMax?: number;
  /** The bound is what a command's earlier filters left of one budget (apply rules 2): the
   * error says so. Rule 1 entries keep the words they were answered with then. */
  examinedShared?: boolean;
  /**
   * A performance.now() time after which the run is abandoned with a SliceDeadline (the
   * server's reads try this synchronous executor for one slice first, then run in slices:
   * src/server/sliced-query.ts). Checked every few documents; an in-memory sort of more than
   * SYNC_SORT_DOCS_MAX matches is abandoned at once, as it could not finish within a slice.
   */
  deadline?: number;
}

/** Matches an in-memory sort takes within a slice, at most (100,000 took 175 to 375 ms). */
export const SYNC_SORT_DOCS_MAX = 2_000;
/** Documents examined between two looks at the clock when a deadline is set (a look costs
 * about as much as testing a simple filter; a wide `$or` costs 100 µs per document). */
const DEADLINE_CHECK_DOCS = 8;

/** Thrown by executeQuery when its deadline passes: nothing was returned, nothing changed. */
export class SliceDeadline extends Error {
  constructor() {
    super('the synchronous run of a read passed its deadline');
  }
}

/** Weight of a filter for WRITE_SCAN_DOCS_MAX: 1 plus its operators and field conditions
 * (an `$or` of 1,024 branches tests each document up to 1,024 times). */
export function filterWeight(filter: unknown): number {
  if (typeof filter !== 'object' || filter === null) return 0;
  let weight = 0;
  for (const value of Array.isArray(filter) ? filter : Object.values(filter as Record<string, unknown>)) weight += 1 + filterWeight(value);
  return weight;
}

/** Documents a write with this filter may examine when it is applied (at least 1). */
export function writeExaminedMax(filter: unknown): number {
  return Math.max(1, Math.floor(WRITE_SCAN_DOCS_MAX / Math.max(1, filterWeight(filter))));
}

function overExamined(max: number, shared: boolean): never {
  const less = shared ? ", less what a transaction's earlier ops examined" : '';
  throw new ValidationError(
    `filter: a write may examine at most ${max} documents with this filter (WRITE_SCAN_DOCS_MAX, ${WRITE_SCAN_DOCS_MAX}, divided by the filter's size${less}); index a field it tests, or narrow it`,
  );
}

/** Bounds on the documents a run examines: `at` is the next count at which check() runs, so
 * that the loops pay one comparison per document (the clock is read every few documents). */
class ExamineGuard {
  at: number;
  constructor(
    private readonly examinedMax: number,
    private readonly deadline: number | undefined,
    private readonly shared: boolean,
  ) {
    this.at = deadline === undefined ? examinedMax : Math.min(examinedMax, DEADLINE_CHECK_DOCS);
  }

  check(examined: number): void {
    if (examined > this.examinedMax) overExamined(this.examinedMax, this.shared);
    if (this.deadline !== undefined && performance.now() >= this.deadline) throw new SliceDeadline();
    this.at = Math.min(this.examinedMax, examined + (this.deadline === undefined ? Infinity : DEADLINE_CHECK_DOCS));
  }
}

export interface ExecResult {
  docs: Document[];
  explain: Explain;
}

export function executeQuery(coll: Collection | undefined, compiled: CompiledFilter, opts: ExecOptions): ExecResult {
  const explain: Explain = { plan: 'scan', keysExamined: 0, docsExamined: 0, nReturned: 0, sort: 'index' };
  if (coll === undefined) return { docs: [], explain };
  const plan = planQuery(coll, compiled, opts.sortKeys);
  const need = opts.limit === 0 ? Infinity : opts.skip + opts.limit;
  const { natural, reverse: idReverse } = idOrder(opts.sortKeys);
  const guard = new ExamineGuard(opts.examinedMax ?? Infinity, opts.deadline, opts.examinedShared === true);
  let matches: Document[];
  let ordered: boolean;

  switch (plan.kind) {
    case 'id': {
      explain.plan = 'id';
      matches = [];
      const ids = idReverse ? plan.ids.slice().reverse() : plan.ids;
      for (const id of ids) {
        explain.keysExamined++;
        const doc = coll.docs.get(id);
        if (doc === undefined) continue;
        if (++explain.docsExamined > guard.at) guard.check(explain.docsExamined);
        if (compiled.test(doc)) matches.push(doc);
        if (natural && matches.length >= need) break;
      }
      ordered = natural || opts.countOnly === true;
      break;
    }
    case 'index':
      explain.plan = 'index';
      explain.index = plan.index.name;
      explain.intervals = plan.intervals.length;
      if (plan.sortByIndex && !opts.countOnly) {
        matches = scanIndexSorted(coll, compiled, plan, opts.sortKeys, need, explain, guard);
        ordered = true;
      } else if (natural && !idReverse && scanYieldsIdOrder(plan)) {
        // Already in the result's order: stops at `need`, and nothing to sort.
        matches = scanIndexUnordered(coll, compiled, plan, explain, guard, opts.countOnly === true ? Infinity : need);
        ordered = true;
      } else {
        matches = scanIndexUnordered(coll, compiled, plan, explain, guard, Infinity);
        ordered = opts.countOnly === true;
      }
      break;
    case 'scan': {
      explain.plan = 'scan';
      matches = [];
      const stopEarly = natural || opts.countOnly === true ? need : Infinity;
      coll.byId.scan(undefined, undefined, natural && idReverse, (_id, doc) => {
        if (++explain.docsExamined > guard.at) guard.check(explain.docsExamined);
        if (compiled.test(doc)) matches.push(doc);
        return matches.length < stopEarly;
      });
      ordered = natural || opts.countOnly === true;
      break;
    }
  }
  if (!ordered) {
    if (opts.deadline !== undefined && matches.length > SYNC_SORT_DOCS_MAX) throw new SliceDeadline();
    explain.sort = 'memory';
    sortDocuments(matches, opts.sortKeys);
  }
  const out = opts.skip === 0 && matches.length <= need ? matches : matches.slice(opts.skip, need);
  explain.nReturned = out.length;
  return { docs: out, explain };
}

function scanIndexUnordered(
  coll: Collection,
  compiled: CompiledFilter,
  plan: Extract<Plan, { kind: 'index' }>,
  explain: Explain,
  guard: ExamineGuard,
  /** Matches after which the scan stops (Infinity: all). */
  need: number,
): Document[] {
  // A document is listed once per key it has: more than once only in a multikey index (the
  // intervals are disjoint, so a document with one key falls in one of them at most).
  const seen = plan.index.isMultikey ? new Set<string>() : undefined;
  const matches: Document[] = [];
  for (const [start, end] of plan.intervals) {
    plan.index.scan(start, end, false, (_, id) => {
      explain.keysExamined++;
      if (seen !== undefined) {
        if (seen.has(id)) return true;
        seen.add(id);
      }
      const doc = coll.docs.get(id)!;
      if (++explain.docsExamined > guard.at) guard.check(explain.docsExamined);
      if (compiled.test(doc)) matches.push(doc);
      return matches.length < need;
    });
    if (matches.length >= need) break;
  }
  return matches;
}

/**
 * True when scanning the plan's index meets each candidate once and in ascending `_id` order:
 * an index with one key per document (not multikey) and one interval that pins every indexed
 * field to one value, so that its keys differ only in their trailing `_id`, which the tree
 * orders ascending whatever the fields' directions (compareIdSlot), as sortDocuments does.
 * An equality query on an index (`{email: 'a@b'}`) is such a scan.
 */
export function scanYieldsIdOrder(plan: Extract<Plan, { kind: 'index' }>): boolean {
  if (plan.index.isMultikey || plan.intervals.length !== 1) return false;
  const [start, end] = plan.intervals[0]!;
  const n = plan.index.paths.length;
  if (start.length !== n + 1 || end.length !== n + 1 || start[n] !== TREE_LOW || end[n] !== TREE_HIGH) return false;
  for (let i = 0; i < n; i++) {
    const v = start[i];
    // A value (not a bound object or a sentinel), the same at both ends.
    if (v !== end[i] || (typeof v === 'object' && v !== null) || typeof v === 'symbol') return false;
  }
  return true;
}

/**
 * Streams an index in sort order. Documents with equal sort values form a
 * group that is flushed sorted by _id (the index orders them by other fields,
 * or by _id the wrong way when scanning backwards).
 */
function scanIndexSorted(
  coll: Collection,
  compiled: CompiledFilter,
  plan: Extract<Plan, { kind: 'index' }>,
  sortKeys: readonly SortKey[],
  need: number,
  explain: Explain,
  guard: ExamineGuard,
): Document[] {
  const out: Document[] = [];
  let group: Document[] = [];
  const flush = (): void => {
    if (group.length > 1) sortDocuments(group, []);
    for (const d of group) out.push(d);
    group = [];
  };
  const intervals = plan.reverse ? plan.intervals.slice().reverse() : plan.intervals;
  let done = false;
  for (const [start, end] of intervals) {
    if (done) break;
    plan.index.scan(start, end, plan.reverse, (_, id) => {
      explain.keysExamined++;
      const doc = coll.docs.get(id)!;
      if (++explain.docsExamined > guard.at) guard.check(explain.docsExamined);
      if (!compiled.test(doc)) return true;
      if (group.length > 0 && !sameSortValues(group[0]!, doc, sortKeys)) {
        flush();
        if (out.length >= need) {
          done = true;
          return false;
        }
      }
      group.push(doc);
      return true;
    });
  }
  flush();
  return out;
}
