// The fields of an index. `createIndex` takes them in several friendly shapes, on the
// embedded database and through the client alike; the store, the log and the HTTP API
// take one: [path, 1 | -1][]. normalizeIndexFields turns one into the other and checks
// it, so a shape means the same, and a bad one is refused with the same message, on
// every path. Pure: the client imports it.

import { MAX_INDEX_FIELDS } from './commands.ts';
import type { IndexField } from './types.ts';
import { fail, isPlainObject, joinPath, validateFieldPath } from './validate-common.ts';

/**
 * `'a'` (ascending), `['a', 'b']`, `{ a: 1, 'b.c': -1 }` (key order is field order), or
 * `[['a', 1], ['b', -1]]`; a list may mix paths and pairs.
 */
export type IndexFieldsInput = string | Readonly<Record<string, 1 | -1>> | ReadonlyArray<string | readonly [string, 1 | -1]>;

/** The fields of `input` as [path, 1 | -1] pairs (new arrays: the caller's are not kept), checked by validateIndexFields. */
export function normalizeIndexFields(input: unknown, path = 'fields'): IndexField[] {
  const fields = toPairs(input, path);
  validateIndexFields(fields, path);
  return fields;
}

function toPairs(input: unknown, path: string): unknown[] {
  if (typeof input === 'string') return [[input, 1]];
  if (Array.isArray(input)) {
    return input.map((item: unknown) => {
      if (typeof item === 'string') return [item, 1];
      return Array.isArray(item) ? [...(item as unknown[])] : item;
    });
  }
  if (isPlainObject(input)) return Object.entries(input);
  return fail(path, 'index fields are a path, a list of paths or [path, 1 | -1] pairs, or {path: 1 | -1, ...}');
}

/** The one form the store takes: a non-empty list of distinct [path, 1 | -1]. */
export function validateIndexFields(fields: unknown, path = 'fields'): asserts fields is IndexField[] {
  if (!Array.isArray(fields) || fields.length === 0) fail(path, 'an index needs at least one [path, 1|-1] field');
  if (fields.length > MAX_INDEX_FIELDS) fail(path, `an index has at most ${MAX_INDEX_FIELDS} fields`);
  const seen = new Set<string>();
  fields.forEach((f: unknown, i) => {
    const here = joinPath(path, i);
    if (!Array.isArray(f) || f.length !== 2) fail(here, 'an index field is [path, 1|-1]');
    validateFieldPath(f[0], here);
    if (f[1] !== 1 && f[1] !== -1) fail(joinPath(here, 1), 'index direction must be 1 or -1');
    if (seen.has(f[0] as string)) fail(here, `field "${f[0]}" appears twice`);
    seen.add(f[0] as string);
  });
}
