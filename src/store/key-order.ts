// A total order over JSON values following MongoDB's BSON comparison order:
//   null (and missing) < numbers < strings < objects < arrays < booleans.
// Numbers compare numerically, strings by UTF-16 code units (the same order
// mingo's $gt/$lt use, so index ranges and the filter agree), objects pair by
// pair (value type, then key, then value), arrays element by element.
//
// KeyBound values are not JSON: they sit before or after every value of one
// type rank, so a range scan can say "all numbers above 5" without knowing the
// largest number.

export const RANK_MIN = 0;
export const RANK_NULL = 1;
export const RANK_NUMBER = 2;
export const RANK_STRING = 3;
export const RANK_OBJECT = 4;
export const RANK_ARRAY = 5;
export const RANK_BOOLEAN = 6;
export const RANK_MAX = 7;

export class KeyBound {
  constructor(
    readonly rank: number,
    /** -1: before every value of this rank; 1: after every value of it. */
    readonly side: -1 | 1,
  ) {}
}

export const MIN_VALUE = new KeyBound(RANK_MIN, -1);
export const MAX_VALUE = new KeyBound(RANK_MAX, 1);

export function typeRank(v: unknown): number {
  switch (typeof v) {
    case 'number':
      return RANK_NUMBER;
    case 'string':
      return RANK_STRING;
    case 'boolean':
      return RANK_BOOLEAN;
    case 'undefined':
      return RANK_NULL;
    case 'object':
      if (v === null) return RANK_NULL;
      if (Array.isArray(v)) return RANK_ARRAY;
      if (v instanceof KeyBound) return v.rank;
      return RANK_OBJECT;
    default:
      throw new TypeError(`not a JSON value: ${typeof v}`);
  }
}

/** Strings in code-unit order (as `<`): _ids, and string values of the same rank. */
export function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Compares two JSON values (or KeyBounds); returns <0, 0 or >0. */
export function compareValues(a: unknown, b: unknown): number {
  // Fast paths for the common same-type scalars.
  const ta = typeof a;
  if (ta === typeof b) {
    if (ta === 'string') return compareStrings(a as string, b as string);
    if (ta === 'number') return (a as number) < (b as number) ? -1 : (a as number) > (b as number) ? 1 : 0;
    if (ta === 'boolean') return a === b ? 0 : a ? 1 : -1;
  }
  const ra = typeRank(a);
  const rb = typeRank(b);
  const aBound = a instanceof KeyBound;
  const bBound = b instanceof KeyBound;
  if (aBound || bBound) {
    if (ra !== rb) return ra - rb;
    const sa = aBound ? (a as KeyBound).side : 0;
    const sb = bBound ? (b as KeyBound).side : 0;
    return sa - sb;
  }
  if (ra !== rb) return ra - rb;
  switch (ra) {
    case RANK_NULL:
      return 0;
    case RANK_OBJECT:
      return compareObjects(a as Record<string, unknown>, b as Record<string, unknown>);
    case RANK_ARRAY:
      return compareArrays(a as unknown[], b as unknown[]);
    default:
      // Same-type scalars were handled above.
      throw new Error(`unreachable: rank ${ra}`);
  }
}

function compareArrays(a: unknown[], b: unknown[]): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const c = compareValues(a[i], b[i]);
    if (c !== 0) return c;
  }
  return a.length - b.length;
}

function compareObjects(a: Record<string, unknown>, b: Record<string, unknown>): number {
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  const n = Math.min(ka.length, kb.length);
  for (let i = 0; i < n; i++) {
    const va = a[ka[i]!];
    const vb = b[kb[i]!];
    const r = typeRank(va) - typeRank(vb);
    if (r !== 0) return r;
    const k = compareStrings(ka[i]!, kb[i]!);
    if (k !== 0) return k;
    const c = compareValues(va, vb);
    if (c !== 0) return c;
  }
  return ka.length - kb.length;
}
