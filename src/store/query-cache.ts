// Compiled filters, cached. Compiling a mingo Query and analysing the filter
// costs far more than the lookup of an indexed equality query, so both are
// kept in a bounded LRU keyed by the filter's JSON text. The compiled form is
// built from a parsed copy of that text, so later mutation of the caller's
// filter object cannot change a cached entry. A `{field: scalar}` filter is
// the exception: compiled directly each time (singleFieldEquality), for less
// than its JSON text and a lookup would cost, and never cached.

import { Context } from 'mingo/core';
import * as queryOperators from 'mingo/operators/query';
import { Query } from 'mingo/query';
import { ValidationError } from './errors.ts';
import { analyzeFilter, type FieldConstraints } from './filter-analysis.ts';
import { $mod } from './query-mod.ts';
import { $re2, RE2_OPERATOR, withRe2Operators } from './query-regex.ts';
import { validateFilter } from './validate.ts';
import type { Document, Filter } from './types.ts';

export interface CompiledFilter {
  readonly filter: Filter;
  /** True for {}: every document matches. */
  readonly matchAll: boolean;
  readonly test: (doc: Document) => boolean;
  readonly constraints: FieldConstraints;
}

export const MINGO_OPTIONS = { scriptEnabled: false, useStrictMode: true } as const;

// Query operators only: mingo copies its context's operator tables on every
// Query construction, and the full set (expressions, pipeline, ...) makes a
// compile cost ~50 µs instead of ~5 µs. Filters never need the others ($expr
// and $where are refused by validation). $regex runs on RE2 (query-regex.ts): mingo's own,
// on JS RegExp, is left out, with the operators that run scripts or expressions, so that
// neither can run even if validation missed one (mingo then refuses an unknown operator).
const LEFT_OUT_OPERATORS: ReadonlySet<string> = new Set(['$regex', '$where', '$expr', '$jsonSchema']);
const QUERY_OPERATORS = Object.fromEntries(Object.entries(queryOperators).filter(([name]) => !LEFT_OUT_OPERATORS.has(name)));
const QUERY_CONTEXT = Context.init({ query: { ...QUERY_OPERATORS, $mod, [RE2_OPERATOR]: $re2 } });
/** Options of every mingo Query over a validated filter, `$pull`'s conditions in updates
 * included (pass them as the updater's queryOptions, with the spec through mingoUpdateSpec). */
export const QUERY_OPTIONS = { ...MINGO_OPTIONS, context: QUERY_CONTEXT };

type Scalar = string | number | boolean;

/** mingo's equality with a scalar: the field equals the value, or is an array with an element equal to it (one level). */
function fieldEquals(field: string, value: Scalar): (doc: Document) => boolean {
  return (doc) => {
    const x = Object.hasOwn(doc, field) ? doc[field] : undefined;
    return x === value || (Array.isArray(x) && x.includes(value));
  };
}

/**
 * A filter of top-level, undotted fields compared for equality with scalars
 * (`{email: 'a@b'}`, `{a: 1, b: {$eq: true}}`) gets a direct predicate with
 * mingo's semantics for it: the field equals the value, or is an array with
 * an element equal to it (one level, as mingo).
 */
function simpleEquality(filter: Filter): ((doc: Document) => boolean) | undefined {
  const fields: string[] = [];
  const values: Scalar[] = [];
  for (const key of Object.keys(filter)) {
    if (key.charCodeAt(0) === 36 || key.indexOf('.') !== -1) return undefined;
    let v: unknown = filter[key];
    if (typeof v === 'object' && v !== null && !Array.isArray(v)) {
      const ops = Object.keys(v);
      if (ops.length !== 1 || ops[0] !== '$eq') return undefined;
      v = (v as Record<string, unknown>)['$eq'];
    }
    if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean') return undefined;
    fields.push(key);
    values.push(v);
  }
  if (fields.length === 1) return fieldEquals(fields[0]!, values[0]!);
  return (doc) => {
    for (let i = 0; i < fields.length; i++) {
      const f = fields[i]!;
      const x = Object.hasOwn(doc, f) ? doc[f] : undefined;
      if (x !== values[i] && !(Array.isArray(x) && x.includes(values[i]!))) return false;
    }
    return true;
  };
}

/**
 * `{field: scalar}` (an undotted field, a string, number or boolean), the commonest filter,
 * compiled directly: the few small objects the general compile would make, without its JSON
 * copy and analysis, which cost several times the indexed lookup itself. Such filters come with
 * a new value each time as often as not (an id, an email): a cache miss each.
 */
function singleFieldEquality(filter: Filter): CompiledFilter | undefined {
  const keys = Object.keys(filter);
  if (keys.length !== 1) return undefined;
  const field = keys[0]!;
  if (field.charCodeAt(0) === 36 || field.indexOf('.') !== -1) return undefined;
  const given = filter[field];
  if (typeof given !== 'string' && typeof given !== 'number' && typeof given !== 'boolean') return undefined;
  // -0 as 0, as the JSON copy of the general compile makes it.
  const value = given === 0 ? 0 : given;
  return {
    filter: { [field]: value },
    matchAll: false,
    test: fieldEquals(field, value),
    constraints: new Map([[field, [{ kind: 'points', values: [value] }]]]),
  };
}

export function compileFilter(filter: Filter): CompiledFilter {
  validateFilter(filter);
  return compileValidated(filter);
}

