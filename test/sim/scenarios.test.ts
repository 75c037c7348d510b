import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Simulation, runSimulation, type SimOptions } from '../../src/sim/run.ts';
import { figure8Scenario } from '../../src/sim/scenarios.ts';

/** Runs a scripted scenario, then heals, checks liveness and linearizability. */
function scripted(options: SimOptions, script: (sim: Simulation) => void): ReturnType<Simulation['finish']> {
  const sim = new Simulation(options);
  try {
    script(sim);
    sim.healAll();
    sim.awaitLiveness(3000);
    return sim.finish();
  } catch (e) {
    throw sim.wrap(e);
  }
}

function waitLeader(sim: Simulation): number {
  assert.ok(
    sim.waitFor(() => sim.cluster.leader() !== null, 2000, 5),
    'no leader',
  );
  return sim.cluster.leader()!.id;
}

describe('simulation scenarios', () => {
  test('Figure 8 under an unreliable network: nothing committed is lost', () => {
    for (let seed = 100; seed < 110; seed++) {
      const stats = figure8Scenario({ seed });
      assert.ok(stats.leaderTerms >= 3, `seed ${seed}: only ${stats.leaderTerms} terms had a leader`);
    }
  });

  test('5 nodes split 2/3: the minority cannot commit, the majority keeps serving', () => {
    for (const seed of [1, 2, 3]) {
      let minorityCommit = -1;
      let majorityCommitBefore = 0;
      let majorityCommitAfter = 0;
      let writesBefore = 0;
      let writesAfter = 0;
      const stats = scripted({ seed, nodes: 5, profile: 'partitions' }, (sim) => {
        const { cluster } = sim;
        const old = waitLeader(sim);
        sim.runFor(300);
        const others = [1, 2, 3, 4, 5].filter((id) => id !== old);
        const minority = [old, others[seed % others.length]!];
        const majority = [1, 2, 3, 4, 5].filter((id) => !minority.includes(id));
        cluster.network.partition([minority, majority]);
        sim.runFor(20); // messages already in flight across the cut are lost on arrival
        minorityCommit = Math.max(...minority.map((id) => cluster.node(id).core!.status().commitIndex));
        majorityCommitBefore = Math.max(...majority.map((id) => cluster.node(id).core!.status().commitIndex));
        writesBefore = sim.clients.stats.writesOk;
        // Writes proposed at the old leader while it still believes it leads must not succeed.
        sim.submitWrite(old, 'minority');
        sim.runFor(1500);
        for (const id of minority) {
          assert.equal(cluster.node(id).core!.status().commitIndex, minorityCommit, `minority node ${id} advanced its commit index`);
        }
        const leader = cluster.leader();
        assert.ok(leader !== null && majority.includes(leader.id), 'the majority elected a leader');
        majorityCommitAfter = leader.core!.status().commitIndex;
        writesAfter = sim.clients.stats.writesOk;
        const minorityWrite = sim.clients.history.ops().find((op) => op.key === 'minority')!;
        assert.notEqual(minorityWrite.status, 'ok', 'a write at the minority leader was acknowledged');
      });
      assert.ok(majorityCommitAfter >= majorityCommitBefore + 10, `majority committed ${majorityCommitAfter - majorityCommitBefore} entries`);
      assert.ok(writesAfter > writesBefore + 5, 'clients kept writing through the majority');
      assert.ok(stats.committed > majorityCommitAfter);
    }
  });

  for (const how of ['down', 'partitioned', 'crashing'] as const) {
    test(`snapshot install to a follower that was ${how}`, () => {
      for (const seed of [11, 12]) {
        let installed = 0;
        let victim = 0;
        // No entries kept below snapshots: the victim can only catch up by a snapshot.
        scripted(
          { seed, nodes: 3, profile: 'partitions', snapshotEvery: 15, timing: { snapshotChunkBytes: 64, snapshotCatchUpEntries: 0 } },
          (sim) => {
            const { cluster } = sim;
            const leader = waitLeader(sim);
            victim = [1, 2, 3].find((id) => id !== leader)!;
            const before = cluster.node(victim).stats.snapshotsReceived;
            if (how === 'partitioned') cluster.network.isolate(victim, [1, 2, 3]);
            else cluster.crash(victim, 'now');
            sim.runFor(1500); // the others write and compact far beyond the victim's log
            const l = cluster.leader();
            assert.ok(l !== null, 'a leader with the remaining majority');
            assert.ok(l.disk.snapshotIndex > cluster.node(victim).disk.lastIndex, 'the leader compacted past the victim');
            if (how === 'partitioned') cluster.network.heal();
            else cluster.restart(victim);
            if (how === 'crashing') {
              // Crash it again, at different points of its ready cycle, while the snapshot streams.
              for (const point of ['afterPersist', 'midSend', 'beforePersist'] as const) {
                sim.runFor(15);
                cluster.crash(victim, point);
                sim.runFor(40);
                cluster.restart(victim);
              }
            }
            sim.waitFor(() => cluster.node(victim).alive && cluster.node(victim).kv.applied >= l.disk.snapshotIndex, 3000, 5);
            installed = cluster.node(victim).stats.snapshotsReceived - before;
          },
        );
        assert.ok(installed >= 1, `seed ${seed}: node ${victim} received no snapshot`);
      }
    });
  }

  test('churn: continuous crashes and restarts of any node', () => {
    let crashes = 0;
    for (let seed = 21; seed < 31; seed++) {
      const stats = runSimulation({ seed, nodes: 5, profile: 'churn', durationMs: 2500 });
      crashes += stats.crashes;
      assert.ok(stats.committed > 0);
    }
    assert.ok(crashes >= 100, `only ${crashes} crashes`);
  });

  test('adding and removing nodes under load', () => {
    const stats = scripted({ seed: 5, nodes: 3, profile: 'mixed' }, (sim) => {
      const { cluster } = sim;
      const propose = (change: Parameters<typeof cluster.proposeConfChange>[0]): void => {
        const ok = sim.waitFor(() => cluster.leader() !== null && cluster.proposeConfChange(change) !== null, 2000, 10);
        assert.ok(ok, `could not propose ${change.type} ${change.node}`);
        sim.runFor(200);
      };
      waitLeader(sim);
      sim.runFor(200);
      cluster.addServer(4);
      propose({ type: 'addLearner', node: 4 });
      propose({ type: 'addVoter', node: 4 });
      cluster.addServer(5);
      propose({ type: 'addLearner', node: 5 });
      propose({ type: 'addVoter', node: 5 });
      const leaderNow = cluster.leader()!.id;
      propose({ type: 'remove', node: leaderNow }); // the leader removes itself
      const second = [1, 2, 3].find((id) => id !== leaderNow)!;
      propose({ type: 'remove', node: second });
      sim.runFor(500);
      const conf = cluster.leaderConf();
      assert.ok(conf !== null);
      assert.equal(conf.voters.length, 3);
      assert.ok(!conf.voters.includes(leaderNow) && !conf.voters.includes(second));
      assert.ok(conf.voters.includes(4) && conf.voters.includes(5));
      assert.ok(cluster.node(leaderNow).stopped, 'the removed leader shut down');
      assert.ok(cluster.node(4).kv.applied > 0 && cluster.node(5).kv.applied > 0);
    });
    assert.ok(stats.clients.writesOk > 50);
  });

  test('random membership changes under load and faults', () => {
    let changes = 0;
    for (let seed = 41; seed < 49; seed++) {
      const stats = runSimulation({ seed, nodes: 3 + (seed % 2) * 2, profile: 'membership', durationMs: 3000 });
      changes += stats.confChanges;
    }
    assert.ok(changes >= 20, `only ${changes} membership changes`);
  });
});
