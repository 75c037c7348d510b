// The sanity checks on members' messages (src/node/peer-network.ts), one by one: what an
// honest member sends passes, what none sends is named.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { APPEND_ENTRIES_COUNT_MAX, MessageSanity, TERM_JUMP_MAX, insaneMessage, type LocalRaftView } from '../../src/node/peer-network.ts';
import type { Entry, InstallSnapshotRequest, Message } from '../../src/raft/types.ts';
import { everyMessage } from './harness.ts';

const local = (term: number, lastIndex = 1000): LocalRaftView => ({ term: () => term, lastIndex: () => lastIndex });
const entry = (index: number, term: number): Entry => ({ index, term, type: 'normal', data: new Uint8Array(1) });

test('every message an honest member sends passes, at our term, one ahead, and far behind', () => {
  for (const ours of [7, 6, 1, 500]) {
    for (const m of everyMessage(1, 2)) assert.equal(insaneMessage(m, local(ours)), null, `${m.type} at our term ${ours}`);
  }
  const vote: Message = { type: 'RequestVote', from: 1, to: 2, term: 7 + TERM_JUMP_MAX, lastLogIndex: 5, lastLogTerm: 7, transfer: false };
  assert.equal(insaneMessage(vote, local(7)), null, 'exactly TERM_JUMP_MAX ahead');
});

test('a term too far ahead, of any message type, is named', () => {
  for (const m of everyMessage(1, 2)) {
    const bomb = { ...m, term: Number.MAX_SAFE_INTEGER } as Message;
    assert.match(insaneMessage(bomb, local(7)) ?? '', /more than 1000000 terms ahead of ours \(7\)/, m.type);
    const justPast = { ...m, term: 8 + TERM_JUMP_MAX } as Message;
    assert.notEqual(insaneMessage(justPast, local(7)), null);
  }
});

test('AppendEntries: gaps, terms out of order or from the future, too many, past 2^53', () => {
  const ae = (prevLogIndex: number, prevLogTerm: number, entries: Entry[], term = 5): Message => ({
    type: 'AppendEntries',
    from: 1,
    to: 2,
    term,
    prevLogIndex,
    prevLogTerm,
    entries,
    leaderCommit: 0,
  });
  assert.equal(insaneMessage(ae(3, 2, [entry(4, 2), entry(5, 5)]), local(5)), null);
  assert.match(insaneMessage(ae(3, 2, [entry(4, 2), entry(6, 2)]), local(5))!, /entry 1 has index 6, not 5/);
  assert.match(insaneMessage(ae(3, 2, [entry(5, 2)]), local(5))!, /entry 0 has index 5, not 4/);
  assert.match(insaneMessage(ae(3, 2, [entry(4, 3), entry(5, 2)]), local(5))!, /entry 5 has term 2, outside 3\.\.5/);
  assert.match(insaneMessage(ae(3, 2, [entry(4, 1)]), local(5))!, /entry 4 has term 1/);
  assert.match(insaneMessage(ae(3, 2, [entry(4, 6)]), local(5))!, /entry 4 has term 6/);
  assert.match(insaneMessage(ae(3, 9, []), local(5))!, /cannot hold an entry of term 9/);
  const top = Number.MAX_SAFE_INTEGER;
  assert.match(insaneMessage(ae(top, 1, [entry(top + 1, 1)]), local(5))!, /past index 2\^53/);
  assert.equal(insaneMessage(ae(top, 1, []), local(5)), null, 'a heartbeat-like probe at the top is harmless');
  const many = Array.from({ length: APPEND_ENTRIES_COUNT_MAX + 1 }, (_, i) => entry(i + 1, 1));
  assert.match(insaneMessage(ae(0, 0, many), local(5))!, /16385 entries/);
});

test('a success past the leader’s log, a snapshot from a future term, a candidate with a future log', () => {
  const ack = (term: number, matchIndex: number): Message => ({
    type: 'AppendEntriesResponse',
    from: 1,
    to: 2,
    term,
    success: true,
    matchIndex,
    conflictIndex: 0,
    conflictTerm: 0,
  });
  assert.equal(insaneMessage(ack(5, 100), local(5, 100)), null);
  assert.match(insaneMessage(ack(5, 101), local(5, 100))!, /matchIndex 101 is past this node's last index 100/);
  assert.equal(insaneMessage(ack(6, 101), local(5, 100)), null, 'a later term: the core steps down and never reads it');
  const snap: InstallSnapshotRequest = {
    type: 'InstallSnapshot',
    from: 1,
    to: 2,
    term: 5,
    meta: { index: 10, term: 6, conf: { voters: [1], learners: [] } },
    offset: 0,
    chunk: new Uint8Array(1),
    done: true,
    size: 1,
  };
  assert.match(insaneMessage(snap, local(5))!, /snapshot of term 6/);
  const chunk: InstallSnapshotRequest = { ...snap, meta: { ...snap.meta, term: 5 }, offset: 8, chunk: new Uint8Array(4), done: false, size: 12 };
  assert.equal(insaneMessage(chunk, local(5)), null);
  assert.match(insaneMessage({ ...chunk, size: 11 }, local(5))!, /snapshot bytes up to 12, past the 11 announced/);
  assert.match(insaneMessage({ ...chunk, size: 2 ** 32 }, local(5))!, /a snapshot of 4294967296 bytes \(at most 4294967295\)/);
  const pre: Message = { type: 'PreVote', from: 1, to: 2, term: 6, lastLogIndex: 9, lastLogTerm: 7 };
  assert.match(insaneMessage(pre, local(5))!, /candidate for term 6 cannot hold an entry of term 7/);
});

test('MessageSanity drops, counts and logs with a limit', () => {
  const lines: string[] = [];
  const sanity = new MessageSanity(pino({ level: 'warn' }, { write: (line: string) => void lines.push(line) }));
  const bomb: Message = { type: 'TimeoutNow', from: 1, to: 2, term: Number.MAX_SAFE_INTEGER };
  for (let i = 0; i < 100; i++) assert.equal(sanity.admits(bomb, local(3)), false);
  assert.equal(sanity.admits({ ...bomb, term: 4 }, local(3)), true);
  assert.equal(sanity.dropped, 100);
  assert.ok(lines.length > 0 && lines.length <= 20, `${lines.length} lines`);
  assert.match(lines[0]!, /dropped TimeoutNow from node 1: term 9007199254740991/);
});