function compileValidated(filter: Filter): CompiledFilter {
  const direct = singleFieldEquality(filter);
  if (direct !== undefined) return direct;
  const copy = JSON.parse(JSON.stringify(filter)) as Filter;
  const matchAll = Object.keys(copy).length === 0;
  let test = matchAll ? () => true : simpleEquality(copy);
  if (test === undefined) {
    const query = newQuery(withRe2Operators(copy) as Filter);
    test = (doc) => query.test(doc);
  }
  return {
    filter: copy,
    matchAll,
    test,
    constraints: analyzeFilter(copy),
  };
}

/** A top-level `$or`/`$and`/`$nor` with more branches than this is compiled branch by branch
 * in slices by compileFilterSliced (a 1,024-branch `$or` took 3 to 38 ms in one piece). */
export const SLICED_COMPILE_BRANCHES_MIN = 64;
const LOGICAL_OPERATORS: ReadonlySet<string> = new Set(['$or', '$and', '$nor']);

/** What a request slices its work with (src/server/loop-turns.ts): due() when its slice is
 * spent, next() for its next turn. */
interface CompileSlicer {
  due(): boolean;
  next(): Promise<void>;
}

/**
 * A mingo predicate for a condition, built in slices: a wide top-level `$or`, `$and` or
 * `$nor` (recursively, for such a branch) gets one mingo Query per branch, built one at a
 * time between turns, combined as mingo combines them (its $or is `some` over one Query per
 * branch, $and `every`, $nor `!some`, and a Query is `every` over its fields); the other
 * fields make one Query. `condition` has been through withRe2Operators.
 */
async function predicateSliced(condition: Filter, slicer: CompileSlicer): Promise<(doc: Document) => boolean> {
  const rest: Record<string, unknown> = {};
  const parts: Array<(doc: Document) => boolean> = [];
  for (const [key, value] of Object.entries(condition)) {
    if (!LOGICAL_OPERATORS.has(key) || !Array.isArray(value) || value.length <= SLICED_COMPILE_BRANCHES_MIN) {
      rest[key] = value;
      continue;
    }
    const branches: Array<(doc: Document) => boolean> = [];
    for (const branch of value as Filter[]) {
      if (slicer.due()) await slicer.next();
      branches.push(await predicateSliced(branch, slicer));
    }
    if (key === '$and') parts.push((doc) => branches.every((b) => b(doc)));
    else if (key === '$or') parts.push((doc) => branches.some((b) => b(doc)));
    else parts.push((doc) => !branches.some((b) => b(doc)));
  }
  if (Object.keys(rest).length > 0 || parts.length === 0) {
    if (slicer.due()) await slicer.next();
    const query = newQuery(rest as Filter);
    parts.unshift((doc) => query.test(doc));
  }
  return parts.length === 1 ? parts[0]! : (doc) => parts.every((p) => p(doc));
}

function newQuery(condition: Filter): Query {
  try {
    return new Query(condition, QUERY_OPTIONS);
  } catch (e) {
    throw new ValidationError(`filter: ${(e as Error).message}`);
  }
}

/** compileValidated, with a wide filter's mingo Query built in slices (predicateSliced). */
async function compileValidatedSliced(filter: Filter, slicer: CompileSlicer): Promise<CompiledFilter> {
  const copy = JSON.parse(JSON.stringify(filter)) as Filter;
  const wide = Object.entries(copy).some(([k, v]) => LOGICAL_OPERATORS.has(k) && Array.isArray(v) && v.length > SLICED_COMPILE_BRANCHES_MIN);
  if (!wide) return compileValidated(filter);
  const test = await predicateSliced(withRe2Operators(copy) as Filter, slicer);
  return { filter: copy, matchAll: false, test, constraints: analyzeFilter(copy) };
}

export class FilterCache {
  private readonly entries = new Map<string, CompiledFilter>();

  constructor(private readonly capacity = 1024) {
    if (!(capacity >= 1)) throw new RangeError('FilterCache capacity must be >= 1');
  }

  get size(): number {
    return this.entries.size;
  }

  get(filter: Filter): CompiledFilter {
    // Validate on every call: JSON text drops undefined and turns a RegExp into
    // {}, so an invalid filter could otherwise hit the entry of a valid one.
    validateFilter(filter);
    // `{field: scalar}` compiles in less than its JSON text and a lookup cost: not cached, so
    // that values asked once (ids, e-mails) do not push the costly filters out.
    const direct = singleFieldEquality(filter);
    if (direct !== undefined) return direct;
    const key = JSON.stringify(filter);
    if (key === undefined) throw new ValidationError('filter: must be a plain object');
    const hit = this.entries.get(key);
    if (hit !== undefined) {
      // Move to the most-recently-used end.
      this.entries.delete(key);
      this.entries.set(key, hit);
      return hit;
    }
    return this.add(key, compileValidated(filter));
  }

  /** get(), a filter not cached being compiled in slices when it is wide (compileFilterSliced's
   * rule): for the server's reads, so that no compile holds the event loop (issue #11). */
  async getSliced(filter: Filter, slicer: CompileSlicer): Promise<CompiledFilter> {
    validateFilter(filter);
    const direct = singleFieldEquality(filter);
    if (direct !== undefined) return direct;
    const key = JSON.stringify(filter);
    if (key === undefined) throw new ValidationError('filter: must be a plain object');
    if (this.entries.has(key)) return this.get(filter);
    const compiled = await compileValidatedSliced(filter, slicer);
    // Another read may have compiled the same filter meanwhile: either serves.
    return this.add(key, compiled);
  }

  private add(key: string, compiled: CompiledFilter): CompiledFilter {
    this.entries.delete(key);
    this.entries.set(key, compiled);
    if (this.entries.size > this.capacity) {
      const oldest = this.entries.keys().next().value as string;
      this.entries.delete(oldest);
    }
    return compiled;
  }
}
