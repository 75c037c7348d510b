// A heartbeat whose commit index is past the end of this node's log (its log lost entries it
// had acknowledged) stops the node with what happened and the remedy, not the core's assert.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { LostEntriesError, lostEntriesIn, type CoreView } from '../../src/node/lost-entries.ts';
import type { Message } from '../../src/raft/types.ts';

const core = (term: number, lastIndex: number): CoreView => ({ currentTerm: () => term, lastIndex: () => lastIndex });
const heartbeat = (term: number, commit: number, to = 3): Message => ({ type: 'Heartbeat', from: 1, to, term, commit, context: 0 });

describe('lostEntriesIn', () => {
  test('a heartbeat of the current term committing past our last index: the error names both indexes and the remedy', () => {
    const error = lostEntriesIn(heartbeat(4, 516), 3, core(4, 257));
    assert.ok(error instanceof LostEntriesError);
    assert.equal(error.code, 'LOG_LOST_ENTRIES');
    assert.match(error.message, /^this node's log lost entries it had acknowledged: leader 1 \(term 4\) says index 516 is committed/);
    assert.match(error.message, /this node's log ends at index 257/);
    assert.match(error.message, /What to do: .*DELETE \/cluster\/members\/<id>.*empty its data directory.*POST \/cluster\/members.*--join/);
    assert.match(error.message, /docs\/durability\.md/);
    assert.doesNotMatch(error.message, /\n/, 'one line');
  });

  test('a heartbeat of a newer term too (the core adopts the term, then commits from it)', () => {
    assert.ok(lostEntriesIn(heartbeat(5, 258), 3, core(4, 257)) instanceof LostEntriesError);
  });

  test('what a correct leader sends passes: commit up to our last index', () => {
    assert.equal(lostEntriesIn(heartbeat(4, 257), 3, core(4, 257)), null);
    assert.equal(lostEntriesIn(heartbeat(4, 0), 3, core(4, 0)), null);
  });

  test('an older term, another node, or an AppendEntries with the leader commit past our log: passes', () => {
    assert.equal(lostEntriesIn(heartbeat(3, 516), 3, core(4, 257)), null, 'the core only answers it with its term');
    assert.equal(lostEntriesIn(heartbeat(4, 516, 2), 3, core(4, 257)), null, 'the core drops it');
    const append: Message = { type: 'AppendEntries', from: 1, to: 3, term: 4, prevLogIndex: 400, prevLogTerm: 4, entries: [], leaderCommit: 516 };
    assert.equal(lostEntriesIn(append, 3, core(4, 257)), null, 'a lagging follower gets these');
  });
});
