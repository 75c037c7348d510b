import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Cluster, cmd, seededRandom } from './harness.ts';
import type { AppendEntriesRequest, Message } from '../../src/raft/index.ts';

const appends = (ms: readonly Message[], to: number): AppendEntriesRequest[] =>
  ms.filter((m): m is AppendEntriesRequest => m.type === 'AppendEntries' && m.to === to);

describe('log replication (§5.3)', () => {
  test('agreement without failures: every node applies the same commands in order', () => {
    const c = new Cluster([1, 2, 3, 4, 5]);
    c.campaign(2);
    for (let i = 0; i < 50; i++) c.core(2).propose(cmd(`c${i}`));
    c.stabilize();
    c.tick(2);
    const expected = Array.from({ length: 50 }, (_, i) => `c${i}`);
    for (const id of c.ids) assert.deepEqual(c.node(id).applied, expected);
  });

  test('agreement with failures: lossy links, crashes and restarts of a minority', () => {
    const c = new Cluster([1, 2, 3, 4, 5]);
    const rnd = seededRandom(42);
    c.electSomeone();
    const proposed: string[] = [];
    let down: number | null = null;
    for (let round = 0; round < 60; round++) {
      c.dropIf = () => rnd() < 0.2;
      const leaders = c.leaders();
      if (leaders.length === 1) {
        const text = `w${round}`;
        if (c.core(leaders[0]!).propose(cmd(text)) !== null) proposed.push(text);
      }
      if (round % 10 === 3) {
        if (down !== null) c.restart(down);
        down = 1 + Math.floor(rnd() * 5);
        c.crash(down);
      }
      c.tick();
      c.assertAgreement();
    }
    if (down !== null) c.restart(down);
    c.heal();
    const leader = c.electSomeone();
    c.propose(leader, 'final');
    c.tick(5);
    c.assertAgreement();
    const final = c.node(leader).applied;
    assert.equal(final[final.length - 1], 'final');
    for (const id of c.ids) assert.deepEqual(c.node(id).applied, final);
    // Commands survive in proposal order (some proposals may be lost with a deposed leader).
    const order = final.filter((t) => t !== 'final').map((t) => proposed.indexOf(t));
    assert.ok(order.every((v, i) => v >= 0 && (i === 0 || v > order[i - 1]!)));
    assert.ok(final.length > 20, `only ${final.length} commands committed`);
  });

  test('batching and pipelining: at most maxInflight messages of at most maxEntriesPerMessage', () => {
    const c = new Cluster([1, 2, 3], { maxEntriesPerMessage: 4, maxInflight: 3 });
    c.campaign(1);
    c.propose(1, 'warm-up'); // followers are now in replicate state
    for (let i = 0; i < 100; i++) c.core(1).propose(cmd(`e${i}`));
    const rd = c.core(1).ready();
    c.core(1).advance();
    const toTwo = appends(rd.messages, 2);
    assert.equal(toTwo.length, 3);
    assert.ok(toTwo.every((m) => m.entries.length === 4));
    // Consecutive pipelined messages: each starts where the previous ended.
    for (let i = 1; i < toTwo.length; i++) assert.equal(toTwo[i]!.prevLogIndex, toTwo[i - 1]!.prevLogIndex + 4);
    for (const m of rd.messages) c.inflight.push(m);
    c.stabilize();
    c.tick(2);
    assert.equal(c.node(2).applied.length, 101);
  });

  test('batching by bytes: maxBytesPerMessage caps a message (but always sends one entry)', () => {
    const c = new Cluster([1, 2], { maxBytesPerMessage: 100, maxInflight: 64 });
    c.campaign(1);
    c.propose(1, 'warm-up');
    for (let i = 0; i < 6; i++) c.core(1).propose(new Uint8Array(40));
    c.core(1).propose(new Uint8Array(500));
    const rd = c.core(1).ready();
    c.core(1).advance();
    const sizes = appends(rd.messages, 2).map((m) => m.entries.length);
    assert.deepEqual(sizes, [1, 1, 1, 1, 1, 1, 1]);
  });

  test('fast backtracking over long divergent logs takes a few round trips, not one per entry', () => {
    const c = new Cluster([1, 2, 3, 4, 5], { maxInflight: 16 });
    c.campaign(1);
    c.propose(1, 'common');
    c.partition([1, 2], [3, 4, 5]);
    for (let i = 0; i < 300; i++) c.core(1).propose(cmd(`old${i}`)); // never committed
    c.stabilize();
    c.tickOnly([3, 4, 5], 30);
    assert.equal(c.core(3).status().role === 'leader' || c.core(4).status().role === 'leader' || c.core(5).status().role === 'leader', true);
    const newLeader = [3, 4, 5].find((id) => c.core(id).status().role === 'leader')!;
    for (let i = 0; i < 300; i++) c.core(newLeader).propose(cmd(`new${i}`));
    c.stabilize();
    c.tickOnly([3, 4, 5], 1);
    assert.equal(c.core(1).status().lastIndex, 302);
    // A new election in the majority: the next leader starts probing at its own last index,
    // far past where the logs of 1 and 2 diverge from it.
    c.crash(newLeader);
    c.heal();
    c.delivered = [];
    for (let i = 0; i < 100 && !(c.leaders().length === 1 && c.leaders()[0]! >= 3); i++) c.tick();
    const final = c.leader();
    assert.ok(final >= 3);
    c.restart(newLeader);
    c.tick(6);
    const rejections = c.delivered.filter((m) => m.type === 'AppendEntriesResponse' && !m.success && m.to === final);
    const divergentRejections = rejections.filter((m) => m.from === 1 || m.from === 2);
    assert.ok(divergentRejections.length >= 2, 'the divergent followers did reject');
    assert.ok(rejections.length <= 8, `${rejections.length} rejections for 300 divergent entries`);
    const expected = ['common', ...Array.from({ length: 300 }, (_, i) => `new${i}`)];
    for (const id of c.ids) assert.deepEqual(c.node(id).applied, expected);
  });

  test("5 nodes split 2/3: the minority cannot commit, the majority can; after healing the minority's entries are replaced", () => {
    const c = new Cluster([1, 2, 3, 4, 5]);
    c.campaign(1);
    c.propose(1, 'before');
    const commitBefore = c.core(1).status().commitIndex;
    c.partition([1, 2], [3, 4, 5]);
    c.core(1).propose(cmd('minority-1'));
    c.core(1).propose(cmd('minority-2'));
    c.stabilize();
    c.tickOnly([1, 2], 3);
    assert.equal(c.core(1).status().commitIndex, commitBefore);
    assert.equal(c.core(2).status().lastIndex, c.core(1).status().lastIndex); // replicated, not committed
    c.tickOnly([3, 4, 5], 30);
    const leader = c.leaders().find((id) => id >= 3)!;
    assert.ok(leader >= 3);
    c.propose(leader, 'majority-1');
    c.propose(leader, 'majority-2');
    c.tickOnly([3, 4, 5], 2);
    for (const id of [3, 4, 5]) assert.deepEqual(c.node(id).applied, ['before', 'majority-1', 'majority-2']);
    c.heal();
    c.tick(5);
    assert.equal(c.leader(), leader);
    for (const id of c.ids) assert.deepEqual(c.node(id).applied, ['before', 'majority-1', 'majority-2']);
  });

  test('persistence: one follower, several nodes, and all nodes restart without losing committed entries', () => {
    const c = new Cluster([1, 2, 3, 4, 5]);
    c.campaign(1);
    c.propose(1, 'a');
    c.crash(5);
    c.propose(1, 'b');
    c.restart(5);
    c.tick(3);
    assert.deepEqual(c.node(5).applied, ['a', 'b']);
    c.crash(1);
    c.crash(2);
    const leader = c.electSomeone();
    c.propose(leader, 'c');
    c.restart(1);
    c.restart(2);
    c.tick(3);
    for (const id of c.ids) c.crash(id);
    for (const id of c.ids) c.restart(id);
    const again = c.electSomeone();
    c.propose(again, 'd');
    c.tick(3);
    for (const id of c.ids) assert.deepEqual(c.node(id).applied, ['a', 'b', 'c', 'd']);
    // Terms and votes were persisted: no node ever went back in term.
    for (const id of c.ids) assert.ok(c.core(id).status().term >= c.node(id).disk.hardState.term);
  });

  test("the commit index sent in heartbeats is capped at the follower's match index", () => {
    const c = new Cluster([1, 2, 3]);
    c.campaign(1);
    c.cutLink(1, 3);
    c.propose(1, 'x');
    c.core(1).tick();
    const rd = c.core(1).ready();
    c.core(1).advance();
    const hb = rd.messages.filter((m) => m.type === 'Heartbeat');
    const commit = c.core(1).status().commitIndex;
    const to3 = hb.find((m) => m.to === 3);
    const to2 = hb.find((m) => m.to === 2);
    assert.ok(to2 && to3 && to2.type === 'Heartbeat' && to3.type === 'Heartbeat');
    assert.equal(to2.commit, commit);
    assert.equal(to3.commit, 1); // node 3 only holds the first no-op
  });

  test("a follower knows the leader's commit index before it holds those entries: how far behind it is", () => {
    const c = new Cluster([1, 2, 3], { maxEntriesPerMessage: 2, maxInflight: 1 });
    c.campaign(1);
    c.crash(3);
    for (let i = 0; i < 20; i++) c.propose(1, `w${i}`);
    const commit = c.core(1).commitIndex();
    assert.equal(c.core(1).leaderCommitIndex(), 0, 'a leader trails no one');
    c.restart(3);
    assert.equal(c.core(3).leaderCommitIndex(), 0, 'not told yet');
    // One AppendEntries with entries reaches node 3 (2 entries at most), the rest are lost:
    // node 3 learns the leader's full commit index while its own log is far below it.
    let appendsWithEntries = 0;
    c.dropIf = (m) => m.to === 3 && m.type === 'AppendEntries' && m.entries.length > 0 && ++appendsWithEntries > 1;
    c.tick(3);
    assert.ok(appendsWithEntries >= 1, 'an append was sent to node 3');
    assert.equal(c.core(3).leaderCommitIndex(), commit);
    assert.ok(c.core(3).status().appliedIndex < commit - 10, `node 3 applied ${c.core(3).status().appliedIndex} of ${commit}`);
    c.dropIf = null;
    c.tick(5);
    assert.equal(c.node(3).appliedIndex, c.core(1).commitIndex(), 'caught up');
    // A new term: the deposed leader, now a follower, is told by the new one.
    c.isolate(1);
    c.tick(40);
    const next = c.core(2).status().role === 'leader' ? 2 : 3;
    assert.equal(c.core(next).status().role, 'leader');
    c.heal();
    c.tick(3);
    assert.equal(c.core(1).status().leader, next);
    assert.equal(c.core(1).leaderCommitIndex(), c.core(next).commitIndex());
    assert.equal(c.core(next).leaderCommitIndex(), 0);
  });
});

