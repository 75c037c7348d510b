import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Message } from '../../src/raft/types.ts';
import { Cluster, cmd, DEFAULT_CONFIG } from './harness.ts';

describe('ReadIndex (thesis 6.4)', () => {
  test('on the leader: a ReadState at the commit index appears after a heartbeat round', () => {
    const c = new Cluster([1, 2, 3]);
    c.campaign(1);
    c.propose(1, 'x');
    assert.equal(c.core(1).readIndex(7), true);
    c.processAll();
    assert.deepEqual(c.node(1).readStates, []); // not before a quorum confirmed leadership
    c.stabilize();
    assert.deepEqual(c.node(1).readStates, [{ index: c.core(1).status().commitIndex, context: 7 }]);
  });

  test('reads issued together share one heartbeat round', () => {
    const c = new Cluster([1, 2, 3]);
    c.campaign(1);
    c.delivered = [];
    for (let ctx = 1; ctx <= 5; ctx++) c.core(1).readIndex(ctx);
    c.stabilize();
    assert.equal(c.node(1).readStates.length, 5);
    assert.equal(c.delivered.filter((m) => m.type === 'Heartbeat').length, 2);
  });

  test('a leader cut off from the majority never answers', () => {
    const c = new Cluster([1, 2, 3]);
    c.campaign(1);
    c.isolate(1);
    c.core(1).readIndex(3);
    c.tickOnly([1], 3);
    assert.deepEqual(c.node(1).readStates, []);
  });

  test('with bugs.readWithoutQuorumCheck the cut-off leader answers at once', () => {
    const c = new Cluster([1, 2, 3], { bugs: { readWithoutQuorumCheck: true } });
    c.campaign(1);
    c.isolate(1);
    c.core(1).readIndex(3);
    c.processAll();
    assert.equal(c.node(1).readStates.length, 1);
  });

  test('a new leader waits until an entry of its term commits', () => {
    const c = new Cluster([1, 2, 3]);
    c.dropIf = (m) => m.type === 'AppendEntriesResponse';
    c.campaign(1);
    assert.equal(c.core(1).status().role, 'leader');
    c.core(1).readIndex(11);
    c.stabilize();
    assert.deepEqual(c.node(1).readStates, []);
    c.heal();
    c.tick(2);
    assert.equal(c.node(1).readStates.length, 1);
    assert.equal(c.node(1).readStates[0]!.index, 1); // the no-op of term 1
  });

  test('via a follower: forwarded to the leader, the ReadState comes back to the follower', () => {
    const c = new Cluster([1, 2, 3]);
    c.campaign(1);
    c.propose(1, 'a');
    c.propose(1, 'b');
    assert.equal(c.core(3).readIndex(42), true);
    c.stabilize();
    assert.deepEqual(c.node(3).readStates, [{ index: c.core(1).status().commitIndex, context: 42 }]);
    assert.deepEqual(c.node(1).readStates, []);
  });

  test('a follower that knows no leader refuses', () => {
    const c = new Cluster([1, 2, 3]);
    assert.equal(c.core(2).readIndex(1), false);
  });
});

describe('leader leases (thesis 6.4.1)', () => {
  test('valid after a heartbeat round; expires before any other leader can be elected', () => {
    const c = new Cluster([1, 2, 3]);
    c.campaign(1);
    c.tick();
    assert.equal(c.core(1).leaseValid(), true);
    assert.equal(c.core(2).leaseValid(), false);
    c.isolate(1);
    let expiredAfter = -1;
    for (let t = 1; t <= 60; t++) {
      c.tick();
      const leaders = c.leaders();
      if (leaders.length > 1 || (leaders.length === 1 && leaders[0] !== 1)) {
        assert.equal(c.core(1).leaseValid(), false, 'lease still valid while another leader exists');
      }
      if (expiredAfter < 0 && !c.core(1).leaseValid()) expiredAfter = t;
    }
    assert.ok(expiredAfter > 0 && expiredAfter < DEFAULT_CONFIG.electionTicks, `expired after ${expiredAfter}`);
    assert.ok(
      c.leaders().some((id) => id !== 1),
      'the majority elected a new leader',
    );
  });

  test('never valid without check-quorum', () => {
    const c = new Cluster([1, 2, 3], { checkQuorum: false });
    c.campaign(1);
    c.tick(2);
    assert.equal(c.core(1).leaseValid(), false);
  });

  test('not valid before the leader commits an entry of its term', () => {
    const c = new Cluster([1, 2, 3]);
    c.dropIf = (m) => m.type === 'AppendEntriesResponse';
    c.campaign(1);
    c.tick(2);
    assert.equal(c.core(1).status().role, 'leader');
    assert.equal(c.core(1).leaseValid(), false);
  });

  test('given up once a leadership transfer sent TimeoutNow', () => {
    const c = new Cluster([1, 2, 3]);
    c.campaign(1);
    c.tick();
    assert.equal(c.core(1).leaseValid(), true);
    c.dropIf = (m) => m.type === 'TimeoutNow';
    c.core(1).transferLeadership(2);
    c.stabilize();
    assert.equal(c.core(1).status().role, 'leader');
    assert.equal(c.core(1).leaseValid(), false);
  });
});

