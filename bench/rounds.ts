// Alternating rounds (ours, lmdb, sqlite, ours, ...) and their summary: on a shared, noisy
// box one round cannot decide, so each measure reports the median of its rounds and the spread.
import { medianOf } from './util.ts';

export interface Summary {
  /** The median round (the mean of the two middle ones for an even count). */
  readonly median: number;
  readonly min: number;
  readonly max: number;
  /** (max - min) / median: 0.1 means the rounds spread over 10 % of the median. */
  readonly spread: number;
  /** Every round, in run order. */
  readonly rounds: readonly number[];
}

export function summarize(values: readonly number[]): Summary {
  if (values.length === 0) throw new Error('no rounds to summarize');
  const sorted = [...values].sort((a, b) => a - b);
  const median = medianOf(sorted);
  const min = sorted[0]!;
  const max = sorted[sorted.length - 1]!;
  return {
    median: round3(median),
    min: round3(min),
    max: round3(max),
    spread: median > 0 ? round3((max - min) / median) : 0,
    rounds: values.map(round3),
  };
}

/**
 * Runs `measure` for every subject in turn, `rounds` times (subject order kept within a
 * round), and returns each subject's values in run order.
 */
export async function alternate<S extends string>(
  subjects: readonly S[],
  rounds: number,
  measure: (subject: S, round: number) => Promise<number>,
): Promise<Record<S, number[]>> {
  const values = Object.fromEntries(subjects.map((s) => [s, [] as number[]])) as Record<S, number[]>;
  for (let r = 0; r < rounds; r++) for (const s of subjects) values[s].push(await measure(s, r));
  return values;
}

/** ours / peer, so that above 1 means ours is ahead for a higher-is-better measure. */
export function ratio(ours: number, peer: number): number | null {
  return peer > 0 ? round3(ours / peer) : null;
}

/**
 * ours / peer in each round (the two ran next to each other, under about the same load),
 * and the median of those: steadier than the ratio of the two medians when the box's load
 * changes between rounds. `peer` may be several peers: their best in each round.
 */
export function pairedRatios(
  ours: readonly number[],
  ...peers: (readonly number[])[]
): { readonly median: number; readonly rounds: readonly number[] } | null {
  const rounds: number[] = [];
  for (let r = 0; r < ours.length; r++) {
    const best = Math.max(...peers.map((p) => p[r] ?? 0));
    if (best > 0) rounds.push(round3(ours[r]! / best));
  }
  return rounds.length === 0 ? null : { median: summarize(rounds).median, rounds };
}

export function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}
