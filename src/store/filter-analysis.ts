// What a filter says about single fields, for the planner (which index bounds
// are implied) and for upserts (which equality fields seed the new document).
//
// Only conditions that every matching document must satisfy are collected:
// top-level fields and the branches of top-level $and. A field's conditions
// are kept separately: on a multikey index each may be satisfied by a
// different array element, so they can only be intersected when the index
// has no arrays.

import { compareValues, KeyBound, RANK_NUMBER, RANK_STRING } from './key-order.ts';
import { isPlainObject } from './validate.ts';
import type { Filter, JsonValue } from './types.ts';

export type Scalar = number | string | boolean;

export interface Bound {
  value: Scalar | KeyBound;
  inclusive: boolean;
}

export type Constraint =
  | { kind: 'points'; values: Scalar[] } // sorted by compareValues, distinct
  | { kind: 'range'; lower: Bound; upper: Bound };

export type FieldConstraints = Map<string, Constraint[]>;

function isScalar(v: unknown): v is Scalar {
  return typeof v === 'number' || typeof v === 'string' || typeof v === 'boolean';
}

function sortedPoints(values: Scalar[]): Scalar[] {
  const sorted = values.slice().sort(compareValues);
  return sorted.filter((v, i) => i === 0 || compareValues(sorted[i - 1], v) !== 0);
}

function add(map: FieldConstraints, path: string, c: Constraint): void {
  const list = map.get(path);
  if (list === undefined) map.set(path, [c]);
  else list.push(c);
}

function rangeFor(op: string, v: Scalar): Constraint | undefined {
  let rank: number;
  if (typeof v === 'number') rank = RANK_NUMBER;
  else if (typeof v === 'string') rank = RANK_STRING;
  else return undefined; // booleans: not worth a range
  // mingo brackets comparisons by type ($gt: 5 never matches a string), so a
  // range stays within its type.
  const bottom: Bound = { value: new KeyBound(rank, -1), inclusive: true };
  const top: Bound = { value: new KeyBound(rank, 1), inclusive: true };
  switch (op) {
    case '$gt':
      return { kind: 'range', lower: { value: v, inclusive: false }, upper: top };
    case '$gte':
      return { kind: 'range', lower: { value: v, inclusive: true }, upper: top };
    case '$lt':
      return { kind: 'range', lower: bottom, upper: { value: v, inclusive: false } };
    case '$lte':
      return { kind: 'range', lower: bottom, upper: { value: v, inclusive: true } };
    default:
      return undefined;
  }
}

/** Collects index-usable constraints per field path. */
export function analyzeFilter(filter: Filter): FieldConstraints {
  const out: FieldConstraints = new Map();
  collectInto(filter, out);
  return out;
}

function collectInto(filter: Filter, out: FieldConstraints): void {
  for (const key of Object.keys(filter)) {
    const cond = filter[key];
    if (key === '$and') {
      for (const sub of cond as Filter[]) collectInto(sub, out);
      continue;
    }
    if (key.charCodeAt(0) === 36) continue; // $or / $nor: no single-field guarantee
    if (isScalar(cond)) {
      add(out, key, { kind: 'points', values: [cond] });
      continue;
    }
    if (!isPlainObject(cond)) continue; // null (matches missing too), arrays: not planned
    const ops = Object.keys(cond);
    if (ops.length === 0 || ops[0]!.charCodeAt(0) !== 36) continue; // object equality: not planned
    for (const op of ops) {
      const arg = cond[op];
      if (op === '$eq' && isScalar(arg)) {
        add(out, key, { kind: 'points', values: [arg] });
      } else if (op === '$in' && Array.isArray(arg) && arg.length > 0 && arg.every(isScalar)) {
        add(out, key, { kind: 'points', values: sortedPoints(arg as Scalar[]) });
      } else if (isScalar(arg)) {
        const r = rangeFor(op, arg);
        if (r !== undefined) add(out, key, r);
      }
    }
  }
}

function inRange(v: Scalar, c: { lower: Bound; upper: Bound }): boolean {
  const lo = compareValues(v, c.lower.value);
  if (lo < 0 || (lo === 0 && !c.lower.inclusive)) return false;
  const hi = compareValues(v, c.upper.value);
  return hi < 0 || (hi === 0 && c.upper.inclusive);
}

/**
 * One constraint for an index field. Without arrays every condition holds for
 * the single value, so they intersect; on a multikey index one is chosen
 * (points before ranges).
 */
export function combineConstraints(list: readonly Constraint[] | undefined, multikey: boolean): Constraint | undefined {
  if (list === undefined || list.length === 0) return undefined;
  if (multikey) {
    let best: Constraint | undefined;
    for (const c of list) {
      if (c.kind === 'points' && (best === undefined || best.kind === 'range' || c.values.length < best.values.length)) best = c;
    }
    return best ?? list[0];
  }
  let points: Scalar[] | undefined;
  let lower: Bound | undefined;
  let upper: Bound | undefined;
  for (const c of list) {
    if (c.kind === 'points') {
      points = points === undefined ? c.values : points.filter((p) => c.values.some((q) => compareValues(p, q) === 0));
    } else {
      if (lower === undefined) lower = c.lower;
      else {
        const d = compareValues(c.lower.value, lower.value);
        if (d > 0 || (d === 0 && !c.lower.inclusive)) lower = c.lower;
      }
      if (upper === undefined) upper = c.upper;
      else {
        const d = compareValues(c.upper.value, upper.value);
        if (d < 0 || (d === 0 && !c.upper.inclusive)) upper = c.upper;
      }
    }
  }
  if (lower !== undefined && upper !== undefined) {
    const range = { lower, upper };
    if (points !== undefined) return { kind: 'points', values: points.filter((p) => inRange(p, range)) };
    const d = compareValues(lower.value, upper.value);
    if (d > 0 || (d === 0 && !(lower.inclusive && upper.inclusive))) return { kind: 'points', values: [] };
    return { kind: 'range', lower, upper };
  }
  return points === undefined ? undefined : { kind: 'points', values: points };
}

/**
 * The equality fields of a filter (top level and $and), as {path: value}, to
 * seed an upserted document. Values may be any JSON (not only scalars).
 */
export function equalityFields(filter: Filter): Record<string, JsonValue> {
  const out: Record<string, JsonValue> = {};
  const visit = (f: Filter): void => {
    for (const key of Object.keys(f)) {
      const cond = f[key]!;
      if (key === '$and') {
        for (const sub of cond as Filter[]) visit(sub);
        continue;
      }
      if (key.charCodeAt(0) === 36) continue;
      if (isPlainObject(cond)) {
        const ops = Object.keys(cond);
        if (ops.length > 0 && ops[0]!.charCodeAt(0) === 36) {
          if (ops.length === 1 && ops[0] === '$eq') out[key] = cond['$eq'] as JsonValue;
          continue;
        }
      }
      out[key] = cond;
    }
  };
  visit(filter);
  return out;
}
