// A snapshot marker that opens a new segment (its batch rolled the segment), whose index is
// below entries of the segment before it; a later snapshot deletes that older segment; the
// log no longer opens. No lazy commit record involved, clean close.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openFileLog } from '../../src/log/index.ts';
import type { Entry } from '../../src/raft/types.ts';

function e(index: number, term: number, bytes = 200): Entry {
  return { index, term, type: 'normal', data: new Uint8Array(bytes).fill(index & 0xff) };
}
const conf = { voters: [1], learners: [] };

test('marker-only batch rolls; older segment deleted by a later snapshot; reopen', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'review-marker-'));
  try {
    const segmentBytes = 8192;
    const log = await openFileLog({ dir, segmentBytes, sync: (process.env.SYNC as 'none' | 'batch') ?? 'batch' });
    await log.setHardState({ term: 1, vote: 1, commit: 0 });
    let last = 0;
    const segs = async () => (await readdir(join(dir, 'log'))).length;
    // entries, one per write, until the log has rolled once and holds 40 entries
    while ((await segs()) < 2 || last < 40) {
      await log.append([e(last + 1, 1)]);
      last++;
    }
    await log.setHardState({ term: 1, vote: 1, commit: last });
    // marker-only batches (local snapshots below the last index) until one rolls the segment
    let rolledOnMarker = false;
    let snap = 0;
    for (let i = 0; i < 40 && !rolledOnMarker; i++) {
      const before = await segs();
      snap = 5 + i;
      await log.installSnapshot({ index: snap, term: 1, conf }, new Uint8Array([1]));
      rolledOnMarker = (await segs()) > before;
    }
    assert.ok(rolledOnMarker, 'a marker batch rolled the segment');
    console.log('rolled on the marker of snapshot', snap, 'last entry', last, await readdir(join(dir, 'log')));
    // entries after it, in the new segment
    await log.append([e(last + 1, 1), e(last + 2, 1)]);
    last += 2;
    await log.setHardState({ term: 1, vote: 1, commit: last });
    // a snapshot at the last index: the older segment (all its entries <= last) is deleted
    await log.installSnapshot({ index: last, term: 1, conf }, new Uint8Array([2]));
    console.log('segments', await readdir(join(dir, 'log')));
    await log.close();
    const again = await openFileLog({ dir, segmentBytes });
    assert.equal(again.lastIndex(), last);
    await again.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
