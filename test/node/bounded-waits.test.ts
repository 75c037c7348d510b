// Every queue and wait of the node is bounded: a write waiting for room under the
// proposals in flight, callers waiting for an entry to be applied, and close() waiting
// for a log write that never finishes (a stalled disk).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { createMemoryLog } from '../../src/log/memory-log.ts';
import type { LogStorage } from '../../src/log/types.ts';
import { AppliedWaiters } from '../../src/node/node-waiting.ts';
import { PendingProposals } from '../../src/node/pending-proposals.ts';
import { RaftNode } from '../../src/node/raft-node.ts';
import { StoreError } from '../../src/store/errors.ts';

const isCode = (code: string) => (error: unknown) => error instanceof StoreError && error.code === code;

describe('PendingProposals: what a caller is told when its entry is not the one applied', () => {
  test("another term's entry applied at its index: NO_LEADER (it was never committed: nothing was done)", async () => {
    const proposals = new PendingProposals(4, 4);
    const ours = proposals.track(5, 2, Infinity);
    proposals.settle({ index: 5, term: 3, type: 'normal', data: new Uint8Array() }, { ok: true, value: null });
    await assert.rejects(ours, isCode('NO_LEADER'));
  });

  test('this node proposes again at the same index in a later term: COMMIT_UNKNOWN (the old entry may still commit elsewhere)', async () => {
    const proposals = new PendingProposals(4, 4);
    const old = proposals.track(5, 2, Infinity);
    const replacement = proposals.track(5, 4, Infinity);
    await assert.rejects(old, isCode('COMMIT_UNKNOWN'));
    proposals.settle({ index: 5, term: 4, type: 'normal', data: new Uint8Array() }, { ok: true, value: null });
    assert.deepEqual(await replacement, { ok: true, value: null });
  });
});

describe('PendingProposals: waiting for room is bounded', () => {
  test('past roomWaitersMax waiting writes, one more is refused at once with NO_LEADER', async () => {
    const proposals = new PendingProposals(2, 1);
    void proposals.track(1, 1, Infinity).catch(() => {});
    void proposals.track(2, 1, Infinity).catch(() => {});
    assert.equal(proposals.hasRoom(), false);
    const waiting = proposals.room(Infinity);
    assert.equal(proposals.waiting, 1);
    await assert.rejects(proposals.room(Infinity), isCode('NO_LEADER'));
    // An applied entry makes room: the waiter goes on.
    proposals.settle({ index: 1, term: 1, type: 'normal', data: new Uint8Array() }, { ok: true, value: null });
    await waiting;
    assert.equal(proposals.waiting, 0);
  });

  test('a write waiting for room gives up at its deadline with NO_LEADER (it was not made)', async () => {
    const proposals = new PendingProposals(1, 10);
    void proposals.track(1, 1, Infinity).catch(() => {});
    const waiting = proposals.room(1000);
    const later = proposals.room(5000);
    proposals.expire(2000);
    await assert.rejects(waiting, isCode('NO_LEADER'));
    assert.equal(proposals.waiting, 1, 'the one whose deadline is later still waits');
    proposals.expire(6000);
    await assert.rejects(later, isCode('NO_LEADER'));
    assert.equal(proposals.waiting, 0);
  });
});

describe('AppliedWaiters: bounded in number', () => {
  test('past appliedWaitersMax callers, one more is refused at once with NO_LEADER', async () => {
    const waiters = new AppliedWaiters(() => 0, 2);
    const first = waiters.wait(5, Date.now() + 10_000);
    const second = waiters.wait(6, Date.now() + 10_000);
    await assert.rejects(waiters.wait(7, Date.now() + 10_000), isCode('NO_LEADER'));
    waiters.rejectAll(new Error('stopped'));
    await assert.rejects(first, /stopped/);
    await assert.rejects(second, /stopped/);
  });
});

/** A memory log whose appends never finish once `stall()` is called: a disk that hangs. */
function stallableLog(): { log: LogStorage; stall(): void } {
  const log = createMemoryLog();
  let stalled = false;
  const append = log.append.bind(log);
  log.append = (entries) => (stalled ? new Promise<void>(() => {}) : append(entries));
  return { log, stall: () => (stalled = true) };
}

describe('RaftNode.close(): bounded wait for the log write under way', () => {
  test('a log write that never finishes: close() rejects with NODE_FAILED after closeWaitMsMax', async () => {
    const { log, stall } = stallableLog();
    const node = RaftNode.standalone(log, { snapshotThreshold: 0, requestTimeoutMs: 10_000, logger: pino({ level: 'silent' }) });
    await node.leadingAndCaughtUp(5000);
    assert.equal((await node.execute({ type: 'insert', collection: 'c', docs: [{ _id: 'a' }] })).ok, true);
    stall();
    const write = node.execute({ type: 'insert', collection: 'c', docs: [{ _id: 'b' }] });
    write.catch(() => {});
    await new Promise((resolve) => setTimeout(resolve, 50)); // the Ready cycle is stuck in append
    const started = Date.now();
    await assert.rejects(node.close(100), isCode('NODE_FAILED'));
    assert.ok(Date.now() - started < 2000, 'close() gave up at its bound');
    await assert.rejects(write, isCode('COMMIT_UNKNOWN'), 'the write caught in the stalled cycle: outcome unknown');
  });
});
