// Promoting a learner waits for it to catch up, which only a leader can see: when this
// node loses leadership meanwhile, the error must say so, not blame the learner.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { ClusterMembership, type MembershipHost } from '../../src/node/node-membership.ts';
import type { RaftStatus, Role } from '../../src/raft/types.ts';
import { StoreError } from '../../src/store/errors.ts';

/** A host whose core leads until `leadsFor` status reads, with a learner that never catches up. */
function hostLosingLeadership(leadsFor: number, requestTimeoutMs = 2_000): MembershipHost {
  let reads = 0;
  const status = (): RaftStatus => {
    reads++;
    const role: Role = reads <= leadsFor ? 'leader' : 'follower';
    return {
      id: 1,
      role,
      term: 3,
      vote: 1,
      leader: role === 'leader' ? 1 : 0,
      commitIndex: 100,
      appliedIndex: 100,
      firstIndex: 1,
      lastIndex: 100,
      // Node 4's address is already recorded: addMember only waits for it to catch up.
      conf: { voters: [1, 2, 3], learners: [4], addresses: [{ id: 4, address: '127.0.0.1:8084' }] },
      progress: role === 'leader' ? [{ id: 4, matchIndex: 10, nextIndex: 11, learner: true, state: 'replicate', recentActive: true }] : [],
    };
  };
  return {
    nodeId: 1,
    url: 'http://127.0.0.1:1',
    peers: [],
    requestTimeoutMs,
    electionTimeoutMs: 300,
    transport: { addPeer: () => {}, removePeer: () => {}, peerIds: () => [2, 3], addressOf: () => undefined, stats: () => [] },
    incarnations: { check: () => true, forget: () => {} },
    proposals: { track: () => Promise.reject(new Error('no proposal expected')) },
    logger: pino({ level: 'silent' }),
    core: () => ({ status, proposeConfChange: () => null, transferLeadership: () => false }),
    coreStatus: status,
    isClosed: () => false,
    assertUsable: () => {},
    scheduleReady: () => {},
    forward: () => Promise.reject(new Error('no forward expected')),
    waitForLeaderChange: () => Promise.reject(new Error('no wait expected')),
  };
}

test('losing leadership while a learner catches up is reported as such', async () => {
  // Leads for the onLeader check, the conf read and a few catch-up polls, then not.
  const membership = new ClusterMembership(hostLosingLeadership(4));
  await assert.rejects(membership.addMember(4, 'http://127.0.0.1:8084', false), (error: unknown) => {
    assert.ok(error instanceof StoreError);
    assert.equal(error.code, 'NO_LEADER');
    assert.match(error.message, /lost leadership while node 4 was catching up/);
    return true;
  });
});

test('a learner that does not catch up in time stays a learner: NOT_CAUGHT_UP (503), nothing done', async () => {
  const membership = new ClusterMembership(hostLosingLeadership(Infinity, 200));
  await assert.rejects(membership.addMember(4, 'http://127.0.0.1:8084', false), (error: unknown) => {
    assert.ok(error instanceof StoreError);
    assert.equal(error.code, 'NOT_CAUGHT_UP');
    assert.match(error.message, /node 4 did not catch up in time; it stays a learner/);
    return true;
  });
});
