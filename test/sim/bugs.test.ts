import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { FaultProfile } from '../../src/sim/faults.ts';
import { PROFILES } from '../../src/sim/faults.ts';
import { SimulationFailure, trySimulation } from '../../src/sim/run.ts';
import { figure8Scenario } from '../../src/sim/scenarios.ts';

// The checkers must catch real Raft bugs. Each deliberate bug (RaftBugs) must be caught by
// some seed within a bounded number, and the same seeds must pass on the correct core.

test('commitPreviousTermEntries (Figure 8) is caught by the invariants', () => {
  const caught: SimulationFailure[] = [];
  for (let seed = 1; seed <= 30 && caught.length === 0; seed++) {
    try {
      figure8Scenario({ seed, bugs: { commitPreviousTermEntries: true } });
    } catch (e) {
      if (!(e instanceof SimulationFailure)) throw e;
      caught.push(e);
      // The correct core survives the very same script.
      figure8Scenario({ seed });
    }
  }
  assert.equal(caught.length, 1, 'no seed in 1..30 caught the Figure 8 bug');
  assert.match(caught[0]!.detail, /leader completeness|state machine safety|commit safety|log matching/);
});

test('the Figure 8 script passes on the correct core for every seed', () => {
  for (let seed = 1; seed <= 15; seed++) figure8Scenario({ seed });
});

// Stale reads need a deposed leader that still believes it leads while the majority has moved
// on. Check-quorum (and its lease) would depose it within an election timeout, so this test
// turns check-quorum off: ReadIndex alone must then keep reads linearizable, and without its
// quorum round trip (the bug) an isolated old leader serves stale values.
const ISOLATE_LEADER: FaultProfile = {
  ...PROFILES.partitions!,
  name: 'isolate-leader',
  partitionEveryMs: [100, 300],
  partitionMs: [300, 900],
  partitionKinds: ['isolateLeader'],
};

test('readWithoutQuorumCheck is caught by the linearizability checker', () => {
  const options = {
    nodes: 5,
    profile: ISOLATE_LEADER,
    durationMs: 2500,
    timing: { checkQuorum: false },
    clients: { count: 6, keys: ['a', 'b'], readRatio: 0.6, leaseReadRatio: 0 },
  };
  let caughtAt = 0;
  for (let seed = 1; seed <= 40 && caughtAt === 0; seed++) {
    const r = trySimulation({ ...options, seed, bugs: { readWithoutQuorumCheck: true } });
    if (!r.ok) {
      assert.equal(r.failure.kind, 'linearizability', r.failure.message);
      caughtAt = seed;
    }
  }
  assert.ok(caughtAt > 0, 'no seed in 1..40 caught the stale-read bug');
  // Without the bug the same configuration is linearizable.
  for (let seed = 1; seed <= caughtAt; seed++) {
    const r = trySimulation({ ...options, seed });
    assert.ok(r.ok, r.ok ? '' : r.failure.message);
  }
});

// Votes and acks sent before the write that backs them: the simulator's check that a sender's
// term is durable before its messages leave (and, failing that, election and commit safety
// after a crash mid-write) must catch it within a few seeds of the pipelined driver (the sync
// driver always writes before it sends). The same seeds pass on the correct core.
test('sendBeforeDurable is caught by the simulator', () => {
  const options = { nodes: 3, profile: 'mixed', durationMs: 1500, driver: 'pipelined' as const };
  let caughtAt = 0;
  for (let seed = 1; seed <= 10 && caughtAt === 0; seed++) {
    const r = trySimulation({ ...options, seed, bugs: { sendBeforeDurable: true } });
    if (!r.ok) {
      assert.match(r.failure.kind, /^(invariant|linearizability)$/, r.failure.message);
      caughtAt = seed;
    }
  }
  assert.ok(caughtAt > 0, 'no seed in 1..10 caught sendBeforeDurable');
  for (let seed = 1; seed <= caughtAt; seed++) {
    const r = trySimulation({ ...options, seed });
    assert.ok(r.ok, r.ok ? '' : r.failure.message);
  }
});
