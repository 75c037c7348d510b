// Progress (etcd's tracker/progress.go): its invariants hold after every change, and a change
// that would break one throws InvariantError at once (src/raft/progress.ts states them).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { InvariantError } from '../../src/assert.ts';
import { Progress } from '../../src/raft/progress.ts';
import type { Snapshot } from '../../src/raft/index.ts';

const snapshot = (index: number, bytes: number): Snapshot => ({
  meta: { index, term: 1, conf: { voters: [1, 2], learners: [] } },
  data: new Uint8Array(bytes),
});

/** A follower that matched at `match`, in replicate state. */
function replicating(match: number, maxInflight = 4): Progress {
  const pr = new Progress(2, false, match, maxInflight);
  assert.equal(pr.maybeUpdate(match), true);
  pr.becomeReplicate();
  return pr;
}

describe('Progress invariants', () => {
  test('the legal life of a follower: probe -> replicate -> probe -> snapshot -> probe -> replicate', () => {
    const pr = new Progress(2, false, 10, 4);
    assert.equal(pr.state, 'probe');
    assert.equal(pr.nextIndex, 11);
    pr.sentEntries(0, 10);
    assert.equal(pr.isPaused(), true);
    pr.maybeUpdate(10);
    pr.becomeReplicate();
    pr.sentEntries(2, 12);
    pr.sentEntries(3, 15);
    assert.equal(pr.inflights.count, 2);
    assert.equal(pr.maybeDecrTo(12), true); // rejected: back to probe
    assert.equal(pr.state, 'probe');
    assert.equal(pr.inflights.count, 0);
    pr.becomeSnapshot(snapshot(20, 10));
    pr.snapshotChunkSent(4, false);
    pr.snapshotAcked(4);
    pr.snapshotChunkSent(10, true);
    pr.rewindSnapshot(4);
    pr.maybeUpdate(20);
    pr.becomeProbe();
    assert.equal(pr.nextIndex, 21);
    pr.becomeReplicate();
    assert.deepEqual(pr.view(), { id: 2, learner: false, matchIndex: 20, nextIndex: 21, state: 'replicate', recentActive: false });
  });

  test('illegal transitions throw: snapshot -> replicate, and a state into itself', () => {
    const pr = new Progress(2, false, 10, 4);
    assert.throws(() => pr.becomeProbe(), InvariantError, 'probe -> probe');
    pr.becomeSnapshot(snapshot(20, 10));
    assert.throws(() => pr.becomeReplicate(), InvariantError, 'snapshot -> replicate skips the probe');
    assert.throws(() => pr.becomeSnapshot(snapshot(30, 10)), InvariantError, 'snapshot -> snapshot');
    const r = replicating(5);
    assert.throws(() => r.becomeReplicate(), InvariantError, 'replicate -> replicate');
  });

  test('appends in snapshot state throw', () => {
    const pr = new Progress(2, false, 10, 4);
    pr.becomeSnapshot(snapshot(20, 10));
    assert.throws(() => pr.sentEntries(1, 21), InvariantError);
    assert.throws(() => pr.sentEntries(0, 20), InvariantError);
  });

  test('matchIndex < nextIndex: an append recorded below what the follower holds throws', () => {
    const pr = replicating(10);
    assert.throws(() => pr.sentEntries(1, 9), InvariantError);
  });

  test('inflight bounds: the window never overflows and its indexes increase', () => {
    const pr = replicating(10, 2);
    pr.sentEntries(1, 11);
    pr.sentEntries(1, 12);
    assert.equal(pr.isPaused(), true);
    assert.throws(() => pr.sentEntries(1, 13), InvariantError, 'overflow');
    const q = replicating(10, 4);
    q.sentEntries(3, 13);
    assert.throws(() => q.inflights.add(13), InvariantError, 'not after the newest');
  });

  test('snapshot offsets stay within the snapshot: acknowledged <= sent <= size', () => {
    const pr = new Progress(2, false, 10, 4);
    pr.becomeSnapshot(snapshot(20, 10));
    assert.throws(() => pr.snapshotChunkSent(11, true), InvariantError, 'past the end');
    const q = new Progress(2, false, 10, 4);
    q.becomeSnapshot(snapshot(20, 10));
    assert.throws(() => q.snapshotChunkSent(6, true), InvariantError, 'done before the end');
    const r = new Progress(2, false, 10, 4);
    r.becomeSnapshot(snapshot(20, 10));
    assert.throws(() => r.rewindSnapshot(-1), InvariantError, 'negative offset');
    const t = new Progress(2, false, 10, 4);
    t.becomeSnapshot(snapshot(20, 10));
    assert.throws(() => t.snapshotAcked(12), InvariantError, 'acknowledged past the end');
  });
});
