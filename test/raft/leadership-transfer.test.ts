import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Cluster, DEFAULT_CONFIG, cmd } from './harness.ts';

describe('leadership transfer (thesis 3.10)', () => {
  test('to an up-to-date follower: it campaigns at once and wins the next term', () => {
    const c = new Cluster([1, 2, 3]);
    c.campaign(1);
    c.propose(1, 'a');
    const term = c.core(1).status().term;
    assert.equal(c.core(1).transferLeadership(3), true);
    c.stabilize();
    assert.equal(c.leader(), 3);
    assert.equal(c.core(3).status().term, term + 1);
    const votes = c.delivered.filter((m) => m.type === 'RequestVote' && m.from === 3);
    assert.ok(votes.every((m) => m.type === 'RequestVote' && m.transfer));
    c.propose(3, 'b');
    c.tick(1);
    assert.deepEqual(c.node(1).applied, ['a', 'b']);
  });

  test('to a lagging follower: the leader catches it up first; proposals are refused meanwhile', () => {
    const c = new Cluster([1, 2, 3]);
    c.campaign(1);
    c.cutLink(1, 3);
    for (let i = 0; i < 10; i++) c.propose(1, `e${i}`);
    assert.equal(c.core(1).transferLeadership(3), true);
    assert.equal(c.core(1).propose(cmd('refused')), null);
    c.stabilize();
    assert.equal(c.core(1).status().role, 'leader', 'no TimeoutNow until 3 has the log');
    c.heal();
    c.tick(2);
    assert.equal(c.leader(), 3);
    assert.equal(c.node(3).applied.length, 10);
  });

  test('aborted after an election timeout when the target does not catch up', () => {
    const c = new Cluster([1, 2, 3]);
    c.campaign(1);
    c.cutLink(1, 3);
    c.propose(1, 'x');
    c.core(1).transferLeadership(3);
    assert.equal(c.core(1).propose(cmd('no')), null);
    c.tickOnly([1, 2], DEFAULT_CONFIG.electionTicks);
    assert.equal(c.core(1).status().role, 'leader');
    assert.notEqual(c.core(1).propose(cmd('yes')), null);
  });

  test('refused for non-voters, self, and on followers', () => {
    const c = new Cluster([1, 2, 3]);
    c.campaign(1);
    assert.equal(c.core(1).transferLeadership(1), false);
    assert.equal(c.core(1).transferLeadership(9), false);
    assert.equal(c.core(2).transferLeadership(3), false);
  });
});
