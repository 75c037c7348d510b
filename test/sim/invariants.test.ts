import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { SimDisk } from '../../src/sim/disk.ts';
import { InvariantChecker, InvariantViolation } from '../../src/sim/invariants.ts';
import type { Entry, Message } from '../../src/raft/types.ts';

const enc = new TextEncoder();
function e(index: number, term: number, data = `${index}/${term}`): Entry {
  return { index, term, type: 'normal', data: enc.encode(data) };
}
function disk(entries: Entry[]): SimDisk {
  const d = new SimDisk();
  d.append(entries);
  return d;
}
/** Nodes whose durable commit index is `commit` (node 1 campaigned in term 1). */
function committedUpTo(c: InvariantChecker, nodes: number[], commit: number): void {
  for (const n of nodes) c.observeHardState(n, { term: 1, vote: 1, commit });
  c.observeLeaderCommit(1, commit); // node 1 led term 1 and committed them
}
function violates(name: string, fn: () => void): void {
  assert.throws(fn, (err: unknown) => err instanceof InvariantViolation && err.invariant === name);
}

describe('InvariantChecker', () => {
  test('election safety: one leader per term, across the whole run', () => {
    const c = new InvariantChecker();
    c.observeRole(1, 'leader', 3);
    c.observeRole(1, 'leader', 3);
    c.observeRole(2, 'follower', 3);
    c.observeRole(2, 'leader', 4);
    violates('election safety', () => c.observeRole(3, 'leader', 3));
  });

  test('log matching: same index and term must mean same entry and same history', () => {
    const c = new InvariantChecker();
    c.observeDurableEntries(1, disk([e(1, 1), e(2, 1), e(3, 2)]), 1);
    c.observeDurableEntries(2, disk([e(1, 1), e(2, 1)]), 1);
    violates('log matching', () => c.observeDurableEntries(3, disk([e(1, 1), e(2, 1), e(3, 2, 'other')]), 1));
    // Same (index, term) at 3 but a different predecessor term: the logs diverge before it.
    const c2 = new InvariantChecker();
    c2.observeDurableEntries(1, disk([e(1, 1), e(2, 1), e(3, 2)]), 1);
    violates('log matching', () => c2.observeDurableEntries(2, disk([e(1, 1), e(2, 2, '2/1'), e(3, 2)]), 3));
  });

  test('state machine safety: no two different entries applied at one index', () => {
    const c = new InvariantChecker();
    committedUpTo(c, [1, 2, 3], 1);
    assert.equal(c.observeApplied(1, e(1, 1), 1), true);
    assert.equal(c.observeApplied(2, e(1, 1), 1), false);
    violates('state machine safety', () => c.observeApplied(3, e(1, 2), 1));
    violates('commit safety', () => c.observeCommitted(3, e(1, 1, 'x')));
  });

  test('leader completeness: a later leader must hold every committed entry', () => {
    const c = new InvariantChecker();
    committedUpTo(c, [1], 2);
    c.observeApplied(1, e(1, 1), 2);
    c.observeApplied(1, e(2, 1), 2);
    c.observeLeaderLog(2, 2, disk([e(1, 1), e(2, 1), e(3, 2)]));
    violates('leader completeness', () => c.observeLeaderLog(3, 3, disk([e(1, 1), e(2, 2)])));
    violates('leader completeness', () => c.checkLeaderHolds(3, 3, disk([e(1, 1)]), e(2, 1)));
  });

  test('leader completeness binds leaders of terms after the one the entry committed in, not after its own term', () => {
    // Entry 2@2 commits only in term 10 (through a later entry of that term). A stale leader of
    // term 9, elected before and still leading (no check-quorum), may lack it; a leader of term 11 may not.
    const c = new InvariantChecker();
    c.observeHardState(4, { term: 10, vote: 4, commit: 2 });
    c.observeLeaderCommit(10, 2);
    c.observeCommitted(4, e(2, 2));
    c.observeLeaderLog(5, 9, disk([e(1, 1), e(2, 1)]));
    c.checkLeaderHolds(5, 9, disk([e(1, 1), e(2, 1)]), e(2, 2));
    violates('leader completeness', () => c.observeLeaderLog(1, 11, disk([e(1, 1), e(2, 1)])));
  });

  test("leader completeness binds leaders after the term the entry committed in, not after the reporter's term", () => {
    // Entry 2@3 commits in term 3 (its leader's commit reaches 2). The first node to report it
    // committed is already at term 8; a leader of term 5 lacking it must still be flagged.
    const c = new InvariantChecker();
    c.observeLeaderCommit(3, 2);
    c.observeHardState(4, { term: 8, vote: 4, commit: 2 });
    c.observeCommitted(4, e(2, 3));
    c.observeLeaderLog(5, 3, disk([e(1, 1), e(2, 3)]));
    violates('leader completeness', () => c.observeLeaderLog(2, 5, disk([e(1, 1), e(2, 2)])));
    violates('leader completeness', () => c.checkLeaderHolds(2, 5, disk([e(1, 1)]), e(2, 3)));
  });

  test('commit index never goes back within one incarnation, may after a restart', () => {
    const c = new InvariantChecker();
    c.observeCommit(1, 1, 5);
    c.observeCommit(1, 1, 7);
    c.observeCommit(1, 2, 3); // restarted
    violates('commit monotonicity', () => c.observeCommit(1, 2, 2));
  });

  test('durable hard state: term never decreases and a vote never changes within a term', () => {
    const c = new InvariantChecker();
    c.observeHardState(3, { term: 2, vote: 3, commit: 0 }); // node 3 campaigns in term 2
    c.observeHardState(1, { term: 2, vote: 3, commit: 0 });
    c.observeHardState(1, { term: 2, vote: 3, commit: 4 });
    violates('one vote per term', () => c.observeHardState(1, { term: 2, vote: 2, commit: 4 }));
    violates('durable term', () => c.observeHardState(1, { term: 1, vote: 0, commit: 4 }));
  });

  test('votes, terms and acks must be durable before they are sent', () => {
    const c = new InvariantChecker();
    const d = disk([e(1, 1), e(2, 1)]);
    d.saveHardState({ term: 2, vote: 0, commit: 0 });
    const vote: Message = { type: 'RequestVoteResponse', from: 1, to: 2, term: 2, granted: true };
    violates('vote durable before sent', () => c.observeSend(vote, d));
    d.saveHardState({ term: 2, vote: 2, commit: 0 });
    c.observeSend(vote, d);
    const ack: Message = { type: 'AppendEntriesResponse', from: 1, to: 2, term: 2, success: true, matchIndex: 3, conflictIndex: 0, conflictTerm: 0 };
    violates('entries durable before ack', () => c.observeSend(ack, d));
    c.observeSend({ ...ack, matchIndex: 2 }, d);
    violates('term durable before sent', () => c.observeSend({ ...ack, term: 3, matchIndex: 1 }, d));
  });
});

