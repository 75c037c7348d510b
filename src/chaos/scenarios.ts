// The chaos scenarios and the fault schedule a seed makes of them: pure, so that
// `--seed` reproduces the same faults at the same times against the same targets.
import { Prng } from '../sim/prng.ts';

export const SCENARIOS = [
  'leader_crash',
  'follower_crash',
  'leader_isolation',
  'partition',
  'pause',
  'rolling_restart',
  'majority_loss',
  'random',
] as const;
export type ScenarioName = (typeof SCENARIOS)[number];
/** A fault the runner can inject: every scenario but `random`, which mixes them. */
export type FaultKind = Exclude<ScenarioName, 'random'>;

const FAULT_KINDS: readonly FaultKind[] = SCENARIOS.filter((s): s is FaultKind => s !== 'random');
/** `random` leaves out majority_loss: it stops the service on purpose, which would dominate the mix. */
const RANDOM_MIX: readonly FaultKind[] = FAULT_KINDS.filter((k) => k !== 'majority_loss');

/** snake_case as in the seed, kebab-case accepted; undefined when unknown. */
export function parseScenario(text: string): ScenarioName | undefined {
  const name = text.trim().toLowerCase().replaceAll('-', '_');
  return SCENARIOS.find((s) => s === name);
}

export interface FaultStep {
  readonly kind: FaultKind;
  /** When the fault starts, in ms since the load started. */
  readonly atMs: number;
  /** How long it holds before it is healed (for rolling_restart: per node). */
  readonly holdMs: number;
  /** A number in [0, 1) the runner turns into a target (which follower, which minority). */
  readonly pick: number;
}

export interface ScheduleOptions {
  readonly scenario: ScenarioName;
  readonly durationMs: number;
  readonly intervalMs: number;
  readonly holdMs: number;
  readonly seed: number;
}

/** Load without faults at the start, so every run has a baseline to compare against. */
export function warmUpMs(durationMs: number): number {
  return Math.min(1000, Math.floor(durationMs / 5));
}

/**
 * Faults from the end of the warm-up, one every `intervalMs`; a fault whose hold would end
 * after the run is left out (the run ends healed, so recovery is always measured).
 */
export function makeSchedule(options: ScheduleOptions): FaultStep[] {
  const prng = new Prng(options.seed);
  const steps: FaultStep[] = [];
  for (let at = warmUpMs(options.durationMs); at + options.holdMs < options.durationMs; at += options.intervalMs) {
    const kind = options.scenario === 'random' ? prng.pick(RANDOM_MIX) : options.scenario;
    steps.push({ kind, atMs: at, holdMs: options.holdMs, pick: prng.next() });
  }
  return steps;
}

/** The two sides of a partition of `ids`: a minority (floor((n-1)/2), at least 1) and the rest;
 * with 5 nodes 2|3 as in the seed's split-brain test. `pick` chooses the minority. */
export function splitMinority(ids: readonly number[], pick: number): { minority: number[]; majority: number[] } {
  const size = Math.max(1, Math.floor((ids.length - 1) / 2));
  const start = Math.floor(pick * ids.length);
  const minority = Array.from({ length: size }, (_, i) => ids[(start + i) % ids.length]!);
  return { minority, majority: ids.filter((id) => !minority.includes(id)) };
}

/** A majority of `ids` (floor(n/2)+1), chosen by `pick`. */
export function pickMajority(ids: readonly number[], pick: number): number[] {
  const size = Math.floor(ids.length / 2) + 1;
  const start = Math.floor(pick * ids.length);
  return Array.from({ length: size }, (_, i) => ids[(start + i) % ids.length]!);
}
