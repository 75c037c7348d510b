// The cluster suite's guarded measures: ratios to etcd where it ran (with the rounds), our own
// numbers where it did not, and a run compared with a worse one is flagged.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { clusterGuard } from '../../bench/cluster-guard.ts';
import { compareGuards } from '../../bench/compare.ts';
import type { AlternatedWrites } from '../../bench/fixtures/alternate.ts';
import { fakeLoad as load } from './fake-load.ts';

function pair(clients: number, ours: number, peer: number, byRound: number[]): AlternatedWrites {
  return {
    clients,
    rounds: byRound.length,
    ours: load(clients, ours),
    peer: load(clients, peer),
    throughputRatioByRound: byRound,
    throughputRatioMedian: ours / peer,
    oursByRound: [],
    peerByRound: [],
    cpu: null,
  };
}

describe('clusterGuard', () => {
  test('with etcd: ratios per level and for reads; without: our numbers', () => {
    const writes = [load(1, 200), load(64, 4000)];
    const withEtcd = clusterGuard({
      writes,
      alternated: [pair(1, 200, 400, [0.4, 0.5, 0.6]), pair(64, 4000, 2000, [2, 2, 2])],
      linearizableReadsSpread: load(64, 9000),
      etcdLinearizableReadsSpread: load(64, 3000),
      failoverMedianMs: 300,
      snapshotCatchUpMs: 5000,
    });
    assert.deepEqual(withEtcd['writes1'], { value: 0.5, better: 'higher', kind: 'ratio-to-peer', rounds: [0.4, 0.5, 0.6] });
    assert.equal(withEtcd['writes64']!.value, 2);
    assert.deepEqual(withEtcd['linearizableReadsSpread'], { value: 3, better: 'higher', kind: 'ratio-to-peer' });
    assert.deepEqual(withEtcd['failoverMedianMs'], { value: 300, better: 'lower', kind: 'absolute' });
    const alone = clusterGuard({
      writes,
      alternated: null,
      linearizableReadsSpread: load(64, 9000),
      etcdLinearizableReadsSpread: null,
      failoverMedianMs: 300,
      snapshotCatchUpMs: 5000,
    });
    assert.deepEqual(alone['writes1'], { value: 200, better: 'higher', kind: 'absolute' });
    assert.equal(alone['linearizableReadsSpread']!.kind, 'absolute');
    // A run whose single-client ratio fell by a third is flagged; one that only failed over faster is not.
    const worse = clusterGuard({
      writes,
      alternated: [pair(1, 200, 600, [0.33]), pair(64, 4000, 2000, [2])],
      linearizableReadsSpread: load(64, 9000),
      etcdLinearizableReadsSpread: load(64, 3000),
      failoverMedianMs: 200,
      snapshotCatchUpMs: 5000,
    });
    assert.deepEqual(compareGuards(withEtcd, worse).worse, ['writes1']);
  });
});
