// ready(maxCommittedEntries): the driver may take committed entries a part at a time.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { RaftCore } from '../../src/raft/index.ts';
import { DEFAULT_CONFIG, seededRandom } from './harness.ts';

function singleVoterLeader(): RaftCore {
  const core = new RaftCore(
    { ...DEFAULT_CONFIG, id: 1, random: seededRandom(1) },
    { hardState: { term: 0, vote: 0, commit: 0 }, snapshot: null, entries: [], initialConf: { voters: [1], learners: [] } },
  );
  core.campaign();
  for (let guard = 0; core.hasReady() && guard < 10; guard++) {
    core.ready();
    core.advance();
  }
  assert.equal(core.status().role, 'leader');
  return core;
}

describe('ready() with a committed-entries budget', () => {
  test('hands out at most the budget, in order, and the rest in the next Ready', () => {
    const core = singleVoterLeader();
    const first = core.status().lastIndex + 1;
    for (let i = 0; i < 10; i++) core.propose(new Uint8Array([i]));
    const write = core.ready(3);
    assert.equal(write.entries.length, 10);
    core.advance(); // the ten are durable: a group of one commits them
    assert.equal(core.committedBacklog(), 10);
    const applied: number[] = [];
    const sizes: number[] = [];
    while (core.hasReady()) {
      const rd = core.ready(3);
      sizes.push(rd.committedEntries.length);
      for (const e of rd.committedEntries) applied.push(e.index);
      core.advance();
    }
    assert.deepEqual(sizes, [3, 3, 3, 1]);
    assert.deepEqual(
      applied,
      Array.from({ length: 10 }, (_, i) => first + i),
    );
    assert.equal(core.committedBacklog(), 0);
    assert.equal(core.status().appliedIndex, first + 9);
  });

  test('new proposals are written in the same Ready as a part of the backlog', () => {
    const core = singleVoterLeader();
    for (let i = 0; i < 4; i++) core.propose(new Uint8Array([i]));
    core.ready(2);
    core.advance();
    core.propose(new Uint8Array([9]));
    const rd = core.ready(2);
    assert.equal(rd.entries.length, 1, 'the new entry goes to disk');
    assert.equal(rd.committedEntries.length, 2, 'while half the backlog is applied');
    core.advance();
    assert.equal(core.committedBacklog(), 3);
  });

  test('a budget below one is a broken driver', () => {
    const core = singleVoterLeader();
    assert.throws(() => core.ready(0), /maxCommittedEntries must be >= 1/);
  });
});
