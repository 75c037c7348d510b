// The durability rule of the Ready contract (src/raft/ready-durability.ts): which messages may
// leave before the Ready's hard state and entries are durable, and when a Ready must be synced.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { RaftCore, readyDurability } from '../../src/raft/index.ts';
import type { Entry, HardState, Message, Ready, Role } from '../../src/raft/index.ts';
import { Cluster, DEFAULT_CONFIG, seededRandom } from './harness.ts';

const H = { from: 1, to: 2, term: 2 };
const MESSAGES: Record<Message['type'], Message> = {
  PreVote: { ...H, type: 'PreVote', lastLogIndex: 0, lastLogTerm: 0 },
  PreVoteResponse: { ...H, type: 'PreVoteResponse', granted: true },
  RequestVote: { ...H, type: 'RequestVote', lastLogIndex: 0, lastLogTerm: 0, transfer: false },
  RequestVoteResponse: { ...H, type: 'RequestVoteResponse', granted: true },
  AppendEntries: { ...H, type: 'AppendEntries', prevLogIndex: 0, prevLogTerm: 0, entries: [], leaderCommit: 0 },
  AppendEntriesResponse: { ...H, type: 'AppendEntriesResponse', success: true, matchIndex: 1, conflictIndex: 0, conflictTerm: 0 },
  Heartbeat: { ...H, type: 'Heartbeat', commit: 0, context: 0 },
  HeartbeatResponse: { ...H, type: 'HeartbeatResponse', context: 0 },
  InstallSnapshot: {
    ...H,
    type: 'InstallSnapshot',
    meta: { index: 1, term: 1, conf: { voters: [1, 2], learners: [] } },
    offset: 0,
    chunk: new Uint8Array(),
    done: true,
    size: 0,
  },
  InstallSnapshotResponse: { ...H, type: 'InstallSnapshotResponse', snapshotIndex: 1, nextOffset: 0, done: true },
  TimeoutNow: { ...H, type: 'TimeoutNow' },
  ReadIndex: { ...H, type: 'ReadIndex', context: 1 },
  ReadIndexResponse: { ...H, type: 'ReadIndexResponse', index: 1, context: 1 },
};
const ALL = Object.values(MESSAGES);
const DURABLE: HardState = { term: 2, vote: 1, commit: 3 };
const ENTRY: Entry = { index: 4, term: 2, type: 'normal', data: new Uint8Array([1]) };

function ready(role: Role, fields: Partial<Ready> = {}): Ready {
  return {
    softState: { leader: role === 'leader' ? 1 : 0, role },
    hardState: null,
    snapshot: null,
    entries: [],
    messages: ALL,
    committedEntries: [],
    readStates: [],
    ...fields,
  };
}

const types = (messages: readonly Message[]): string[] => messages.map((m) => m.type);

describe('readyDurability: which messages may leave before the Ready is durable', () => {
  test('a leader whose term and vote are durable sends its AppendEntries and Heartbeats early, nothing else', () => {
    const d = readyDurability(ready('leader', { entries: [ENTRY] }), DURABLE);
    assert.deepEqual(types(d.beforeSync), ['AppendEntries', 'Heartbeat']);
    assert.deepEqual(types(d.afterSync), types(ALL.filter((m) => m.type !== 'AppendEntries' && m.type !== 'Heartbeat')));
    assert.equal(d.mustSync, true);
    assert.equal(d.hardStateMustSync, false);
  });

  test('votes, vote responses and acks never leave early, whatever the role', () => {
    for (const role of ['follower', 'pre-candidate', 'candidate', 'leader'] as const) {
      for (const hardState of [null, DURABLE, { ...DURABLE, commit: 9 }, { ...DURABLE, term: 3, vote: 0 }]) {
        const d = readyDurability(ready(role, { hardState }), DURABLE);
        for (const type of [
          'PreVote',
          'PreVoteResponse',
          'RequestVote',
          'RequestVoteResponse',
          'AppendEntriesResponse',
          'HeartbeatResponse',
        ] as const) {
          assert.ok(!types(d.beforeSync).includes(type), `${type} early on a ${role} with hard state ${JSON.stringify(hardState)}`);
        }
        assert.equal(d.beforeSync.length + d.afterSync.length, ALL.length, 'every message is sent once');
      }
    }
  });

  test('a non-leader sends nothing early, not even replication messages it still holds', () => {
    for (const role of ['follower', 'pre-candidate', 'candidate'] as const) {
      const d = readyDurability(ready(role), DURABLE);
      assert.deepEqual(d.beforeSync, []);
      assert.deepEqual(d.afterSync, ALL);
    }
  });

  test('a Ready that changes the term or the vote: the leader replicates only after the write', () => {
    for (const hardState of [
      { ...DURABLE, term: 3, vote: 1 },
      { ...DURABLE, vote: 3 },
    ]) {
      const d = readyDurability(ready('leader', { hardState }), DURABLE);
      assert.deepEqual(d.beforeSync, []);
      assert.deepEqual(d.afterSync, ALL);
      assert.equal(d.hardStateMustSync, true);
      assert.equal(d.mustSync, true);
    }
  });

  test('a new commit index alone neither holds back replication nor needs a sync', () => {
    const d = readyDurability(ready('leader', { hardState: { ...DURABLE, commit: 7 } }), DURABLE);
    assert.deepEqual(types(d.beforeSync), ['AppendEntries', 'Heartbeat']);
    assert.equal(d.hardStateMustSync, false);
    assert.equal(d.mustSync, false);
  });

  test('mustSync (etcd MustSync): entries, a snapshot, or a new term or vote', () => {
    const snapshot = { meta: { index: 5, term: 2, conf: { voters: [1], learners: [] } }, data: new Uint8Array() };
    assert.equal(readyDurability(ready('follower'), DURABLE).mustSync, false);
    assert.equal(readyDurability(ready('follower', { entries: [ENTRY] }), DURABLE).mustSync, true);
    assert.equal(readyDurability(ready('follower', { snapshot }), DURABLE).mustSync, true);
    assert.equal(readyDurability(ready('follower', { hardState: { ...DURABLE, term: 3 } }), DURABLE).mustSync, true);
  });

  test('the planted bug sendBeforeDurable lets everything leave early', () => {
    const d = readyDurability(ready('follower', { hardState: { term: 3, vote: 2, commit: 3 } }), DURABLE, { sendBeforeDurable: true });
    assert.deepEqual(d.beforeSync, ALL);
    assert.deepEqual(d.afterSync, []);
  });
});