describe('Figure 8: commit only current-term entries by counting replicas', () => {
  /** Builds Figure 8 (a)-(c): S1 leads term 3 and has replicated its term-1 entry at index 2
   * to S2 and S3 (a majority), while its own term-3 no-op reached nobody. */
  function figure8(bug: boolean): Cluster {
    const c = new Cluster([1, 2, 3, 4, 5], {
      preVote: false,
      checkQuorum: false,
      maxEntriesPerMessage: 1,
      bugs: { commitPreviousTermEntries: bug },
    });
    c.campaign(1); // term 1, no-op at index 1 everywhere
    // (a) S1 replicates index 2 only to S2.
    c.partition([1], [3, 4, 5]);
    c.core(1).propose(cmd('x2'));
    c.stabilize();
    c.heal();
    // (b) S1 crashes; S5 wins term 2 with S3, S4 and appends its own index 2, which it never sends.
    c.crash(1);
    c.dropIf = (m) => m.from === 5 && (m.type === 'AppendEntries' || m.type === 'Heartbeat');
    c.cutLink(5, 2);
    c.campaign(5);
    assert.equal(c.core(5).status().role, 'leader');
    assert.equal(c.core(5).status().lastIndex, 2);
    c.crash(5);
    c.heal();
    // (c) S1 restarts, wins term 3, and sends index 2 (term 1) but none of its term-3 entries.
    c.restart(1);
    // S1's messages lose their term-3 entries in transit (as if S1 had sent shorter batches).
    c.rewrite = (m) => (m.type === 'AppendEntries' ? { ...m, entries: m.entries.filter((e) => e.term !== 3) } : m);
    c.campaign(1);
    if (c.core(1).status().role !== 'leader') c.campaign(1);
    assert.equal(c.core(1).status().role, 'leader');
    assert.equal(c.core(1).status().term, 3);
    c.tick(2);
    return c;
  }

  test('an old-term entry on a majority is not committed until a current-term entry is', () => {
    const c = figure8(false);
    const st = c.core(1).status();
    const matches = new Map(st.progress.map((p) => [p.id, p.matchIndex]));
    assert.equal(matches.get(2), 2);
    assert.equal(matches.get(3), 2);
    assert.equal(st.commitIndex, 1, 'index 2 (term 1) is on S1, S2, S3 but must not be committed');
    // (d) S1 crashes, S5 returns and is elected by S2, S3, S4, and overwrites index 2: safe,
    // because nobody committed it.
    c.crash(1);
    c.heal();
    c.restart(5);
    c.campaign(5);
    if (c.core(5).status().role !== 'leader') c.campaign(5);
    assert.equal(c.core(5).status().role, 'leader');
    c.propose(5, 'after');
    c.tick(2);
    for (const id of [2, 3, 4, 5]) assert.deepEqual(c.node(id).applied, ['after']);
  });

  test('once the current-term no-op replicates, both commit together', () => {
    const c = figure8(false);
    c.heal();
    c.tick(2);
    assert.equal(c.core(1).status().commitIndex, 3);
    for (const id of [1, 2, 3]) assert.deepEqual(c.node(id).applied, ['x2']);
  });

  test('with bugs.commitPreviousTermEntries the old-term entry commits, and (d) then loses it', () => {
    const c = figure8(true);
    assert.equal(c.core(1).status().commitIndex, 2);
    assert.deepEqual(c.node(1).applied, ['x2']);
    c.crash(1);
    c.heal();
    c.restart(5);
    // S5 can still be elected (S2, S3, S4 vote for its newer last term) although it lacks the
    // "committed" entry: Leader Completeness is violated, which is why Figure 8 forbids this.
    c.campaign(5);
    if (c.core(5).status().role !== 'leader') c.campaign(5);
    assert.equal(c.core(5).status().role, 'leader');
    const s5AtIndex2 = c.node(5).disk.entries.find((e) => e.index === 2)!;
    assert.equal(s5AtIndex2.term, 2);
    assert.notEqual(s5AtIndex2.type, 'normal');
  });
});
