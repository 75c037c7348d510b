// $regex on RE2 (re2js, a pure-JS port): matching takes time linear in the input, so no
// pattern can stall a node the way `(a+)+$` does on a backtracking engine. The syntax is
// RE2's: no backreferences and no lookaround; such a pattern is refused at validation.
//
// mingo turns `{$regex, $options}` into a JS RegExp before any operator sees it (its
// normalize), so the filter given to mingo carries our own operator instead, RE2_OPERATOR,
// with [pattern, options]: mingo never builds or runs a JS RegExp for a filter.
import { RE2JS } from 're2js';
import { ensureArray, resolve } from 'mingo/util';
import type * as queryOperators from 'mingo/operators/query';
import { assert } from '../assert.ts';

/** Longest `$regex` pattern, in UTF-16 characters. */
export const REGEX_PATTERN_CHARS_MAX = 1024;

/** MongoDB's `$options` flags that RE2 has (`u` is accepted and changes nothing: RE2 matches
 * code points). MongoDB's `x` (extended) has no RE2 equivalent. */
const FLAG_BITS: ReadonlyMap<string, number> = new Map([
  ['i', RE2JS.CASE_INSENSITIVE],
  ['m', RE2JS.MULTILINE],
  ['s', RE2JS.DOTALL],
  ['u', 0],
]);

/** The operator name mingo sees in place of `$regex` (never accepted from a caller: it is
 * not a known operator for validation). */
export const RE2_OPERATOR = '$__re2';

/** Why a `$regex`/`$options` pair is refused (and which of the two is at fault), or undefined. */
export function regexProblem(pattern: string, options: string): { at: '$regex' | '$options'; message: string } | undefined {
  for (const flag of options) {
    if (!FLAG_BITS.has(flag))
      return { at: '$options', message: `flag ${JSON.stringify(flag)} is not supported ($options may only contain i, m, s, u)` };
  }
  if (pattern.length > REGEX_PATTERN_CHARS_MAX) {
    return { at: '$regex', message: `pattern longer than ${REGEX_PATTERN_CHARS_MAX} characters (REGEX_PATTERN_CHARS_MAX)` };
  }
  try {
    compileRegex(pattern, options);
  } catch (e) {
    return {
      at: '$regex',
      message: `invalid regular expression for RE2 (no backreferences or lookaround): ${(e as Error).message}`,
    };
  }
  return undefined;
}

/** Compiled patterns, by options and pattern: validation and every compile of the same
 * filter (a query is validated by the route and again by the store) share one, and with it
 * the DFA it has built. Bounded: cleared when full, it only ever saves time. */
const COMPILED = new Map<string, RE2JS>();
const COMPILED_ENTRIES_MAX = 256;

/** Compiles a pattern (cached); throws on a pattern RE2 refuses. */
export function compileRegex(pattern: string, options: string): RE2JS {
  const key = `${options}/${pattern}`;
  const hit = COMPILED.get(key);
  if (hit !== undefined) return hit;
  const re = compileUncached(pattern, options);
  if (COMPILED.size >= COMPILED_ENTRIES_MAX) COMPILED.clear();
  COMPILED.set(key, re);
  return re;
}

function compileUncached(pattern: string, options: string): RE2JS {
  let flags = 0;
  for (const flag of options) {
    const bit = FLAG_BITS.get(flag);
    assert(bit !== undefined, `$options flag ${flag} passed validation`);
    flags |= bit;
  }
  return RE2JS.compile(pattern, flags);
}

/** A copy of a validated filter for mingo: every `{$regex: p, $options?: o}` becomes
 * `{[RE2_OPERATOR]: [p, o]}` (other operators of the same condition kept), at any depth. */
export function withRe2Operators(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withRe2Operators);
  if (typeof value !== 'object' || value === null) return value;
  const obj = value as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(obj)) {
    if (key === '$options' && typeof obj['$regex'] === 'string') continue;
    if (key === '$regex' && typeof obj[key] === 'string') out[RE2_OPERATOR] = [obj[key], obj['$options'] ?? ''];
    else out[key] = withRe2Operators(obj[key]);
  }
  return out;
}

/** An update spec for mingo's updater: the conditions of `$pull` (the one update operator
 * that takes a query) with RE2_OPERATOR in place of `$regex`; the rest as it is. */
export function mingoUpdateSpec<T extends object>(spec: T): T {
  const pull = (spec as Record<string, unknown>)['$pull'];
  return pull === undefined ? spec : { ...spec, $pull: withRe2Operators(pull) };
}

type RegexOperator = (typeof queryOperators)['$regex'];

/** mingo's $regex semantics (a string value matches, or an array holding a matching string,
 * one level of nested arrays included) with an unanchored RE2 search. */
export const $re2: RegexOperator = (selector, value) => {
  const [pattern, options] = value as [string, string];
  const re = compileRegex(pattern, options);
  const match = (x: unknown): boolean => typeof x === 'string' && re.test(x);
  return (obj) => {
    const lhs = ensureArray(resolve(obj, selector, { unwrapArray: true }));
    return lhs.some(match) || lhs.some((x) => Array.isArray(x) && x.some(match));
  };
};