describe('readyDurability on the Readies of a real core', () => {
  const boot = (id: number, voters: number[], learners: number[] = []): RaftCore =>
    new RaftCore(
      { ...DEFAULT_CONFIG, id, random: seededRandom(id) },
      { hardState: { term: 0, vote: 0, commit: 0 }, snapshot: null, entries: [], initialConf: { voters, learners } },
    );

  test('a single voter becomes leader in the Ready that raises its term: its appends to a learner wait for the write', () => {
    const core = boot(1, [1], [2]);
    core.campaign();
    const rd = core.ready();
    assert.equal(rd.softState.role, 'leader');
    assert.equal(rd.hardState?.term, 1);
    assert.ok(rd.messages.some((m) => m.type === 'AppendEntries' && m.to === 2));
    const d = readyDurability(rd, { term: 0, vote: 0, commit: 0 });
    assert.deepEqual(d.beforeSync, []);
    assert.deepEqual(d.afterSync, rd.messages);
    core.advance();
    // Term and vote now durable: the next appends may leave while the leader writes them.
    core.step({ type: 'AppendEntriesResponse', from: 2, to: 1, term: 1, success: true, matchIndex: 1, conflictIndex: 0, conflictTerm: 0 });
    core.propose(new Uint8Array([7]));
    const next = core.ready();
    assert.ok(next.entries.length > 0);
    const d2 = readyDurability(next, rd.hardState!);
    assert.ok(d2.beforeSync.some((m) => m.type === 'AppendEntries' && m.to === 2));
    assert.deepEqual(d2.afterSync, []);
  });

  test('three voters: the candidate, the voter and the follower that appends all wait for the write', () => {
    const [a, b] = [boot(1, [1, 2, 3]), boot(2, [1, 2, 3])];
    a.campaign(); // pre-vote
    let rd = a.ready();
    assert.deepEqual(readyDurability(rd, { term: 0, vote: 0, commit: 0 }).beforeSync, []);
    a.advance();
    b.step(rd.messages.find((m) => m.to === 2)!);
    let rb = b.ready();
    assert.deepEqual(readyDurability(rb, { term: 0, vote: 0, commit: 0 }).beforeSync, []);
    b.advance();
    a.step(rb.messages[0]!);
    rd = a.ready(); // RequestVote in term 1, with the vote for itself
    assert.equal(rd.softState.role, 'candidate');
    assert.ok(rd.messages.some((m) => m.type === 'RequestVote'));
    assert.deepEqual(readyDurability(rd, { term: 0, vote: 0, commit: 0 }).beforeSync, []);
    a.advance();
    b.step(rd.messages.find((m) => m.to === 2)!);
    rb = b.ready(); // the vote: term 1, vote 1
    assert.equal(rb.messages[0]?.type, 'RequestVoteResponse');
    assert.deepEqual(readyDurability(rb, { term: 0, vote: 0, commit: 0 }).beforeSync, []);
    b.advance();
    a.step(rb.messages[0]!);
    rd = a.ready(); // leader: its no-op and the appends carrying it
    assert.equal(rd.softState.role, 'leader');
    const early = readyDurability(rd, { term: 1, vote: 1, commit: 0 }).beforeSync;
    assert.ok(early.length > 0 && early.every((m) => m.type === 'AppendEntries' || m.type === 'Heartbeat'));
    a.advance();
    b.step(rd.messages.find((m) => m.to === 2 && m.type === 'AppendEntries')!);
    rb = b.ready(); // the follower's entries and its ack
    assert.ok(rb.entries.length > 0 && rb.messages.some((m) => m.type === 'AppendEntriesResponse'));
    assert.deepEqual(readyDurability(rb, { term: 1, vote: 1, commit: 0 }).beforeSync, []);
  });
});

describe('a Ready carries no message of a term the node has left', () => {
  test('a vote granted in term 2 and still queued when term 3 arrives is dropped, not sent after the term-3 write', () => {
    const c = new Cluster([1, 2, 3]);
    const core = c.core(2);
    const vote = (from: number, term: number): Message => ({
      type: 'RequestVote',
      from,
      to: 2,
      term,
      lastLogIndex: 0,
      lastLogTerm: 0,
      transfer: true,
    });
    core.step(vote(3, 2));
    core.step(vote(1, 3));
    const rd = core.ready();
    assert.equal(rd.hardState?.term, 3);
    assert.deepEqual(
      rd.messages.map((m) => [m.type, m.to, m.term]),
      [['RequestVoteResponse', 1, 3]],
    );
    core.advance();
  });
});
