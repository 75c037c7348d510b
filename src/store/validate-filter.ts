// Validation of query filters: known operators only, JSON values, safe keys, and bounds on
// the shape of a query (branches, list values, nesting) so that no filter costs more than a
// bounded amount to compile and to test against one document.

import { fail, isOperatorObject, isPlainObject, joinPath, validateFieldPath } from './validate-common.ts';
import { copyJsonValue } from './validate-document.ts';
import { regexProblem } from './query-regex.ts';

/** Branches of `$or`, `$and` and `$nor` in one filter, all operators together. */
export const FILTER_BRANCHES_MAX = 1024;
/** Values of `$in`, `$nin` and `$all` lists in one filter, all lists together. Half of
 * REQUEST_VALUES_MAX (commands.ts), so that a filter at this bound fits in a request body with
 * the rest of the request: a limit no request can reach would only mislead. */
export const FILTER_LIST_VALUES_MAX = 5_000;
/** `$regex` operators in one filter: compiling a pattern can cost milliseconds (a repeat
 * such as `[\pL\pN]{1000}` is a program of a thousand steps), so their number is bounded. */
export const FILTER_REGEXES_MAX = 16;
/** Nesting of a filter: each `$and`/`$or`/`$nor` branch, field condition, `$not` and
 * `$elemMatch` is one level (a literal compared for equality is bounded as a document is). */
export const FILTER_DEPTH_LEVELS_MAX = 64;
/** @deprecated the per-filter bound is FILTER_LIST_VALUES_MAX. */
export const MAX_IN_VALUES = FILTER_LIST_VALUES_MAX;

const COMPARISON_OPS = new Set(['$eq', '$ne', '$gt', '$gte', '$lt', '$lte']);
const LOGICAL_OPS = new Set(['$and', '$or', '$nor']);
/** Operators that run JavaScript (mingo runs them when scripts are enabled; they never are). */
const SCRIPT_OPS = new Set(['$where', '$function', '$accumulator', '$expr']);

/** What one filter has used of its bounds so far. */
export class FilterBudget {
  branches = 0;
  listValues = 0;
  regexes = 0;
}

function scriptRefused(op: string): string {
  return `${op} is not supported: queries never run JavaScript${op === '$expr' ? ' or aggregation expressions' : ''}`;
}

/** Validates a query filter: known operators only, JSON values, safe keys, within the bounds above. */
export function validateFilter(filter: unknown, path = 'filter', depth = 1, budget = new FilterBudget()): void {
  if (depth > FILTER_DEPTH_LEVELS_MAX) fail(path, `filter nested deeper than ${FILTER_DEPTH_LEVELS_MAX} levels (FILTER_DEPTH_LEVELS_MAX)`);
  if (!isPlainObject(filter)) fail(path, 'filter must be a plain object');
  for (const key of Object.keys(filter)) {
    const value = filter[key];
    const here = joinPath(path, key);
    if (key.charCodeAt(0) === 36) {
      if (SCRIPT_OPS.has(key)) fail(here, scriptRefused(key));
      if (!LOGICAL_OPS.has(key)) fail(here, `unknown or unsupported query operator ${key}`);
      if (!Array.isArray(value) || value.length === 0) fail(here, `${key} takes a non-empty array of filters`);
      budget.branches += value.length;
      if (budget.branches > FILTER_BRANCHES_MAX) {
        fail(here, `filter has more than ${FILTER_BRANCHES_MAX} branches of $or/$and/$nor in all (FILTER_BRANCHES_MAX)`);
      }
      value.forEach((sub, i) => validateFilter(sub, joinPath(here, i), depth + 1, budget));
      continue;
    }
    validateFieldPath(key, path);
    validateCondition(value, here, depth + 1, budget);
  }
}

/** Validates the condition on one field: a literal (equality) or an object of query operators. */
export function validateCondition(value: unknown, path: string, depth: number, budget = new FilterBudget()): void {
  if (depth > FILTER_DEPTH_LEVELS_MAX) fail(path, `filter nested deeper than ${FILTER_DEPTH_LEVELS_MAX} levels (FILTER_DEPTH_LEVELS_MAX)`);
  if (!isOperatorObject(value)) {
    copyJsonValue(value, path); // a literal to compare for equality
    return;
  }
  for (const op of Object.keys(value)) {
    const here = joinPath(path, op);
    if (op.charCodeAt(0) !== 36) fail(here, 'cannot mix query operators and fields in one object');
    if (COMPARISON_OPS.has(op)) copyJsonValue(value[op], here);
    else validateOperator(op, value, path, depth, budget);
  }
}

/** One query operator other than a comparison; `condition` is its whole operator object at `path`. */
function validateOperator(op: string, condition: Record<string, unknown>, path: string, depth: number, budget: FilterBudget): void {
  const here = joinPath(path, op);
  const arg = condition[op];
  switch (op) {
    case '$in':
    case '$nin':
    case '$all':
      if (!Array.isArray(arg)) fail(here, `${op} takes an array`);
      budget.listValues += arg.length;
      if (budget.listValues > FILTER_LIST_VALUES_MAX) {
        fail(here, `filter has more than ${FILTER_LIST_VALUES_MAX} values in $in/$nin/$all lists in all (FILTER_LIST_VALUES_MAX)`);
      }
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
      budget.regexes++;
      if (budget.regexes > FILTER_REGEXES_MAX) fail(here, `filter has more than ${FILTER_REGEXES_MAX} $regex operators (FILTER_REGEXES_MAX)`);
      validateRegexOperator(arg, condition['$options'], path);
      return;
    case '$options':
      if (!('$regex' in condition)) fail(here, '$options requires $regex');
      return;
    case '$not':
      if (!isOperatorObject(arg)) fail(here, '$not takes an operator object');
      validateCondition(arg, here, depth + 1, budget);
      return;
    case '$elemMatch':
      if (!isPlainObject(arg)) fail(here, '$elemMatch takes an object');
      if (isOperatorObject(arg)) validateCondition(arg, here, depth + 1, budget);
      else validateFilter(arg, here, depth + 1, budget);
      return;
    default:
      if (SCRIPT_OPS.has(op)) fail(here, scriptRefused(op));
      fail(here, `unknown or unsupported query operator ${op}`);
  }
}

function validateTypeOperator(arg: unknown, here: string): void {
  const types = Array.isArray(arg) ? arg : [arg];
  if (types.length === 0) fail(here, '$type takes a type name or number');
  for (const t of types) if (typeof t !== 'string' && typeof t !== 'number') fail(here, '$type takes a type name or number');
}

/** `$regex` (and its `$options`) of the condition at `path`: a pattern RE2 compiles, within
 * its length limit, and flags RE2 has. */
function validateRegexOperator(pattern: unknown, options: unknown, path: string): void {
  const here = joinPath(path, '$regex');
  if (typeof pattern !== 'string') fail(here, '$regex takes a string pattern');
  if (options !== undefined && typeof options !== 'string') fail(joinPath(path, '$options'), '$options takes a string of flags');
  const problem = regexProblem(pattern, options ?? '');
  if (problem !== undefined) fail(joinPath(path, problem.at), problem.message);
}
