import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { RaftCore } from '../../src/raft/index.ts';
import { Cluster, DEFAULT_CONFIG, seededRandom } from './harness.ts';

describe('leader election (§5.2)', () => {
  test('initial election: one leader, everyone follows it in the same term', () => {
    const c = new Cluster([1, 2, 3]);
    const leader = c.electSomeone();
    const term = c.core(leader).status().term;
    for (const id of [1, 2, 3]) {
      const st = c.core(id).status();
      assert.equal(st.leader, leader);
      assert.equal(st.term, term);
    }
  });

  test('randomized election timeout lies in [electionTicks, 2*electionTicks)', () => {
    for (const r of [0, 0.5, 0.999]) {
      const core = new RaftCore(
        { ...DEFAULT_CONFIG, preVote: false, id: 1, random: () => r },
        { hardState: { term: 0, vote: 0, commit: 0 }, snapshot: null, entries: [], initialConf: { voters: [1, 2, 3], learners: [] } },
      );
      let ticks = 0;
      while (core.status().role === 'follower') {
        core.tick();
        ticks++;
      }
      assert.equal(ticks, DEFAULT_CONFIG.electionTicks + Math.floor(r * DEFAULT_CONFIG.electionTicks));
      assert.ok(ticks >= 10 && ticks < 20);
    }
  });

  test('re-election after the leader is cut off; the old leader rejoins as follower', () => {
    const c = new Cluster([1, 2, 3]);
    c.campaign(1);
    c.propose(1, 'x');
    c.isolate(1);
    c.tick(40);
    const others = c.leaders().filter((id) => id !== 1);
    assert.equal(others.length, 1);
    // check-quorum made the cut-off leader step down
    assert.notEqual(c.core(1).status().role, 'leader');
    c.propose(others[0]!, 'y');
    c.heal();
    c.tick(5);
    assert.equal(c.leader(), others[0]);
    for (const id of [1, 2, 3]) assert.deepEqual(c.node(id).applied, ['x', 'y']);
  });

  test('no leader without a majority', () => {
    const c = new Cluster([1, 2, 3, 4, 5]);
    c.campaign(1);
    c.crash(1);
    c.crash(2);
    c.crash(3);
    c.tick(100);
    assert.deepEqual(c.leaders(), []);
    c.restart(3);
    assert.ok(c.electSomeone() >= 3);
  });

  test('without pre-vote, a candidate that cannot win keeps raising its term', () => {
    const c = new Cluster([1, 2, 3], { preVote: false, checkQuorum: false });
    c.campaign(1);
    c.isolate(3);
    c.tick(50);
    assert.ok(c.core(3).status().term > c.core(1).status().term);
  });

  test('pre-vote: a rejoining partitioned node does not raise the term or disrupt the leader', () => {
    const c = new Cluster([1, 2, 3]);
    c.campaign(1);
    const term = c.core(1).status().term;
    c.isolate(3);
    c.tick(60);
    // It kept trying, but pre-vote never changed its term or vote.
    assert.equal(c.core(3).status().term, term);
    assert.equal(c.core(3).status().role, 'pre-candidate');
    c.heal();
    c.tick(3);
    assert.equal(c.leader(), 1);
    assert.equal(c.core(1).status().term, term);
    assert.equal(c.core(3).status().leader, 1);
  });

  test('lease protection: a follower that hears from its leader ignores a higher-term vote', () => {
    const c = new Cluster([1, 2, 3], { preVote: false });
    c.campaign(1);
    const term = c.core(2).status().term;
    c.core(2).step({ type: 'RequestVote', from: 3, to: 2, term: term + 5, lastLogIndex: 100, lastLogTerm: term + 4, transfer: false });
    assert.equal(c.core(2).status().term, term);
    assert.equal(c.core(2).hasReady(), false);
    // ...unless the candidate campaigns because of a leadership transfer.
    c.core(2).step({ type: 'RequestVote', from: 3, to: 2, term: term + 5, lastLogIndex: 100, lastLogTerm: term + 4, transfer: true });
    assert.equal(c.core(2).status().term, term + 5);
    assert.equal(c.core(2).status().vote, 3);
  });

  test('pre-vote changes neither term nor vote of the voter, a real vote does', () => {
    const core = new RaftCore(
      { ...DEFAULT_CONFIG, id: 3, random: seededRandom(3) },
      { hardState: { term: 4, vote: 0, commit: 0 }, snapshot: null, entries: [], initialConf: { voters: [1, 2, 3], learners: [] } },
    );
    for (let i = 0; i < DEFAULT_CONFIG.electionTicks; i++) core.tick(); // boot lease over, not yet campaigning
    assert.equal(core.status().role, 'follower');
    core.step({ type: 'PreVote', from: 2, to: 3, term: 5, lastLogIndex: 0, lastLogTerm: 0 });
    const rd = core.ready();
    core.advance();
    assert.deepEqual(
      rd.messages.map((m) => [m.type, m.term, 'granted' in m && m.granted]),
      [['PreVoteResponse', 5, true]],
    );
    assert.equal(rd.hardState, null);
    assert.equal(core.status().term, 4);
    assert.equal(core.status().vote, 0);
    core.step({ type: 'RequestVote', from: 2, to: 3, term: 5, lastLogIndex: 0, lastLogTerm: 0, transfer: false });
    assert.deepEqual(core.ready().hardState, { term: 5, vote: 2, commit: 0 });
  });

  test('check-quorum: a leader that hears from no majority within an election timeout steps down', () => {
    const c = new Cluster([1, 2, 3]);
    c.campaign(1);
    c.partition([1], [2, 3]);
    // Keep 2 and 3 from electing anyone by not ticking them: only the leader's clock runs.
    c.tickOnly([1], 2 * DEFAULT_CONFIG.electionTicks + 1);
    assert.equal(c.core(1).status().role, 'follower');
    assert.equal(c.core(1).status().leader, 0);
  });

  test('a rejoining partitioned old leader learns the new term and steps down', () => {
    const c = new Cluster([1, 2, 3], { checkQuorum: false, preVote: false });
    c.campaign(1);
    c.partition([1], [2, 3]);
    c.campaign(2);
    assert.equal(c.core(1).status().role, 'leader'); // still believes it leads (no check-quorum)
    const stale = c.core(1).propose(new TextEncoder().encode('lost'));
    assert.notEqual(stale, null);
    c.propose(2, 'kept');
    c.heal();
    c.tick(3);
    assert.equal(c.leader(), 2);
    for (const id of [1, 2, 3]) assert.deepEqual(c.node(id).applied, ['kept']);
  });

  test('restart of all nodes: they elect a leader again after the boot lease', () => {
    const c = new Cluster([1, 2, 3]);
    c.campaign(1);
    c.propose(1, 'a');
    for (const id of [1, 2, 3]) c.crash(id);
    for (const id of [1, 2, 3]) c.restart(id);
    const leader = c.electSomeone();
    c.propose(leader, 'b');
    c.tick(2);
    for (const id of [1, 2, 3]) assert.deepEqual(c.node(id).applied, ['a', 'b']);
  });
});
