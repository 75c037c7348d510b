// Validation of query filters: known operators only, JSON values, safe keys.

import { DEFAULT_LIMITS } from './types.ts';
import { fail, isOperatorObject, isPlainObject, joinPath, validateFieldPath } from './validate-common.ts';
import { copyJsonValue } from './validate-document.ts';

export const MAX_IN_VALUES = 100_000;

const COMPARISON_OPS = new Set(['$eq', '$ne', '$gt', '$gte', '$lt', '$lte']);
const LOGICAL_OPS = new Set(['$and', '$or', '$nor']);

/** Validates a query filter: known operators only, JSON values, safe keys. */
export function validateFilter(filter: unknown, path = 'filter', depth = 1): void {
  if (depth > DEFAULT_LIMITS.maxDepth) fail(path, 'filter nested too deeply');
  if (!isPlainObject(filter)) fail(path, 'filter must be a plain object');
  for (const key of Object.keys(filter)) {
    const value = filter[key];
    const here = joinPath(path, key);
    if (key.charCodeAt(0) === 36) {
      if (!LOGICAL_OPS.has(key)) fail(here, `unknown or unsupported query operator ${key}`);
      if (!Array.isArray(value) || value.length === 0) fail(here, `${key} takes a non-empty array of filters`);
      value.forEach((sub, i) => validateFilter(sub, joinPath(here, i), depth + 1));
      continue;
    }
    validateFieldPath(key, path);
    validateCondition(value, here, depth + 1);
  }
}

/** Validates the condition on one field: a literal (equality) or an object of query operators. */
export function validateCondition(value: unknown, path: string, depth: number): void {
  if (depth > DEFAULT_LIMITS.maxDepth) fail(path, 'filter nested too deeply');
  if (!isOperatorObject(value)) {
    copyJsonValue(value, path); // a literal to compare for equality
    return;
  }
  for (const op of Object.keys(value)) {
    const here = joinPath(path, op);
    if (op.charCodeAt(0) !== 36) fail(here, 'cannot mix query operators and fields in one object');
    if (COMPARISON_OPS.has(op)) copyJsonValue(value[op], here);
    else validateOperator(op, value, path, depth);
  }
}

/** One query operator other than a comparison; `condition` is its whole operator object at `path`. */
function validateOperator(op: string, condition: Record<string, unknown>, path: string, depth: number): void {
  const here = joinPath(path, op);
  const arg = condition[op];
  switch (op) {
    case '$in':
    case '$nin':
    case '$all':
      if (!Array.isArray(arg)) fail(here, `${op} takes an array`);
      if (arg.length > MAX_IN_VALUES) fail(here, `${op} takes at most ${MAX_IN_VALUES} values`);
      copyJsonValue(arg, here);
      return;
    case '$exists':
      if (typeof arg !== 'boolean' && arg !== 0 && arg !== 1) fail(here, '$exists takes a boolean');
      return;
    case '$type':
      validateTypeOperator(arg, here);
      return;
    case '$size':
      if (!Number.isSafeInteger(arg) || (arg as number) < 0) fail(here, '$size takes a non-negative integer');
      return;
    case '$mod':
      if (!Array.isArray(arg) || arg.length !== 2 || !arg.every((n) => typeof n === 'number' && Number.isFinite(n)) || arg[0] === 0) {
        fail(here, '$mod takes [divisor, remainder] with a non-zero divisor');
      }
      return;
    case '$regex':
      validateRegexOperator(arg, condition['$options'], path);
      return;
    case '$options':
      if (!('$regex' in condition)) fail(here, '$options requires $regex');
      return;
    case '$not':
      if (!isOperatorObject(arg)) fail(here, '$not takes an operator object');
      validateCondition(arg, here, depth + 1);
      return;
    case '$elemMatch':
      if (!isPlainObject(arg)) fail(here, '$elemMatch takes an object');
      if (isOperatorObject(arg)) validateCondition(arg, here, depth + 1);
      else validateFilter(arg, here, depth + 1);
      return;
    default:
      fail(here, `unknown or unsupported query operator ${op}`);
  }
}

function validateTypeOperator(arg: unknown, here: string): void {
  const types = Array.isArray(arg) ? arg : [arg];
  if (types.length === 0) fail(here, '$type takes a type name or number');
  for (const t of types) if (typeof t !== 'string' && typeof t !== 'number') fail(here, '$type takes a type name or number');
}

/** `$regex` (and its `$options`) of the condition at `path`: a pattern that compiles, known flags. */
function validateRegexOperator(pattern: unknown, options: unknown, path: string): void {
  const here = joinPath(path, '$regex');
  if (typeof pattern !== 'string') fail(here, '$regex takes a string pattern');
  if (options !== undefined && (typeof options !== 'string' || !/^[imsu]*$/.test(options))) {
    fail(joinPath(path, '$options'), '$options may only contain the flags i, m, s, u');
  }
  try {
    new RegExp(pattern, (options as string | undefined) ?? '');
  } catch (e) {
    fail(here, `invalid regular expression: ${(e as Error).message}`);
  }
}
