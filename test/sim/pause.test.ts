// The pause fault (an event-loop stall, as node/raft-node.ts can have): while paused a node
// takes no tick and steps no message or request; on resume it handles what arrived, in order,
// with the ticks still owed (no lease read then: readBarrier's rule), then catches them up.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_TIMING } from '../../src/sim/cluster.ts';
import { Simulation } from '../../src/sim/run.ts';
import type { ReadOutcome } from '../../src/sim/sim-node.ts';

function leaderWithLease(): Simulation {
  const sim = new Simulation({ seed: 7, nodes: 3, profile: 'churn', clients: { count: 1, keys: ['a'], readRatio: 0 } });
  sim.clients.issuing = false;
  assert.ok(
    sim.waitFor(() => sim.cluster.leader()?.core?.leaseValid() === true, 3000, 5),
    'precondition: a leader holding a lease',
  );
  return sim;
}

describe('sim pause fault', () => {
  test('a paused node holds messages and requests, then handles them in order and catches up its ticks', () => {
    const sim = leaderWithLease();
    const follower = sim.cluster.nodes.find((n) => n.alive && n.role === 'follower')!;
    const ticksBefore = follower.nextTickAt;
    const stepped: string[] = [];
    const step = follower.step.bind(follower);
    follower.step = (m) => {
      stepped.push(`${m.from}:${m.type}`);
      step(m);
    };
    sim.cluster.pause(follower.id, 50);
    assert.ok(follower.paused);
    sim.runFor(40);
    assert.deepEqual(stepped, [], 'nothing stepped while paused');
    assert.equal(follower.nextTickAt, ticksBefore, 'no tick while paused');
    const trace = sim.cluster.trace.tail(400).join('\n');
    const held = [...trace.matchAll(new RegExp(`held (\\d+)->${follower.id} (\\w+)`, 'g'))].map((x) => `${x[1]}:${x[2]}`);
    assert.ok(held.length > 0, 'heartbeats were held');
    sim.runFor(20);
    assert.ok(!follower.paused);
    assert.deepEqual(stepped.slice(0, held.length), held, 'held messages stepped in arrival order first');
    assert.ok(follower.nextTickAt > sim.cluster.now, 'owed ticks caught up');
    assert.equal(follower.ticksOwed, 0);
  });

  test('a follower that resumes ticks the stall before stepping the held heartbeats (production ticksFirst): it stays its leader’s follower', () => {
    const sim = leaderWithLease();
    const leader = sim.cluster.leader()!;
    const follower = sim.cluster.nodes.find((n) => n.alive && n.role === 'follower')!;
    const term = leader.core!.currentTerm();
    let afterResume: { role: string; leader: number; term: number } | null = null;
    const resume = follower.resume.bind(follower);
    follower.resume = (max, onStepped) => {
      resume(max, onStepped);
      const status = follower.core!.status();
      afterResume = { role: status.role, leader: status.leader, term: status.term };
    };
    // 1.5 election timeouts: ticked after the heartbeats, the stall would count as silence
    // since them and the follower would campaign (pre-candidate, no leader) at once, as
    // production did before found-bugs 6.
    // (The simulation's default timing: ticks of 10 ms, DEFAULT_TIMING.electionTicks of them.)
    sim.cluster.pause(follower.id, 1.5 * DEFAULT_TIMING.electionTicks * 10);
    sim.runFor(200);
    assert.deepEqual(afterResume, { role: 'follower', leader: leader.id, term });
  });

  test('a lease read at a leader that resumes with ticks owed goes through ReadIndex', () => {
    const sim = leaderWithLease();
    const leader = sim.cluster.leader()!;
    const before = sim.cluster.coverage.snapshot();
    let outcome: ReadOutcome | null = null;
    // Short enough that the lease, counted in ticks, still looks valid on resume.
    sim.cluster.pause(leader.id, 30);
    leader.read('lease', 'a', (o) => (outcome = o));
    assert.equal(outcome, null, 'a request to a paused node waits');
    sim.waitFor(() => outcome !== null, 500, 1);
    assert.equal((outcome as ReadOutcome | null)?.kind, 'ok', JSON.stringify(outcome));
    const after = sim.cluster.coverage.snapshot();
    assert.equal(after.pausedNode - before.pausedNode, 1);
    assert.equal(after.leaseReadRefusedAfterPause - before.leaseReadRefusedAfterPause, 1, 'refused the lease while ticks were owed');
    assert.equal(after.leaseReadServed - before.leaseReadServed, 0, 'not served from the lease');
  });

  test('a crash while paused fails the held requests and clears the pause', () => {
    const sim = leaderWithLease();
    const leader = sim.cluster.leader()!;
    let outcome: ReadOutcome | null = null;
    sim.cluster.pause(leader.id, 100);
    leader.read('readIndex', 'a', (o) => (outcome = o));
    sim.cluster.crash(leader.id, 'now');
    assert.equal((outcome as ReadOutcome | null)?.kind, 'unknown');
    assert.equal(leader.pausedUntil, -Infinity);
  });
});
