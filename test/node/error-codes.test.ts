// Each code that replaced the old TIMEOUT is raised where it says what happened: a write
// whose commit is unknown (COMMIT_UNKNOWN), a read not confirmed or not applied in time
// (READ_TIMEOUT), a node stopped by a fatal error (NODE_FAILED), and the codec that
// carries a forwarded request's failure back to the follower.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { createMemoryLog } from '../../src/log/memory-log.ts';
import { forwardingError } from '../../src/node/node-forwarding.ts';
import { ReadIndexReads } from '../../src/node/node-reads.ts';
import { AppliedWaiters } from '../../src/node/node-waiting.ts';
import { PendingProposals } from '../../src/node/pending-proposals.ts';
import { RaftNode } from '../../src/node/raft-node.ts';
import { StoreError } from '../../src/store/errors.ts';
import { TransportError } from '../../src/transport/errors.ts';

const isCode =
  (code: string, message?: RegExp) =>
  (error: unknown): boolean => {
    assert.ok(error instanceof StoreError, `not a StoreError: ${String(error)}`);
    assert.equal(error.code, code, error.message);
    if (message !== undefined) assert.match(error.message, message);
    return true;
  };

const entry = (index: number, term: number) => ({ index, term, type: 'normal' as const, data: new Uint8Array() });

describe('COMMIT_UNKNOWN: a write proposed whose outcome is not known', () => {
  test('a pending proposal past its deadline', async () => {
    const proposals = new PendingProposals(4);
    const late = proposals.track(1, 1, 1000);
    const later = proposals.track(2, 1, 5000);
    proposals.expire(2000);
    await assert.rejects(late, isCode('COMMIT_UNKNOWN', /not committed in time/));
    assert.equal(proposals.size, 1, 'the one whose deadline is later still waits');
    proposals.settle(entry(2, 1), { ok: true, value: null });
    assert.deepEqual(await later, { ok: true, value: null });
  });

  test('a proposal overwritten by another leader was never committed: NO_LEADER, safe to retry', async () => {
    const proposals = new PendingProposals(4);
    const overwritten = proposals.track(1, 1, Infinity);
    proposals.settle(entry(1, 2), { ok: true, value: null });
    await assert.rejects(overwritten, isCode('NO_LEADER'));
  });
});

describe('READ_TIMEOUT: a read not confirmed, or not applied here, in time', () => {
  test('a ReadIndex a quorum never confirms', async () => {
    const reads = new ReadIndexReads({
      electionTimeoutMs: 10,
      core: () => ({ readIndex: () => true }),
      assertUsable: () => {},
      guarded: <T>(call: () => T): T => call(),
      scheduleReady: () => {},
      waitForLeaderChange: () => Promise.reject(new Error('no leader change expected')),
    });
    await assert.rejects(reads.confirm(Date.now() + 50), isCode('READ_TIMEOUT', /confirmed by a quorum/));
  });

  test('an index this node does not apply before the deadline', async () => {
    const waiters = new AppliedWaiters(() => 3);
    await waiters.wait(3, Date.now() + 10); // applied already: at once
    await assert.rejects(waiters.wait(4, Date.now() + 10), isCode('READ_TIMEOUT'));
    assert.equal(waiters.size, 0, 'the waiter that gave up left');
  });
});

describe('NODE_FAILED: a node stopped by a fatal error', () => {
  test('a failed log write stops the node: the write in flight is COMMIT_UNKNOWN, what follows NODE_FAILED', async () => {
    const log = createMemoryLog();
    const node = RaftNode.standalone(log, { snapshotThreshold: 0, requestTimeoutMs: 10_000, logger: pino({ level: 'silent' }) });
    try {
      await node.leadingAndCaughtUp(5000);
      assert.equal((await node.execute({ type: 'insert', collection: 'c', docs: [{ _id: 'a' }] })).ok, true);
      log.append = () => Promise.reject(new Error('disk on fire'));
      await assert.rejects(
        node.execute({ type: 'insert', collection: 'c', docs: [{ _id: 'b' }] }),
        isCode('COMMIT_UNKNOWN', /outcome of this write is unknown: disk on fire/),
      );
      await assert.rejects(node.execute({ type: 'insert', collection: 'c', docs: [{ _id: 'c' }] }), isCode('NODE_FAILED', /disk on fire/));
      await assert.rejects(node.readBarrier('linearizable'), isCode('NODE_FAILED'));
      await assert.rejects(node.leadingAndCaughtUp(1000), isCode('NODE_FAILED'));
    } finally {
      await node.close(100).catch(() => {});
    }
  });
});

describe('forwarding: what a follower reports when the leader did not answer the request', () => {
  test("the leader's definite refusals keep their code", () => {
    for (const code of ['VALIDATION', 'CONFLICT', 'PRECONDITION_FAILED', 'NOT_FOUND', 'BAD_REQUEST']) {
      const error = forwardingError(new TransportError('REMOTE_ERROR', `leader says ${code}`, code), 2);
      assert.equal(error.code, code);
      assert.equal(error.message, `leader says ${code}`);
    }
  });

  test('a lost link, a timeout, a retryable or unknown code from the leader: COMMIT_UNKNOWN', () => {
    const failures = [
      new TransportError('TIMEOUT', 'no response in time'),
      new TransportError('DISCONNECTED', 'closed'),
      new TransportError('REMOTE_ERROR', 'leader says NO_LEADER', 'NO_LEADER'),
      new TransportError('REMOTE_ERROR', 'leader says COMMIT_UNKNOWN', 'COMMIT_UNKNOWN'),
      new TransportError('REMOTE_ERROR', 'leader says NODE_FAILED', 'NODE_FAILED'),
      new TransportError('REMOTE_ERROR', 'an older leader says TIMEOUT', 'TIMEOUT'),
      new Error('anything else'),
    ];
    for (const failure of failures) {
      const error = forwardingError(failure, 2);
      assert.equal(error.code, 'COMMIT_UNKNOWN', failure.message);
      assert.match(error.message, /forwarding to the leader \(node 2\) failed, the outcome is unknown/);
      assert.ok(error.message.includes(failure.message));
    }
  });
});