describe('read bounds: no read is silently lost', () => {
  test('every ReadState is delivered, however many reads one ready() answers', () => {
    const c = new Cluster([1]);
    c.campaign(1);
    const n = 5000;
    for (let ctx = 1; ctx <= n; ctx++) assert.equal(c.core(1).readIndex(ctx), true);
    c.stabilize();
    assert.equal(c.node(1).readStates.length, n);
    assert.deepEqual(new Set(c.node(1).readStates.map((r) => r.context)).size, n);
  });

  test('a read outlives the heartbeat rounds the leader forgets while acks are lost', () => {
    const c = new Cluster([1, 2, 3], { checkQuorum: false });
    c.campaign(1);
    c.dropIf = (m) => m.type === 'HeartbeatResponse';
    assert.equal(c.core(1).readIndex(99), true);
    c.tickOnly([1], 300); // 300 heartbeat rounds, more than the leader remembers
    assert.deepEqual(c.node(1).readStates, []);
    c.dropIf = null;
    c.tickOnly([1], 1);
    assert.deepEqual(
      c.node(1).readStates.map((r) => r.context),
      [99],
    );
  });

  test('a leader refuses reads beyond its bound instead of dropping them', () => {
    const c = new Cluster([1, 2, 3]);
    c.campaign(1);
    c.isolate(1);
    let accepted = 0;
    for (let ctx = 1; ctx <= 9000; ctx++) if (c.core(1).readIndex(ctx)) accepted++;
    assert.ok(accepted >= 4096 && accepted < 9000, `accepted ${accepted}`);
    assert.equal(c.core(1).readIndex(9001), false);
    c.heal();
    c.tickOnly([1], 1);
    assert.equal(c.node(1).readStates.length, accepted, 'every accepted read is answered');
  });
});

describe('heartbeats taken while a Ready is being written (takeHeartbeats)', () => {
  test('they leave at once, and a read that comes after them starts a new round', () => {
    const c = new Cluster([1, 2, 3]);
    c.campaign(1);
    c.stabilize();
    const core = c.core(1);
    assert.notEqual(core.propose(cmd('x')), null);
    const rd = core.ready(); // the driver is writing it: not advanced yet
    assert.equal(rd.entries.length, 1);
    assert.equal(core.readIndex(1), true);
    const first = core.takeHeartbeats();
    assert.deepEqual(first.map((m) => [m.type, m.to]).sort(), [
      ['Heartbeat', 2],
      ['Heartbeat', 3],
    ]);
    assert.deepEqual(core.takeHeartbeats(), [], 'taken once');
    // Read 2 arrives after the heartbeats left: the round they carry cannot confirm it.
    assert.equal(core.readIndex(2), true);
    const second = core.takeHeartbeats();
    assert.equal(second.length, 2, 'a new round for the later read');
    const context = (m: Message): unknown => (m as Message & { context: unknown }).context;
    assert.notEqual(context(second[0]!), context(first[0]!));
    core.advance();
  });

  test('none on a follower, nor while the Ready being written changes the term', () => {
    const c = new Cluster([1, 2, 3]);
    c.campaign(1);
    c.stabilize();
    assert.deepEqual(c.core(2).takeHeartbeats(), []);
    // Node 2 campaigns: the Ready that raises its term is being written; even once it leads
    // (its term's vote not yet durable), it takes nothing.
    const core = c.core(2);
    core.campaign();
    core.ready();
    assert.deepEqual(core.takeHeartbeats(), []);
    core.advance();
  });
});
