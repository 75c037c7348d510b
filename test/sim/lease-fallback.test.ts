// Lease reads in the simulator as production does them (src/node/raft-node.ts, readBarrier):
// without a valid lease a lease read is confirmed through ReadIndex, never refused; and the
// regression of seed 635 (docs/simulation.md, "Lease reads as in production").
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Simulation, SWARM, runSimulation } from '../../src/sim/run.ts';
import type { ReadOutcome } from '../../src/sim/sim-node.ts';

describe('sim lease reads fall back to ReadIndex', () => {
  test('a lease read at a follower is served through ReadIndex; at the leader, from its lease', () => {
    const sim = new Simulation({ seed: 7, nodes: 3, profile: 'churn', clients: { count: 1, keys: ['a'], readRatio: 0 } });
    sim.clients.issuing = false;
    assert.ok(
      sim.waitFor(() => sim.cluster.leader()?.core?.leaseValid() === true, 3000, 5),
      'precondition: a leader holding a lease',
    );
    const leader = sim.cluster.leader()!;
    const follower = sim.cluster.nodes.find((n) => n.alive && n.id !== leader.id)!;
    const before = sim.cluster.coverage.snapshot();
    const outcomes = new Map<string, ReadOutcome>();
    follower.read('lease', 'a', (o) => outcomes.set('follower', o));
    leader.read('lease', 'a', (o) => outcomes.set('leader', o));
    sim.waitFor(() => outcomes.size === 2, 500, 1);
    assert.equal(outcomes.get('follower')?.kind, 'ok', `the follower's lease read: ${JSON.stringify(outcomes.get('follower'))}`);
    assert.equal(outcomes.get('leader')?.kind, 'ok', `the leader's lease read: ${JSON.stringify(outcomes.get('leader'))}`);
    const after = sim.cluster.coverage.snapshot();
    assert.equal(after.leaseReadFellBack - before.leaseReadFellBack, 1, 'the follower fell back to ReadIndex');
    assert.equal(after.leaseReadServed - before.leaseReadServed, 1, 'the leader served from its lease');
  });

  test('seeds 635 and 3625: after healing, reads at followers that lag the leader succeed (they wait for their deadline, at least 600 ms)', () => {
    // 635: with 50 ms read attempts after healing too, its read hopped between followers
    // 100-200 ms behind the leader (one entry per message, two in flight) and timed out.
    // 3625: with the read theme's 300 ms op timeout after healing too, a follower 13 entries
    // behind served its read 304 ms after it was asked. Both: liveness failures.
    for (const seed of [635, 3625]) {
      // Recorded before the pause fault: replay the run as it was (3625 draws pauses now).
      const stats = runSimulation({
        seed,
        nodes: 5,
        profile: SWARM,
        durationMs: 3000,
        topology: seed % 4 === 3 ? 'oneVoter' : 'voters',
        pauses: false,
      });
      assert.ok(stats.coverage.leaseReadFellBack > 0, `seed ${seed}: the run has lease reads that fell back to ReadIndex`);
    }
  });
});