describe('InvariantChecker: rules the planted bugs break', () => {
  test('terms come from campaigns: a term no node campaigned in is a violation (pre-votes raise no term)', () => {
    const c = new InvariantChecker();
    c.observeHardState(1, { term: 1, vote: 1, commit: 0 }); // node 1 campaigns in term 1
    c.observeHardState(2, { term: 1, vote: 0, commit: 0 }); // and node 2 learns the term from it
    c.observeHardState(2, { term: 1, vote: 1, commit: 0 });
    violates('terms come from campaigns', () => c.observeHardState(3, { term: 2, vote: 0, commit: 0 }));
  });

  test('apply after commit: an entry past the commit index its node had must not be applied; the commit index need not be durable', () => {
    const c = new InvariantChecker();
    c.observeHardState(1, { term: 1, vote: 1, commit: 0 });
    c.observeLeaderCommit(1, 2);
    // Commit index 2 known, not yet written (it rides along with the next write).
    c.observeApplied(1, e(1, 1), 2);
    c.observeApplied(1, e(2, 1), 2);
    violates('apply after commit', () => c.observeApplied(1, e(3, 1), 2));
  });

  test('committed by a leader: no node commits or applies past the highest commit index a leader reached, whatever its own says', () => {
    const c = new InvariantChecker();
    c.observeHardState(1, { term: 1, vote: 1, commit: 0 });
    c.observeLeaderCommit(1, 2); // node 1 leads term 1 and has committed up to 2
    // Node 2 took entries 1..3 and set its commit index to 3 (the leader's was 2): its own
    // commit index covers entry 3, so 'apply after commit' agrees with it; the leader's does not.
    c.observeApplied(2, e(1, 1), 3);
    c.observeApplied(2, e(2, 1), 3);
    violates('committed by a leader', () => c.observeApplied(2, e(3, 1), 3));
    violates('committed by a leader', () => c.observeCommitted(2, e(3, 1)));
    c.observeLeaderCommit(1, 3);
    c.observeApplied(2, e(3, 1), 3);
  });

  test('one membership change at a time: a leader appends a conf entry only once the previous one is committed', () => {
    const conf = (index: number): Entry => ({ index, term: 2, type: 'conf', data: enc.encode(`conf ${index}`) });
    const c = new InvariantChecker();
    c.observeRole(1, 'leader', 2);
    c.observeCommit(1, 1, 2);
    const d = disk([e(1, 1), conf(2), e(3, 2), conf(4)]);
    c.observeDurableEntries(1, d, 1); // conf 2 is committed when conf 4 is appended
    d.append([conf(5)]);
    violates('one membership change at a time', () => c.observeDurableEntries(1, d, 5));
    // A follower persisting the same entries is not the one that appended them.
    const c2 = new InvariantChecker();
    c2.observeRole(1, 'leader', 2);
    c2.observeDurableEntries(2, d, 1);
  });
});

describe('SimDisk', () => {
  test('append truncates a conflicting suffix; snapshots compact and install', () => {
    const d = disk([e(1, 1), e(2, 1), e(3, 1)]);
    d.append([e(2, 2)]);
    assert.equal(d.lastIndex, 2);
    assert.equal(d.termAt(2), 2);
    assert.throws(() => d.append([e(5, 2)]));
    const snap = { meta: { index: 1, term: 1, conf: { voters: [1], learners: [] } }, data: new Uint8Array() };
    d.compact(snap);
    assert.equal(d.snapshotIndex, 1);
    assert.equal(d.entryAt(1), undefined);
    assert.equal(d.termAt(1), 1);
    assert.equal(d.entryAt(2)?.term, 2);
    // A snapshot whose last entry we do not hold replaces the whole log.
    d.installSnapshot({ meta: { index: 2, term: 3, conf: { voters: [1], learners: [] } }, data: new Uint8Array() });
    assert.equal(d.lastIndex, 2);
    assert.equal(d.entries.length, 0);
    const restart = d.restartState({ voters: [1], learners: [] });
    assert.equal(restart.snapshot?.index, 2);
  });
});
