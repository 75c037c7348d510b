// The order of an index's keys when it is built in bulk (SecondaryIndex.build, on createIndex
// and on every snapshot restore), for the common single-field index whose values are all
// numbers or all strings: the documents' positions sorted by value, stable (equal values keep
// the documents' order, which is _id order), most often without a comparison call per pair.
// A comparator sort of 1,000,000 keys costs 0.4 to 1.1 s on the development box; a radix sort
// of their numbers 0.1 s, a grouping of their strings 0.06 s (1,000 distinct) to 0.4 s.

import { assert } from '../assert.ts';

/** The share of distinct strings among the values up to which stringOrder groups them (a Map
 * of the distinct strings, sorted, then a counting sort): beyond, comparing pairs costs less.
 * Measured with 1,000,000 strings: grouping 0.06 s at 1,000 distinct, 0.2 s at 100,000,
 * 0.4 s at 250,000, 0.8 s at 500,000, 1.1 to 1.7 s all distinct; a comparator sort of the
 * positions about 0.5 s. */
export const ORDER_GROUP_DISTINCT_SHARE_MAX = 0.25;

/** Bits a radix pass sorts on: four passes over the 64 bits of a double, a 65,536-count table. */
const RADIX_BITS = 16;
const RADIX_SIZE = 1 << RADIX_BITS;

// The radix sort reads a double's two 32-bit halves through a Uint32Array over its bytes: the
// low half first on a little-endian machine (every platform Node supports today).
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/**
 * Positions 0..n-1 of `values` in ascending order, stable: an LSD radix sort on the values'
 * IEEE 754 bits, made to sort as unsigned integers (sign bit flipped for positives, every bit
 * for negatives). The caller passes no NaN (documents hold finite numbers) and no -0 (it
 * would sort before 0, which the index's comparator counts as equal).
 */
export function numberOrder(values: Float64Array): Uint32Array {
  assert(LITTLE_ENDIAN, 'numberOrder reads doubles as little-endian halves');
  const n = values.length;
  const halves = new Uint32Array(values.buffer, values.byteOffset, n * 2);
  const lo = new Uint32Array(n);
  const hi = new Uint32Array(n);
  for (let i = 0; i < n; i++) {
    const h = halves[2 * i + 1]!;
    const l = halves[2 * i]!;
    if (h & 0x80000000) {
      hi[i] = ~h >>> 0;
      lo[i] = ~l >>> 0;
    } else {
      hi[i] = (h | 0x80000000) >>> 0;
      lo[i] = l;
    }
  }
  let order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  let next = new Uint32Array(n);
  const counts = new Uint32Array(RADIX_SIZE);
  for (const [words, shift] of [
    [lo, 0],
    [lo, RADIX_BITS],
    [hi, 0],
    [hi, RADIX_BITS],
  ] as const) {
    counts.fill(0);
    for (let i = 0; i < n; i++) counts[(words[i]! >>> shift) & (RADIX_SIZE - 1)]!++;
    // A pass where every value has the same digit would leave the order as it is: skipped
    // (integers have an all-zero low half, small ones a constant high digit).
    if (n === 0 || counts[(words[0]! >>> shift) & (RADIX_SIZE - 1)] === n) continue;
    let sum = 0;
    for (let digit = 0; digit < RADIX_SIZE; digit++) {
      const c = counts[digit]!;
      counts[digit] = sum;
      sum += c;
    }
    for (let k = 0; k < n; k++) {
      const i = order[k]!;
      next[counts[(words[i]! >>> shift) & (RADIX_SIZE - 1)]!++] = i;
    }
    [order, next] = [next, order];
  }
  return order;
}

/**
 * Positions 0..n-1 of `values` in the order of their strings (UTF-16 code units, as `<`
 * compares them), ascending for dir 1 and descending for -1, stable: by groups when few are
 * distinct, else by comparing positions.
 */
export function stringOrder(values: readonly string[], dir: 1 | -1): Uint32Array {
  const grouped = groupedStringOrder(values, dir, Math.floor(values.length * ORDER_GROUP_DISTINCT_SHARE_MAX));
  if (grouped !== undefined) return grouped;
  const order = new Uint32Array(values.length);
  for (let i = 0; i < order.length; i++) order[i] = i;
  return order.sort((i, j) => {
    const x = values[i]!;
    const y = values[j]!;
    return x < y ? -dir : x > y ? dir : i - j;
  });
}

/**
 * stringOrder's grouping, or undefined when the values hold more than `distinctMax` distinct
 * strings: the distinct strings are sorted, each value gets its string's rank, and a counting
 * sort on the ranks places the positions.
 */
export function groupedStringOrder(values: readonly string[], dir: 1 | -1, distinctMax: number): Uint32Array | undefined {
  const n = values.length;
  // One Map lookup per value: each distinct string gets the ordinal of its first sight, and
  // each value that ordinal (a second pass over a million Map lookups cost as much as the first).
  const ordinalOf = new Map<string, number>();
  const distinct: string[] = [];
  const ordinals = new Uint32Array(n);
  for (let i = 0; i < n; i++) {
    const v = values[i]!;
    let ordinal = ordinalOf.get(v);
    if (ordinal === undefined) {
      if (distinct.length >= distinctMax) return undefined;
      ordinal = distinct.length;
      ordinalOf.set(v, ordinal);
      distinct.push(v);
    }
    ordinals[i] = ordinal;
  }
  // The default sort compares strings by UTF-16 code units: the order of `<`. In place: the
  // ordinals live on in ordinalOf.
  distinct.sort();
  const last = distinct.length - 1;
  const rankOfOrdinal = new Uint32Array(distinct.length);
  for (let r = 0; r <= last; r++) rankOfOrdinal[ordinalOf.get(distinct[r]!)!] = dir === 1 ? r : last - r;
  const starts = new Uint32Array(distinct.length + 1);
  for (let i = 0; i < n; i++) starts[rankOfOrdinal[ordinals[i]!]! + 1]!++;
  for (let r = 0; r < distinct.length; r++) starts[r + 1]! += starts[r]!;
  const order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[starts[rankOfOrdinal[ordinals[i]!]!]!++] = i;
  return order;
}
