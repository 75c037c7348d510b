// A snapshot file that cannot be written whole leaves nothing behind: on a full disk, a
// partial temporary file would keep the disk full (recovery removes one only at the next open).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeSnapshotFile } from '../../src/log/snapshot-file.ts';
import { snapshotFileName } from '../../src/log/segment-files.ts';
import { meta, withTempDir } from './helpers.ts';

test('a snapshot write that fails removes its temporary file and rejects with the file system error', () =>
  withTempDir(async (dir) => {
    // A non-empty directory under the final name: the rename fails after the data was written.
    const blocker = join(dir, snapshotFileName(7, 1));
    await mkdir(blocker);
    await writeFile(join(blocker, 'x'), 'x');
    await assert.rejects(writeSnapshotFile(dir, meta(7, 1), new Uint8Array(100_000)), (error: unknown) => {
      assert.match(String((error as { code?: unknown }).code), /^E[A-Z]+$/);
      return true;
    });
    assert.deepEqual(await readdir(dir), [snapshotFileName(7, 1)], 'no .tmp file left');
  }));
