// The query planner: picks how to find candidate documents.
//   1. `_id` equality / $in: look the ids up.
//   2. else the secondary index with the best bounds: equality/$in on more
//      leading fields first, then a range on the next field; ties go to an
//      index that also yields the requested order, then unique, then fewer
//      fields, then creation order;
//   3. else an index that yields the requested order;
//   4. else a scan in _id order.
// Candidates are always re-checked against the whole filter by the executor,
// and results always get the same total order, so the plan changes speed only.

import { combineConstraints, type Constraint, type Scalar } from './filter-analysis.ts';
import { KeyBound } from './key-order.ts';
import { TREE_HIGH, TREE_LOW, type IndexKey } from './index-keys.ts';
import type { Collection } from './collection.ts';
import type { CompiledFilter } from './query-cache.ts';
import type { SecondaryIndex } from './index-secondary.ts';
import type { SortKey } from './sort.ts';

/** Beyond this many $in combinations an index prefix is shortened. */
export const MAX_INTERVALS = 1024;

export type Plan =
  | { kind: 'id'; ids: string[] } // ascending, distinct
  | {
      kind: 'index';
      index: SecondaryIndex;
      /** [start, end] pairs in tree order, ascending and disjoint. */
      intervals: Array<[IndexKey, IndexKey]>;
      /** True when scanning yields the requested sort order (after tie-break). */
      sortByIndex: boolean;
      reverse: boolean;
    }
  | { kind: 'scan' };

interface Candidate {
  index: SecondaryIndex;
  score: number;
  intervals: Array<[IndexKey, IndexKey]>;
  sortByIndex: boolean;
  reverse: boolean;
}

export function planQuery(coll: Collection, compiled: CompiledFilter, sortKeys: readonly SortKey[]): Plan {
  const idC = combineConstraints(compiled.constraints.get('_id'), false);
  if (idC !== undefined && idC.kind === 'points') {
    const ids = idC.values.filter((v): v is string => typeof v === 'string');
    return { kind: 'id', ids }; // sorted and distinct already (string order)
  }
  let best: Candidate | undefined;
  for (const index of coll.indexes) {
    const c = candidateFor(index, compiled, sortKeys);
    if (c === undefined) continue;
    if (best === undefined || better(c, best)) best = c;
  }
  if (best !== undefined) {
    return { kind: 'index', index: best.index, intervals: best.intervals, sortByIndex: best.sortByIndex, reverse: best.reverse };
  }
  return { kind: 'scan' };
}

function better(a: Candidate, b: Candidate): boolean {
  if (a.score !== b.score) return a.score > b.score;
  if (a.sortByIndex !== b.sortByIndex) return a.sortByIndex;
  if (a.index.spec.unique !== b.index.spec.unique) return a.index.spec.unique;
  if (a.index.paths.length !== b.index.paths.length) return a.index.paths.length < b.index.paths.length;
  return false; // keep the earlier-created index
}

function candidateFor(index: SecondaryIndex, compiled: CompiledFilter, sortKeys: readonly SortKey[]): Candidate | undefined {
  const n = index.paths.length;
  const multikey = index.isMultikey;
  const cons: Array<Constraint | undefined> = index.spec.fields.map(([path]) => combineConstraints(compiled.constraints.get(path), multikey));
  // Leading fields with point constraints, bounded by the number of combinations.
  let k = 0;
  let combos = 1;
  while (k < n) {
    const c = cons[k];
    if (c === undefined || c.kind !== 'points') break;
    const next = combos * Math.max(c.values.length, 1);
    if (next > MAX_INTERVALS) break;
    combos = next;
    k++;
  }
  const rangeC = k < n && cons[k]?.kind === 'range' ? (cons[k] as Extract<Constraint, { kind: 'range' }>) : undefined;
  const score = k * 2 + (rangeC !== undefined ? 1 : 0) + (index.spec.unique && k === n ? 1 : 0);

  const sortFit = sortFromIndex(index, cons, k, sortKeys);
  if (score === 0 && !sortFit.sortByIndex) return undefined;

  // Points per leading field, in tree order for that field's direction.
  const pointLists: Scalar[][] = [];
  for (let f = 0; f < k; f++) {
    const values = (cons[f] as Extract<Constraint, { kind: 'points' }>).values;
    pointLists.push(index.dirs[f] === 1 ? values : values.slice().reverse());
  }
  const intervals: Array<[IndexKey, IndexKey]> = [];
  for (const prefix of cartesian(pointLists)) {
    const start: unknown[] = prefix.slice();
    const end: unknown[] = prefix.slice();
    if (rangeC !== undefined) {
      const dir = index.dirs[k]!;
      const first = dir === 1 ? rangeC.lower : rangeC.upper;
      const last = dir === 1 ? rangeC.upper : rangeC.lower;
      start.push(first.value);
      end.push(last.value);
      // An exclusive bound must skip entries equal to it: put the rest of the
      // start key above them (and the rest of the end key below them).
      const startRest = first.inclusive || first.value instanceof KeyBound ? TREE_LOW : TREE_HIGH;
      const endRest = last.inclusive || last.value instanceof KeyBound ? TREE_HIGH : TREE_LOW;
      while (start.length <= n) start.push(startRest);
      while (end.length <= n) end.push(endRest);
    } else {
      while (start.length <= n) start.push(TREE_LOW);
      while (end.length <= n) end.push(TREE_HIGH);
    }
    intervals.push([start, end]);
  }
  return { index, score, intervals, sortByIndex: sortFit.sortByIndex, reverse: sortFit.reverse };
}

/**
 * Whether scanning this index yields sortKeys order: the sort fields must be
 * consecutive index fields, after leading fields pinned to one value, with
 * directions all equal (forward scan) or all opposite (reverse scan), on an
 * index without arrays (a multikey index lists a document more than once).
 */
function sortFromIndex(
  index: SecondaryIndex,
  cons: ReadonlyArray<Constraint | undefined>,
  pointFields: number,
  sortKeys: readonly SortKey[],
): { sortByIndex: boolean; reverse: boolean } {
  const no = { sortByIndex: false, reverse: false };
  if (sortKeys.length === 0 || index.isMultikey) return no;
  const fields = index.spec.fields;
  for (let j = 0; j <= Math.min(pointFields, fields.length - sortKeys.length); j++) {
    let forward = true;
    let backward = true;
    for (let s = 0; s < sortKeys.length; s++) {
      const [path, dir] = fields[j + s]!;
      if (path !== sortKeys[s]!.path) {
        forward = backward = false;
        break;
      }
      if (dir === sortKeys[s]!.dir) backward = false;
      else forward = false;
    }
    if (forward || backward) return { sortByIndex: true, reverse: backward };
    // The next start position needs field j pinned to a single value.
    const c = cons[j];
    if (c === undefined || c.kind !== 'points' || c.values.length !== 1) break;
  }
  return no;
}

function cartesian(lists: Scalar[][]): Scalar[][] {
  let out: Scalar[][] = [[]];
  for (const list of lists) {
    const next: Scalar[][] = [];
    for (const prefix of out) for (const v of list) next.push([...prefix, v]);
    out = next;
  }
  return out;
}
