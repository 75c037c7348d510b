// A conflicting suffix removed (it spans into a later segment), then a snapshot that deletes
// the segment before: after a clean close and reopen the removed entries are back.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openFileLog } from '../../src/log/index.ts';
import type { Entry } from '../../src/raft/types.ts';

function e(index: number, term: number): Entry {
  return { index, term, type: 'normal', data: new Uint8Array(200).fill(index & 0xff) };
}
const conf = { voters: [1], learners: [] };

test('truncated suffix in a kept segment comes back after compaction', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'review-trunc-'));
  try {
    const log = await openFileLog({ dir, segmentBytes: 8192 });
    await log.setHardState({ term: 1, vote: 1, commit: 0 });
    const segs = async () => (await readdir(join(dir, 'log'))).sort();
    let last = 0;
    // write until the first roll: the entry that rolled starts the second segment
    while ((await segs()).length < 2) {
      await log.append([e(last + 1, 1)]);
      last++;
    }
    const p = last - 1; // the last entry of segment 1
    // more entries (of the old term) until the second roll: segment 2 holds p+1..t-1, segment 3 begins with t
    while ((await segs()).length < 3) await log.append([e(++last, 1)]);
    // a new leader (term 2) overwrites from p - 1: every entry after p - 1 is removed
    await log.setHardState({ term: 2, vote: 2, commit: p - 2 });
    await log.append([e(p - 1, 2), e(p, 2)]);
    await log.setHardState({ term: 2, vote: 2, commit: p });
    console.log('before snapshot', await segs(), 'last', log.lastIndex(), 'term(last)', log.term(log.lastIndex()));
    await log.installSnapshot({ index: p, term: 2, conf }, new Uint8Array([1]));
    console.log('after snapshot', await segs(), 'last', log.lastIndex());
    const expected = log.lastIndex();
    await log.close();
    const again = await openFileLog({ dir, segmentBytes: 8192 });
    const terms: (number | undefined)[] = [];
    for (let i = again.firstIndex(); i <= again.lastIndex(); i++) terms.push(again.term(i));
    console.log('reopened: first', again.firstIndex(), 'last', again.lastIndex(), 'terms', terms);
    assert.equal(again.lastIndex(), expected, 'the removed entries must stay removed');
    await again.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
