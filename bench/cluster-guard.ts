// The measures of the cluster suite that the regression guard compares (bench/compare.ts,
// `npm run bench -- cluster --compare FILE`): our writes over etcd's per level, from the
// alternating rounds (each round's pair measured back to back), and our linearizable reads over
// etcd's where etcd ran; otherwise, and for what has no peer, our absolute numbers.
import type { Guard, GuardMeasure } from './compare.ts';
import type { AlternatedWrites } from './fixtures/alternate.ts';
import type { LoadResult } from './fixtures/load.ts';

export interface ClusterGuardInput {
  readonly writes: readonly LoadResult[];
  readonly alternated: readonly AlternatedWrites[] | null;
  readonly linearizableReadsSpread: LoadResult;
  /** etcd's, when it ran. */
  readonly etcdLinearizableReadsSpread: LoadResult | null;
  readonly failoverMedianMs: number;
  readonly snapshotCatchUpMs: number;
}

export function clusterGuard(input: ClusterGuardInput): Guard {
  const guard: Record<string, GuardMeasure> = {};
  for (const w of input.writes) {
    const pair = input.alternated?.find((a) => a.clients === w.clients);
    guard[`writes${w.clients}`] =
      pair !== undefined
        ? { value: pair.throughputRatioMedian, better: 'higher', kind: 'ratio-to-peer', rounds: pair.throughputRatioByRound }
        : { value: w.opsPerSecond, better: 'higher', kind: 'absolute' };
  }
  const reads = input.linearizableReadsSpread.opsPerSecond;
  const etcdReads = input.etcdLinearizableReadsSpread?.opsPerSecond ?? 0;
  guard['linearizableReadsSpread'] =
    etcdReads > 0 ? { value: reads / etcdReads, better: 'higher', kind: 'ratio-to-peer' } : { value: reads, better: 'higher', kind: 'absolute' };
  guard['failoverMedianMs'] = { value: input.failoverMedianMs, better: 'lower', kind: 'absolute' };
  guard['snapshotCatchUpMs'] = { value: input.snapshotCatchUpMs, better: 'lower', kind: 'absolute' };
  return guard;
}
