import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Cluster } from './harness.ts';

describe('membership changes (thesis ch. 4)', () => {
  test('a learner receives the log but does not count for commit or elections', () => {
    const c = new Cluster([1, 2, 3]);
    c.campaign(1);
    c.propose(1, 'a');
    c.addNode(4);
    assert.notEqual(c.core(1).proposeConfChange({ type: 'addLearner', node: 4 }), null);
    c.tick(3);
    assert.deepEqual(c.core(1).status().conf, { voters: [1, 2, 3], learners: [4] });
    assert.deepEqual(c.node(4).applied, ['a']);
    assert.ok(
      c
        .core(1)
        .status()
        .progress.find((p) => p.id === 4)!.learner,
    );
    // With 2 and 3 down, the leader and the learner are not a majority of voters.
    c.crash(2);
    c.crash(3);
    const before = c.core(1).status().commitIndex;
    c.propose(1, 'b');
    c.tickOnly([1, 4], 3);
    assert.equal(c.core(1).status().commitIndex, before);
    assert.equal(c.core(4).status().lastIndex, c.core(1).status().lastIndex);
    // A learner never campaigns.
    c.isolate(4);
    c.tickOnly([4], 50);
    assert.equal(c.core(4).status().role, 'follower');
  });

  test('addVoter promotes a learner; the new voter then counts', () => {
    const c = new Cluster([1, 2, 3]);
    c.campaign(1);
    c.addNode(4);
    c.core(1).proposeConfChange({ type: 'addLearner', node: 4 });
    c.tick(2);
    assert.notEqual(c.core(1).proposeConfChange({ type: 'addVoter', node: 4 }), null);
    c.tick(2);
    assert.deepEqual(c.core(1).status().conf, { voters: [1, 2, 3, 4], learners: [] });
    // 4 voters: a majority is 3, so with 2 and 3 down nothing commits; with only 3 down it does.
    c.crash(3);
    c.propose(1, 'x');
    c.tick(2);
    assert.deepEqual(c.node(4).applied, ['x']);
    c.crash(2);
    c.propose(1, 'y');
    c.tickOnly([1, 4], 2);
    assert.deepEqual(c.node(4).applied, ['x']);
  });

  test('one change at a time; a configuration takes effect when appended, before it commits', () => {
    const c = new Cluster([1, 2, 3]);
    c.campaign(1);
    c.addNode(4);
    c.dropIf = (m) => m.type === 'AppendEntriesResponse';
    assert.notEqual(c.core(1).proposeConfChange({ type: 'addVoter', node: 4 }), null);
    c.stabilize();
    assert.equal(c.core(1).proposeConfChange({ type: 'addVoter', node: 5 }), null, 'a change is pending');
    assert.deepEqual(c.core(2).status().conf.voters, [1, 2, 3, 4], 'follower uses it once appended');
    c.heal();
    c.tick(2);
    c.addNode(5);
    assert.notEqual(c.core(1).proposeConfChange({ type: 'addVoter', node: 5 }), null);
    c.tick(3);
    for (const id of [1, 2, 3, 4, 5]) assert.deepEqual(c.core(id).status().conf.voters, [1, 2, 3, 4, 5]);
  });

  test('refuses changes that make no sense', () => {
    const c = new Cluster([1, 2, 3]);
    c.campaign(1);
    assert.equal(c.core(1).proposeConfChange({ type: 'addVoter', node: 2 }), null);
    assert.equal(c.core(1).proposeConfChange({ type: 'remove', node: 9 }), null);
    assert.equal(c.core(2).proposeConfChange({ type: 'addLearner', node: 9 }), null, 'not leader');
  });

  test('removing a voter: the rest carry on without it', () => {
    const c = new Cluster([1, 2, 3]);
    c.campaign(1);
    c.core(1).proposeConfChange({ type: 'remove', node: 3 });
    c.tick(2);
    assert.deepEqual(c.core(1).status().conf.voters, [1, 2]);
    c.crash(3);
    c.propose(1, 'two-of-two');
    c.tick(2);
    assert.deepEqual(c.node(2).applied, ['two-of-two']);
  });

  test('a leader that removes itself steps down once the change commits; the others elect a leader', () => {
    const c = new Cluster([1, 2, 3]);
    c.campaign(1);
    c.dropIf = (m) => m.type === 'AppendEntriesResponse';
    c.core(1).proposeConfChange({ type: 'remove', node: 1 });
    c.stabilize();
    assert.equal(c.core(1).status().role, 'leader', 'still leads while the change is uncommitted');
    c.heal();
    c.tick(1);
    assert.notEqual(c.core(1).status().role, 'leader');
    const leader = c.electSomeone();
    assert.ok(leader === 2 || leader === 3);
    c.propose(leader, 'without-1');
    c.tick(2);
    assert.deepEqual(c.node(2).applied, ['without-1']);
    assert.deepEqual(c.node(3).applied, ['without-1']);
    // The removed server never campaigns again.
    c.tick(40);
    assert.equal(c.core(1).status().role, 'follower');
  });

  test('the configuration survives restart (from log entries and from a snapshot)', () => {
    const c = new Cluster([1, 2, 3]);
    c.campaign(1);
    c.addNode(4);
    c.core(1).proposeConfChange({ type: 'addLearner', node: 4 });
    c.tick(2);
    c.crash(2);
    c.restart(2);
    assert.deepEqual(c.core(2).status().conf, { voters: [1, 2, 3], learners: [4] });
    c.takeSnapshot(3);
    c.crash(3);
    c.restart(3);
    assert.deepEqual(c.core(3).status().conf, { voters: [1, 2, 3], learners: [4] });
  });

  test('two voters: a leader that removes itself and steps down before the removal commits is elected again', () => {
    // Voters {1, 2}. Leader 1 appends "remove 1" (its configuration is now {2}), but 2 never
    // gets that entry and 1 steps down (check-quorum). 2 needs 1's vote and 1 refuses it (2's
    // log is behind), so only 1 can end the deadlock: it must still be able to campaign.
    const c = new Cluster([1, 2]);
    c.campaign(1);
    c.propose(1, 'a');
    c.dropIf = (m) => m.to === 2 && (m.type === 'AppendEntries' || m.type === 'Heartbeat');
    assert.notEqual(c.core(1).proposeConfChange({ type: 'remove', node: 1 }), null);
    c.tick(25);
    assert.deepEqual(c.core(1).status().conf.voters, [2]);
    assert.notEqual(c.core(1).status().role, 'leader');
    assert.deepEqual(c.core(2).status().conf.voters, [1, 2]);
    c.heal();
    c.tick(80);
    assert.deepEqual(c.leaders(), [2]);
    assert.deepEqual(c.core(2).status().conf, { voters: [2], learners: [] });
    c.propose(2, 'b');
    c.tick(2);
    assert.deepEqual(c.node(2).applied, ['a', 'b']);
  });
});
