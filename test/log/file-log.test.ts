// FileLog on disk: reopen, segments, compaction, snapshots, directory checks.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFile, readdir, readFile, writeFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { openFileLog, type LogStorage } from '../../src/log/index.ts';
import { decodeAllRecords, decodeRecords } from '../../src/log/record-scanner.ts';
import { sectorCrcs } from '../../src/log/write-end.ts';
import { entriesOf } from '../../src/log/compact-entries.ts';
import { RaftLog } from '../../src/raft/raft-log.ts';
import { entry, meta, plain, range, withTempDir, writeLogWithSnapshot } from './helpers.ts';

async function segmentNames(dir: string): Promise<string[]> {
  return (await readdir(join(dir, 'log'))).sort();
}

async function reopen(dir: string, segmentBytes?: number): Promise<LogStorage> {
  return openFileLog(segmentBytes === undefined ? { dir } : { dir, segmentBytes });
}

describe('FileLog', () => {
  test('reopens with the same entries and hard state', () =>
    withTempDir(async (dir) => {
      const log = await openFileLog({ dir });
      await log.append(range(1, 50, 1));
      await log.setHardState({ term: 1, vote: 3, commit: 40 });
      await log.append([entry(51, 2, 'x', 'noop')]);
      await log.close();
      const again = await reopen(dir);
      assert.deepEqual(plain(again.recovered.entries), plain([...range(1, 50, 1), entry(51, 2, 'x', 'noop')]));
      assert.deepEqual(again.recovered.hardState, { term: 1, vote: 3, commit: 40 });
      assert.deepEqual(again.hardState(), { term: 1, vote: 3, commit: 40 });
      assert.equal(again.lastIndex(), 51);
      assert.deepEqual(again.recovered.warnings, []);
      assert.deepEqual(await segmentNames(dir), ['00000000000000000001.seg']);
      await again.close();
    }));

  test('a later record for an earlier index overwrites the suffix at recovery', () =>
    withTempDir(async (dir) => {
      const log = await openFileLog({ dir });
      await log.append(range(1, 10, 1));
      await log.append([entry(6, 2), entry(7, 2)]);
      await log.append([entry(8, 3)]);
      await log.close();
      const again = await reopen(dir);
      assert.deepEqual(plain(again.recovered.entries), plain([...range(1, 5, 1), entry(6, 2), entry(7, 2), entry(8, 3)]));
      await again.close();
    }));

  test("entries recovery cannot keep compact (not in the writer's usual form) reopen the same, and a core restarts from them", () =>
    withTempDir(async (dir) => {
      // A term of 2^32 or more is written as a msgpack float64, which the compact path does
      // not read: those entries come back as Entry objects after the compact ones.
      const big = 2 ** 32 + 5;
      const written = [...range(1, 20, 1), ...range(21, 25, big), entry(26, big + 1, 'last', 'noop')];
      const log = await openFileLog({ dir });
      await log.append(written);
      await log.close();
      const again = await reopen(dir);
      assert.deepEqual(plain(again.recovered.entries), plain(written));
      const restart = again.restartEntries();
      assert.ok(Array.isArray(restart), 'compact and Entry objects mixed: the restart view is an array');
      assert.deepEqual(plain(entriesOf(restart)), plain(written));
      assert.equal(again.term(22), big);
      assert.equal(again.term(20), 1);
      assert.deepEqual(plain(again.entries(18, 24)), plain(written.slice(17, 23)));
      // The core reads them back the same through its restart view.
      const core = new RaftLog(null, again.restartEntries(), 0);
      assert.deepEqual(plain(core.slice(1, 27)), plain(written));
      await again.close();
    }));

  test('recovered.entries answers until the first write, then lets the entries go', () =>
    withTempDir(async (dir) => {
      const log = await openFileLog({ dir });
      await log.append(range(1, 5, 1));
      await log.close();
      const again = await reopen(dir);
      assert.equal(again.recovered.entries.length, 5);
      await again.append([entry(6, 1)]);
      assert.throws(() => again.recovered.entries, /until the first write/);
      await again.close();
    }));

  test('close flushes appends nobody awaited', () =>
    withTempDir(async (dir) => {
      const log = await openFileLog({ dir, sync: 'none' });
      const pending = [log.append(range(1, 3, 1)), log.setHardState({ term: 1, vote: 1, commit: 2 })];
      await log.close();
      await Promise.all(pending);
      const again = await reopen(dir);
      assert.equal(again.lastIndex(), 3);
      assert.equal(again.hardState().commit, 2);
      await again.close();
    }));

  test('rolls segments; the hard state survives deletion of old segments', () =>
    withTempDir(async (dir) => {
      const log = await openFileLog({ dir, segmentBytes: 1024 });
      await log.setHardState({ term: 5, vote: 2, commit: 0 });
      for (let i = 1; i <= 200; i += 10) await log.append(range(i, i + 9, 5));
      const names = await segmentNames(dir);
      assert.ok(names.length > 3, `expected several segments, got ${names.length}`);
      assert.equal(names[0], '00000000000000000001.seg');
      await log.installSnapshot(meta(150, 5), new Uint8Array([7]));
      const after = await segmentNames(dir);
      assert.ok(after.length < names.length, 'old segments were deleted');
      assert.ok(!after.includes(names[0]!));
      assert.equal(log.firstIndex(), 151);
      await log.close();
      const again = await reopen(dir, 1024);
      assert.deepEqual(again.recovered.hardState, { term: 5, vote: 2, commit: 0 });
      assert.equal(again.recovered.snapshot?.meta.index, 150);
      assert.deepEqual(plain(again.recovered.entries), plain(range(151, 200, 5)));
      assert.equal(again.firstIndex(), 151);
      assert.equal(again.term(150), 5);
      await again.close();
    }));

  test('snapshot that discards the log, followed by new entries, survives reopen', () =>
    withTempDir(async (dir) => {
      const log = await openFileLog({ dir });
      await log.append(range(1, 30, 1));
      await log.installSnapshot(meta(20, 2), new Uint8Array([1, 2]));
      await log.append(range(21, 25, 2));
      await log.close();
      const again = await reopen(dir);
      assert.deepEqual(plain(again.recovered.entries), plain(range(21, 25, 2)));
      assert.deepEqual([...again.recovered.snapshot!.data], [1, 2]);
      assert.deepEqual(again.recovered.snapshot!.meta, meta(20, 2));
      await again.close();
    }));

  test('releaseSnapshotData: the bytes are read from the file when asked, for the recovered snapshot and later ones', () =>
    withTempDir(async (dir) => {
      await writeLogWithSnapshot(dir, 30, meta(10, 1), new Uint8Array([1, 2, 3]));
      const again = await reopen(dir);
      again.releaseSnapshotData!();
      assert.deepEqual([...again.snapshot()!.data], [1, 2, 3]);
      assert.deepEqual([...again.recovered.snapshot!.data], [1, 2, 3]);
      await again.installSnapshot(meta(20, 1), new Uint8Array([4, 5]));
      // The recovered snapshot's file is gone with it: asking for it says so.
      assert.throws(() => again.recovered.snapshot, /only available until a snapshot is installed/);
      assert.deepEqual(again.snapshot()!.meta, meta(20, 1));
      assert.deepEqual([...again.snapshot()!.data], [4, 5]);
      assert.equal(again.stats!().snapshotBytes, 2);
      // Nothing kept in memory: the file is what answers (damaged, it says so).
      const file = join(dir, 'snapshots', '00000000000000000020-1.snap');
      const bytes = await readFile(file);
      bytes[bytes.length - 1] = bytes[bytes.length - 1]! ^ 0xff;
      await writeFile(file, bytes);
      assert.throws(() => again.snapshot()!.data, /checksum mismatch/);
      await again.close();
    }));

  test('keeps only the newest snapshot file', () =>
    withTempDir(async (dir) => {
      const log = await openFileLog({ dir });
      await log.append(range(1, 30, 1));
      await log.installSnapshot(meta(10, 1), new Uint8Array([1]));
      await log.installSnapshot(meta(20, 1), new Uint8Array([2]));
      assert.deepEqual(await readdir(join(dir, 'snapshots')), ['00000000000000000020-1.snap']);
      await log.close();
    }));

  test('a crash between snapshot file and marker still compacts at recovery', () =>
    withTempDir(async (dir) => {
      // Make the snapshot file with another log, then drop it into this one's directory.
      await withTempDir(async (other) => {
        const donor = await openFileLog({ dir: other });
        await donor.installSnapshot(meta(10, 1), new Uint8Array([4]));
        await donor.close();
        const log = await openFileLog({ dir });
        await log.append(range(1, 15, 1));
        await log.close();
        await copyFile(join(other, 'snapshots', '00000000000000000010-1.snap'), join(dir, 'snapshots', '00000000000000000010-1.snap'));
      });
      const again = await reopen(dir);
      assert.equal(again.firstIndex(), 11);
      assert.deepEqual(plain(again.recovered.entries), plain(range(11, 15, 1)));
      await again.close();
    }));

  test('refuses a directory it cannot create', () =>
    withTempDir(async (dir) => {
      await writeFile(join(dir, 'file'), 'x');
      await assert.rejects(openFileLog({ dir: join(dir, 'file', 'sub') }), /cannot create log directory/);
    }));

  test('refuses files that are not ours', () =>
    withTempDir(async (dir) => {
      await mkdir(join(dir, 'log'), { recursive: true });
      await writeFile(join(dir, 'log', 'notes.txt'), 'x');
      await assert.rejects(openFileLog({ dir }), /unexpected file .*notes\.txt/);
    }));

  test('records are written as framed records readable by the decoder', () =>
    withTempDir(async (dir) => {
      const log = await openFileLog({ dir });
      await log.append(range(1, 3, 1));
      await log.setHardState({ term: 1, vote: 1, commit: 3 });
      await log.close();
      const bytes = await readFile(join(dir, 'log', '00000000000000000001.seg'));
      const decoded = decodeAllRecords(bytes);
      // the records, each write ended by a writeEnd naming where it began, then the
      // zero-filled space ahead of the next ones
      assert.equal(decoded.stop?.offset, decoded.end);
      assert.ok(bytes.length > decoded.end);
      assert.ok(bytes.subarray(decoded.end).every((b) => b === 0));
      assert.deepEqual(
        decoded.records.map((r) => r.kind),
        // a new file starts with a writeEnd of its own, so that recovery knows every
        // write after it ends with one
        ['writeEnd', 'entry', 'entry', 'entry', 'writeEnd', 'hardState', 'writeEnd'],
      );
      // every write begins on a sector boundary (zeros pad the one before)
      const starts = decoded.records.flatMap((r) => (r.kind === 'writeEnd' ? [r.start] : []));
      assert.deepEqual(starts, [0, 512, 1024]);
      // each writeEnd holds a CRC of each sector its write covers, up to the writeEnd
      const ends: number[] = [];
      decodeRecords(bytes, (record, offset) => {
        if (record.kind === 'writeEnd') ends.push(offset);
      });
      const second = decoded.records[4]!;
      assert.ok(second.kind === 'writeEnd');
      assert.ok(ends[1]! > 512 + 3 * 9);
      assert.deepEqual([...second.sectors], [...sectorCrcs(bytes.subarray(512, ends[1]), 512)]);
      assert.equal(second.sectors.length, 4 * Math.ceil((ends[1]! - 512) / 512));
    }));
});
