// $mod as MongoDB defines it: only numbers match. mingo's applies `%` to any value, so that
// null, booleans and numeric strings match too, and a document holding an object with a
// key "toString" or "valueOf" (both valid JSON keys) makes it throw: a 500 for a valid
// query. The divisor and remainder were checked by validateFilter.
import { ensureArray, resolve } from 'mingo/util';
import type * as queryOperators from 'mingo/operators/query';

type ModOperator = (typeof queryOperators)['$mod'];

export const $mod: ModOperator = (selector, value) => {
  const [divisor, remainder] = value as [number, number];
  return (obj) => ensureArray(resolve(obj, selector, { unwrapArray: true })).some((x) => typeof x === 'number' && x % divisor === remainder);
};
