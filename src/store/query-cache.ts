// Compiled filters, cached. Compiling a mingo Query and analysing the filter
// costs far more than the lookup of an indexed equality query, so both are
// kept in a bounded LRU keyed by the filter's JSON text. The compiled form is
// built from a parsed copy of that text, so later mutation of the caller's
// filter object cannot change a cached entry.

import { Query } from 'mingo';
import { ValidationError } from './errors.ts';
import { analyzeFilter, type FieldConstraints } from './filter-analysis.ts';
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

export function compileFilter(filter: Filter): CompiledFilter {
  validateFilter(filter);
  return compileValidated(filter);
}

function compileValidated(filter: Filter): CompiledFilter {
  const copy = JSON.parse(JSON.stringify(filter)) as Filter;
  const matchAll = Object.keys(copy).length === 0;
  let query: Query;
  try {
    query = new Query(copy, MINGO_OPTIONS);
  } catch (e) {
    throw new ValidationError(`filter: ${(e as Error).message}`);
  }
  return {
    filter: copy,
    matchAll,
    test: matchAll ? () => true : (doc) => query.test(doc),
    constraints: analyzeFilter(copy),
  };
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
    const key = JSON.stringify(filter);
    if (key === undefined) throw new ValidationError('filter: must be a plain object');
    const hit = this.entries.get(key);
    if (hit !== undefined) {
      // Move to the most-recently-used end.
      this.entries.delete(key);
      this.entries.set(key, hit);
      return hit;
    }
    const compiled = compileValidated(filter);
    this.entries.set(key, compiled);
    if (this.entries.size > this.capacity) {
      const oldest = this.entries.keys().next().value as string;
      this.entries.delete(oldest);
    }
    return compiled;
  }
}
