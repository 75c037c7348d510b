// The simulated disk writes a commit index as production does (LogStorage.setCommitWithNextWrite):
// with the next write, or not at all if the node crashes first.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { SimDisk } from '../../src/sim/disk.ts';
import type { Entry } from '../../src/raft/types.ts';

const entry = (index: number, term: number): Entry => ({ index, term, type: 'normal', data: new Uint8Array([index]) });
const conf = { voters: [1, 2, 3], learners: [] };

describe('SimDisk: a commit index alone rides along with the next write', () => {
  test('a crash before the next write loses it; the node restarts with the commit index last written', () => {
    const disk = new SimDisk();
    disk.saveHardState({ term: 2, vote: 1, commit: 0 });
    disk.append([entry(1, 2), entry(2, 2)]);
    disk.saveCommitWithNextWrite({ term: 2, vote: 1, commit: 2 });
    assert.equal(disk.hardState.commit, 0, 'not durable yet');
    assert.equal(disk.commitWaiting?.commit, 2);
    disk.loseUnwritten();
    assert.equal(disk.restartState(conf).hardState.commit, 0);
    assert.equal(disk.commitWaiting, null);
  });

  test('the next write of entries, a snapshot or a hard state carries it', () => {
    const disk = new SimDisk();
    disk.saveHardState({ term: 2, vote: 1, commit: 0 });
    disk.append([entry(1, 2), entry(2, 2)]);
    disk.saveCommitWithNextWrite({ term: 2, vote: 1, commit: 2 });
    disk.append([entry(3, 2)]);
    assert.equal(disk.hardState.commit, 2, 'written with entry 3');
    disk.loseUnwritten();
    assert.equal(disk.restartState(conf).hardState.commit, 2);

    disk.saveCommitWithNextWrite({ term: 2, vote: 1, commit: 3 });
    disk.installSnapshot({ meta: { index: 5, term: 2, conf }, data: new Uint8Array() });
    assert.equal(disk.hardState.commit, 3, 'written with the snapshot');

    disk.saveCommitWithNextWrite({ term: 2, vote: 1, commit: 5 });
    disk.saveHardState({ term: 3, vote: 2, commit: 5 });
    assert.deepEqual(disk.hardState, { term: 3, vote: 2, commit: 5 });
    assert.equal(disk.commitWaiting, null);
  });

  test('a commit-only write that would change the term or vote is a driver bug', () => {
    const disk = new SimDisk();
    disk.saveHardState({ term: 2, vote: 1, commit: 0 });
    assert.throws(() => disk.saveCommitWithNextWrite({ term: 3, vote: 1, commit: 1 }), /changes the term or vote/);
    assert.throws(() => disk.saveCommitWithNextWrite({ term: 2, vote: 2, commit: 1 }), /changes the term or vote/);
  });
});
