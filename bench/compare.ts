// The regression guard's logic (`npm run bench -- --compare FILE`): the measures a run
// reports in `results.guard`, compared with a saved run's. Pure: no I/O, so it is tested alone.

/** One guarded measure. Ratios to a peer measured in the same run are preferred: the box is
 * shared and absolute numbers swing 2x with its load, a ratio much less. */
export interface GuardMeasure {
  readonly value: number;
  readonly better: 'higher' | 'lower';
  readonly kind: 'ratio-to-peer' | 'absolute';
  /** The value of each round, where the measure has rounds: tells a change from the noise. */
  readonly rounds?: readonly number[];
}

export type Guard = Readonly<Record<string, GuardMeasure>>;

/** A measure is flagged when it is more than this fraction worse than the saved one. */
export const DEFAULT_TOLERANCE = 0.15;

export type RowStatus = 'ok' | 'worse' | 'better' | 'only in saved run' | 'only in this run' | 'not comparable';

export interface ComparedRow {
  readonly name: string;
  readonly old: number | null;
  readonly new: number | null;
  /** new / old, or null when one is missing or the old one is 0. */
  readonly ratio: number | null;
  readonly status: RowStatus;
  /**
   * Whether the two runs' rounds overlap (some round of one lies within the other's range):
   * a flag whose rounds overlap may be the box's noise; null without rounds on both sides.
   */
  readonly roundsOverlap: boolean | null;
}

export interface Comparison {
  readonly rows: readonly ComparedRow[];
  /** Names of the measures more than the tolerance worse. */
  readonly worse: readonly string[];
  /** Measures present in both runs and compared. */
  readonly compared: number;
  readonly tolerance: number;
}

export function compareGuards(old: Guard, next: Guard, tolerance: number = DEFAULT_TOLERANCE): Comparison {
  const names = [...new Set([...Object.keys(old), ...Object.keys(next)])].sort();
  const rows: ComparedRow[] = names.map((name) => compareOne(name, old[name], next[name], tolerance));
  return {
    rows,
    worse: rows.filter((r) => r.status === 'worse').map((r) => r.name),
    compared: rows.filter((r) => r.status === 'ok' || r.status === 'worse' || r.status === 'better').length,
    tolerance,
  };
}

function compareOne(name: string, old: GuardMeasure | undefined, next: GuardMeasure | undefined, tolerance: number): ComparedRow {
  if (old === undefined) return { name, old: null, new: next!.value, ratio: null, status: 'only in this run', roundsOverlap: null };
  if (next === undefined) return { name, old: old.value, new: null, ratio: null, status: 'only in saved run', roundsOverlap: null };
  if (old.better !== next.better || old.kind !== next.kind || !(old.value > 0) || !Number.isFinite(next.value)) {
    return { name, old: old.value, new: next.value, ratio: null, status: 'not comparable', roundsOverlap: null };
  }
  const roundsOverlap =
    old.rounds !== undefined && next.rounds !== undefined && old.rounds.length > 0 && next.rounds.length > 0
      ? Math.min(...next.rounds) <= Math.max(...old.rounds) && Math.min(...old.rounds) <= Math.max(...next.rounds)
      : null;
  const ratio = next.value / old.value;
  // For a higher-is-better measure, 15 % worse is below 0.85 of the old value; for a
  // lower-is-better one (seconds, bytes), above 1.15 of it.
  const worse = next.better === 'higher' ? ratio < 1 - tolerance : ratio > 1 + tolerance;
  const better = next.better === 'higher' ? ratio > 1 + tolerance : ratio < 1 - tolerance;
  return {
    name,
    old: old.value,
    new: next.value,
    ratio: Math.round(ratio * 1000) / 1000,
    status: worse ? 'worse' : better ? 'better' : 'ok',
    roundsOverlap,
  };
}

/** The suite and guard of a benchmark's printed JSON (the stdout of `npm run -s bench`). */
export function guardOfOutput(output: unknown): { readonly suite: string; readonly guard: Guard } {
  if (typeof output !== 'object' || output === null) throw new Error('not a benchmark output: expected a JSON object');
  const { suite, results } = output as { suite?: unknown; results?: unknown };
  if (typeof suite !== 'string') throw new Error('not a benchmark output: no "suite"');
  const guard = (results as { guard?: unknown } | undefined)?.guard;
  if (typeof guard !== 'object' || guard === null)
    throw new Error(`the ${suite} output has no results.guard (saved before the guard existed, or a suite without one)`);
  for (const [name, m] of Object.entries(guard as Record<string, unknown>)) {
    const measure = m as Partial<GuardMeasure> | null;
    if (
      typeof measure?.value !== 'number' ||
      (measure.better !== 'higher' && measure.better !== 'lower') ||
      (measure.kind !== 'ratio-to-peer' && measure.kind !== 'absolute')
    ) {
      throw new Error(`results.guard["${name}"] is not { value: number, better: "higher" | "lower", kind: "ratio-to-peer" | "absolute" }`);
    }
  }
  return { suite, guard: guard as Guard };
}

/** A plain-text table: measure, old, new, new/old, status, whether the rounds overlap. */
export function formatComparison(comparison: Comparison): string {
  const cell = (x: number | null): string => (x === null ? '-' : String(x));
  const overlap = (x: boolean | null): string => (x === null ? '-' : x ? 'yes' : 'no');
  const table = [
    ['measure', 'old', 'new', 'new/old', 'status', 'rounds overlap'],
    ...comparison.rows.map((r) => [r.name, cell(r.old), cell(r.new), cell(r.ratio), r.status, overlap(r.roundsOverlap)]),
  ];
  const widths = table[0]!.map((_, c) => Math.max(...table.map((row) => row[c]!.length)));
  const lines = table.map((row) =>
    row
      .map((v, c) => (c === 0 || c >= 4 ? v.padEnd(widths[c]!) : v.padStart(widths[c]!)))
      .join('  ')
      .trimEnd(),
  );
  const pct = Math.round(comparison.tolerance * 100);
  const verdict =
    comparison.worse.length > 0
      ? `${comparison.worse.length} of ${comparison.compared} measures more than ${pct} % worse: ${comparison.worse.join(', ')}` +
        (comparison.rows.some((r) => r.status === 'worse' && r.roundsOverlap === true)
          ? ' (where the rounds overlap, rerun on a quiet box before believing it)'
          : '')
      : `${comparison.compared} measures compared, none more than ${pct} % worse`;
  return [...lines, verdict].join('\n');
}
