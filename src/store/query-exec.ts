// Runs a plan: produces candidates, re-checks each with the full filter,
// orders, skips and limits. Ordered sources (an _id scan in natural order, an
// index that yields the sort) stream and stop early; the others collect all
// matches and sort in memory.

import type { Collection } from './collection.ts';
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
        explain.docsExamined++;
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
        matches = scanIndexSorted(coll, compiled, plan, opts.sortKeys, need, explain);
        ordered = true;
      } else {
        matches = scanIndexUnordered(coll, compiled, plan, explain);
        ordered = opts.countOnly === true;
      }
      break;
    case 'scan': {
      explain.plan = 'scan';
      matches = [];
      const stopEarly = natural || opts.countOnly === true ? need : Infinity;
      coll.byId.scan(undefined, undefined, natural && idReverse, (_id, doc) => {
        explain.docsExamined++;
        if (compiled.test(doc)) matches.push(doc);
        return matches.length < stopEarly;
      });
      ordered = natural || opts.countOnly === true;
      break;
    }
  }
  if (!ordered) {
    explain.sort = 'memory';
    sortDocuments(matches, opts.sortKeys);
  }
  const out = opts.skip === 0 && matches.length <= need ? matches : matches.slice(opts.skip, need);
  explain.nReturned = out.length;
  return { docs: out, explain };
}

function scanIndexUnordered(coll: Collection, compiled: CompiledFilter, plan: Extract<Plan, { kind: 'index' }>, explain: Explain): Document[] {
  const n = plan.index.paths.length;
  const seen = new Set<string>();
  const matches: Document[] = [];
  for (const [start, end] of plan.intervals) {
    plan.index.tree.scan(start, end, false, (key) => {
      explain.keysExamined++;
      const id = key[n] as string;
      if (seen.has(id)) return true;
      seen.add(id);
      const doc = coll.docs.get(id)!;
      explain.docsExamined++;
      if (compiled.test(doc)) matches.push(doc);
      return true;
    });
  }
  return matches;
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
): Document[] {
  const n = plan.index.paths.length;
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
    plan.index.tree.scan(start, end, plan.reverse, (key) => {
      explain.keysExamined++;
      const doc = coll.docs.get(key[n] as string)!;
      explain.docsExamined++;
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
