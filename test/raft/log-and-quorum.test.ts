import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { RaftLog } from '../../src/raft/raft-log.ts';
import { quorumMin, voteResult } from '../../src/raft/quorum.ts';
import { Inflights } from '../../src/raft/progress.ts';
import { InvariantError } from '../../src/assert.ts';
import type { Entry } from '../../src/raft/index.ts';

const e = (index: number, term: number): Entry => ({ index, term, type: 'normal', data: new Uint8Array(0) });

describe('RaftLog', () => {
  test('terms, snapshot offset, matchTerm and findConflict', () => {
    const log = new RaftLog({ index: 5, term: 2, conf: { voters: [1], learners: [] } }, [e(6, 2), e(7, 3), e(8, 3)], 6);
    assert.equal(log.firstIndex(), 6);
    assert.equal(log.lastIndex(), 8);
    assert.equal(log.term(5), 2);
    assert.equal(log.term(4), undefined);
    assert.equal(log.term(9), undefined);
    assert.equal(log.matchTerm(7, 3), true);
    assert.equal(log.findConflict([e(7, 3), e(8, 3)]), 0);
    assert.equal(log.findConflict([e(7, 3), e(8, 4)]), 8);
    assert.equal(log.findConflict([e(8, 3), e(9, 3)]), 9);
    assert.equal(log.firstIndexOfTerm(3, 8), 7);
    assert.equal(log.lastIndexOfTerm(2), 6);
    assert.equal(log.lastIndexOfTerm(1), 0);
  });

  test('append truncates a conflicting suffix and lowers the stable index; never below commit', () => {
    const log = new RaftLog(null, [e(1, 1), e(2, 1), e(3, 1)], 1);
    assert.equal(log.stable, 3);
    log.append([e(2, 2)]);
    assert.equal(log.lastIndex(), 2);
    assert.equal(log.stable, 1);
    assert.deepEqual(
      log.unstableEntries().map((x) => x.index),
      [2],
    );
    assert.throws(() => log.append([e(1, 3)]), InvariantError);
    assert.throws(() => log.commitTo(5), InvariantError);
    log.stableTo(2, 1); // wrong term: ignored
    assert.equal(log.stable, 1);
    log.stableTo(2, 2);
    assert.equal(log.stable, 2);
  });

  test('committed entries are handed out only once durable', () => {
    const log = new RaftLog(null, [e(1, 1)], 0);
    log.append([e(2, 1), e(3, 1)]);
    log.commitTo(3);
    assert.deepEqual(
      log.nextCommittedEntries(100).map((x) => x.index),
      [1],
    );
    log.stableTo(3, 1);
    assert.deepEqual(
      log.nextCommittedEntries(2).map((x) => x.index),
      [1, 2],
    );
  });
});

describe('quorum math', () => {
  test('committed index is the majority-th highest match', () => {
    const match = new Map([
      [1, 10],
      [2, 7],
      [3, 3],
      [4, 9],
      [5, 1],
    ]);
    assert.equal(
      quorumMin([1, 2, 3, 4, 5], (id) => match.get(id)!),
      7,
    );
    assert.equal(
      quorumMin([1, 2, 3, 4], (id) => match.get(id)!),
      7,
    );
    assert.equal(
      quorumMin([1], (id) => match.get(id)!),
      10,
    );
  });

  test('vote result', () => {
    const v = (pairs: [number, boolean][]) => new Map(pairs);
    assert.equal(
      voteResult(
        [1, 2, 3],
        v([
          [1, true],
          [2, true],
        ]),
      ),
      'won',
    );
    assert.equal(
      voteResult(
        [1, 2, 3],
        v([
          [1, true],
          [2, false],
        ]),
      ),
      'pending',
    );
    assert.equal(
      voteResult(
        [1, 2, 3],
        v([
          [1, true],
          [2, false],
          [3, false],
        ]),
      ),
      'lost',
    );
    assert.equal(
      voteResult(
        [1, 2, 3, 4],
        v([
          [1, true],
          [2, true],
          [3, false],
        ]),
      ),
      'pending',
    );
  });

  test('inflight window is bounded and frees in order', () => {
    const w = new Inflights(3);
    w.add(5);
    w.add(9);
    w.add(12);
    assert.equal(w.full(), true);
    assert.throws(() => w.add(13), InvariantError);
    w.freeLE(9);
    assert.equal(w.count, 1);
    w.add(15);
    w.add(20);
    w.freeFirstOne();
    assert.equal(w.count, 2);
  });
});
