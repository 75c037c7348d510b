// Validation of find options: sort, skip, limit, projection.

import type { FindOptions } from './types.ts';
import { fail, isPlainObject, joinPath, validateFieldPath, validateSortDirections } from './validate-common.ts';

export const MAX_SORT_FIELDS = 32;

export function validateFindOptions(options: unknown, path = 'options'): asserts options is FindOptions {
  if (options === undefined) return;
  if (!isPlainObject(options)) fail(path, 'options must be an object');
  for (const key of Object.keys(options)) {
    const v = options[key];
    const here = joinPath(path, key);
    if (v === undefined && (key === 'sort' || key === 'skip' || key === 'limit' || key === 'projection')) continue;
    switch (key) {
      case 'sort':
        validateSort(v, here);
        break;
      case 'skip':
      case 'limit':
        if (!Number.isSafeInteger(v) || (v as number) < 0) fail(here, `${key} must be a non-negative integer`);
        break;
      case 'projection':
        validateProjection(v, here);
        break;
      default:
        fail(here, `unknown find option "${key}"`);
    }
  }
}

function validateSort(sort: unknown, path: string): void {
  if (!isPlainObject(sort)) fail(path, 'sort must be an object of {path: 1|-1}');
  if (Object.keys(sort).length > MAX_SORT_FIELDS) fail(path, `at most ${MAX_SORT_FIELDS} sort fields`);
  validateSortDirections(sort, path);
}

/** `{path: 0|1, ...}`, all inclusions or all exclusions (`_id` may go either way). */
function validateProjection(projection: unknown, path: string): void {
  if (!isPlainObject(projection)) fail(path, 'projection must be an object of {path: 0|1}');
  let include = false;
  let exclude = false;
  for (const k of Object.keys(projection)) {
    validateFieldPath(k, path);
    const d = projection[k];
    if (d !== 0 && d !== 1) fail(joinPath(path, k), 'projection values must be 0 or 1');
    if (k === '_id') continue;
    if (d === 1) include = true;
    else exclude = true;
  }
  if (include && exclude) fail(path, 'projection cannot mix inclusion and exclusion');
}
