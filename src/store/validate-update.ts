// Validation of update specs: update operators only (a whole-document replacement is a
// `replace` command), each with an argument of the shape it takes.

import { fail, isOperatorObject, isPlainObject, joinPath, validateFieldPath, validateSortDirections } from './validate-common.ts';
import { copyJsonValue } from './validate-document.ts';
import { FilterBudget, validateCondition, validateFilter } from './validate-filter.ts';

export const UPDATE_OPERATORS = new Set([
  '$set',
  '$unset',
  '$inc',
  '$mul',
  '$min',
  '$max',
  '$push',
  '$pull',
  '$addToSet',
  '$rename',
  '$pop',
  '$pullAll',
]);

/** Validates an update spec: operators only (a whole-document replacement is a `replace` command). */
export function validateUpdate(update: unknown, path = 'update'): void {
  if (!isPlainObject(update)) fail(path, 'update must be a plain object of update operators');
  const ops = Object.keys(update);
  if (ops.length === 0) fail(path, 'update has no operators');
  // One budget for every $pull condition of the update: the filter bounds hold for the whole request.
  const budget = new FilterBudget();
  for (const op of ops) {
    const here = joinPath(path, op);
    if (op.charCodeAt(0) !== 36) fail(here, `"${op}" is not an update operator (use a replace to overwrite a document)`);
    if (!UPDATE_OPERATORS.has(op)) fail(here, `unknown or unsupported update operator ${op}`);
    const fields = update[op];
    if (!isPlainObject(fields)) fail(here, `${op} takes an object of field paths`);
    for (const field of Object.keys(fields)) {
      const segs = validateFieldPath(field, here);
      const fieldPath = joinPath(here, field);
      if (segs[0] === '_rev') fail(fieldPath, '_rev is maintained by the store');
      validateUpdateArgument(op, fields[field], fieldPath, budget);
    }
  }
}

function validateUpdateArgument(op: string, arg: unknown, path: string, budget: FilterBudget): void {
  switch (op) {
    case '$inc':
    case '$mul':
      if (typeof arg !== 'number' || !Number.isFinite(arg)) fail(path, `${op} takes a finite number`);
      return;
    case '$rename':
      validateFieldPath(arg, path);
      if ((arg as string).split('.')[0] === '_rev') fail(path, '_rev is maintained by the store');
      return;
    case '$pop':
      if (arg !== 1 && arg !== -1) fail(path, '$pop takes 1 or -1');
      return;
    case '$pullAll':
      if (!Array.isArray(arg)) fail(path, '$pullAll takes an array');
      copyJsonValue(arg, path);
      return;
    case '$pull':
      if (isOperatorObject(arg)) validateCondition(arg, path, 2, budget);
      else if (isPlainObject(arg)) validateFilter(arg, path, 2, budget);
      else copyJsonValue(arg, path);
      return;
    case '$push':
    case '$addToSet':
      if (isOperatorObject(arg)) {
        validateEachModifiers(op, arg, path);
        return;
      }
      copyJsonValue(arg, path);
      return;
    default:
      copyJsonValue(arg, path);
  }
}

function validateEachModifiers(op: string, arg: Record<string, unknown>, path: string): void {
  const allowed = op === '$push' ? ['$each', '$slice', '$sort', '$position'] : ['$each'];
  if (!('$each' in arg)) fail(path, `${op} modifiers require $each`);
  for (const mod of Object.keys(arg)) {
    const here = joinPath(path, mod);
    if (!allowed.includes(mod)) fail(here, `unknown ${op} modifier ${mod}`);
    const v = arg[mod];
    switch (mod) {
      case '$each':
        if (!Array.isArray(v)) fail(here, '$each takes an array');
        copyJsonValue(v, here);
        break;
      case '$slice':
      case '$position':
        if (!Number.isSafeInteger(v)) fail(here, `${mod} takes an integer`);
        break;
      case '$sort':
        if (v === 1 || v === -1) break;
        if (!isPlainObject(v) || Object.keys(v).length === 0) fail(here, '$sort takes 1, -1 or {path: 1|-1}');
        validateSortDirections(v, here);
        break;
    }
  }
}
