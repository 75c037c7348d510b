// The hand-written group commit of the SQLite peer (bench/peers/group-commit.ts): writers
// waiting together share one transaction, and a failed transaction fails each of them.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { GroupCommit } from '../../bench/peers/group-commit.ts';

describe('GroupCommit', () => {
  test('64 writers in a loop: after the first turn, each commit carries all 64', async () => {
    const batches: number[] = [];
    const group = new GroupCommit<number>((items) => batches.push(items.length));
    await Promise.all(
      Array.from({ length: 64 }, async (_, w) => {
        for (let i = 0; i < 5; i++) await group.submit(w);
      }),
    );
    assert.deepEqual(batches, [64, 64, 64, 64, 64]);
    assert.equal(group.items, 320);
    assert.equal(group.commits, 5);
  });

  test('a commit that throws rejects every insert of its batch, and the next batch still commits', async () => {
    let fail = true;
    const committed: number[][] = [];
    const group = new GroupCommit<number>((items) => {
      if (fail) throw new Error('disk full');
      committed.push([...items]);
    });
    const first = await Promise.allSettled([group.submit(1), group.submit(2)]);
    assert.deepEqual(
      first.map((r) => r.status),
      ['rejected', 'rejected'],
    );
    fail = false;
    await group.submit(3);
    assert.deepEqual(committed, [[3]]);
  });
});
