// Damaged files at open: a torn tail is truncated with a warning; damage
// anywhere else refuses to open, naming the file and the byte offset.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFile, copyFile, readdir, readFile, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { openFileLog, LogCorruptionError } from '../../src/log/index.ts';
import { decodeRecords } from '../../src/log/record-scanner.ts';
import { entry, meta, plain, range, withTempDir } from './helpers.ts';

const SEG1 = '00000000000000000001.seg';

/** Byte offsets of the entry records in a segment file (other records left out). */
async function recordOffsets(path: string): Promise<number[]> {
  const offsets: number[] = [];
  decodeRecords(await readFile(path), (record, offset) => {
    if (record.kind === 'entry') offsets.push(offset);
  });
  return offsets;
}

/** Byte offsets of the writeEnd records (one ends every write) in a segment file. */
async function writeEndOffsets(path: string): Promise<number[]> {
  const offsets: number[] = [];
  decodeRecords(await readFile(path), (record, offset) => {
    if (record.kind === 'writeEnd') offsets.push(offset);
  });
  return offsets;
}

async function flipByte(path: string, at: number): Promise<void> {
  const bytes = await readFile(path);
  bytes[at]! ^= 0x5a;
  await writeFile(path, bytes);
}

async function writeLog(dir: string, count: number, segmentBytes?: number): Promise<void> {
  const log = await openFileLog(segmentBytes === undefined ? { dir } : { dir, segmentBytes });
  for (let i = 1; i <= count; i += 5) await log.append(range(i, Math.min(i + 4, count), 1));
  await log.close();
}

describe('FileLog recovery from damage', () => {
  test('a flipped byte in the last record (the end of the last write): truncated with a warning, no entry lost', () =>
    withTempDir(async (dir) => {
      await writeLog(dir, 20);
      const path = join(dir, 'log', SEG1);
      const ends = await writeEndOffsets(path);
      const lastEnd = ends.at(-1)!;
      await flipByte(path, lastEnd + 12);
      const warnings: string[] = [];
      const log = await openFileLog({ dir, onWarning: (m) => warnings.push(m) });
      assert.deepEqual(plain(log.recovered.entries), plain(range(1, 20, 1)));
      assert.equal(warnings.length, 1);
      assert.deepEqual(log.recovered.warnings, warnings);
      assert.match(warnings[0]!, new RegExp(`truncated .*${SEG1} at byte offset ${lastEnd} \\(bad-crc`));
      // the file was cut there and the log continues cleanly
      await log.append(range(21, 22, 2));
      await log.close();
      const again = await openFileLog({ dir });
      assert.deepEqual(again.recovered.warnings, []);
      assert.deepEqual(plain(again.recovered.entries), plain([...range(1, 20, 1), ...range(21, 22, 2)]));
      await again.close();
    }));

  test('a flipped byte in the last entry, its write ended intact: refuses (that write finished, so it was acknowledged)', () =>
    withTempDir(async (dir) => {
      await writeLog(dir, 20);
      const path = join(dir, 'log', SEG1);
      const offsets = await recordOffsets(path);
      const size = (await readFile(path)).length;
      await flipByte(path, offsets[19]! + 12);
      await assert.rejects(openFileLog({ dir }), (error: unknown) => {
        assert.ok(error instanceof LogCorruptionError);
        assert.equal(error.offset, offsets[19]);
        assert.match(error.message, /neither what it wrote there nor zeros \(not a torn write\)/);
        return true;
      });
      assert.equal((await readFile(path)).length, size, 'nothing was truncated');
    }));

  test('a flipped byte in the middle: refuses to open, naming file and offset', () =>
    withTempDir(async (dir) => {
      await writeLog(dir, 20);
      const path = join(dir, 'log', SEG1);
      const offsets = await recordOffsets(path);
      await flipByte(path, offsets[7]! + 10);
      await assert.rejects(openFileLog({ dir }), (error: unknown) => {
        assert.ok(error instanceof LogCorruptionError);
        assert.equal(error.file, path);
        assert.equal(error.offset, offsets[7]);
        assert.match(error.message, new RegExp(`${path}.*offset ${offsets[7]}`));
        return true;
      });
      // nothing was truncated
      assert.equal((await recordOffsets(path)).length, 7);
      assert.equal((await readFile(path)).length > offsets[19]!, true);
    }));

  // With sync 'none' a write extends the file, and a kill (or a power loss) stops it at a
  // page boundary: the file then ends inside a record there. (With zero fill no write
  // extends the file; a file cut inside a record elsewhere is refused: open-refusals.test.ts.)
  test('a write that extended the file, cut at a page boundary inside a record (sync none, kill -9): recovers', () =>
    withTempDir(async (dir) => {
      const log = await openFileLog({ dir, sync: 'none' });
      await log.append(range(1, 5, 1));
      await log.append(range(6, 40, 1).map((e) => entry(e.index, 1, 'x'.repeat(300))));
      await log.close();
      const path = join(dir, 'log', SEG1);
      const offsets = await recordOffsets(path);
      const cut = 8192;
      const inside = offsets.findIndex((offset, i) => offset < cut && (offsets[i + 1] ?? Infinity) > cut);
      assert.ok(inside > 5 && offsets[inside]! < cut && offsets[inside + 1]! > cut, 'the page boundary falls inside an entry record');
      await truncate(path, cut);
      const reopened = await openFileLog({ dir });
      assert.equal(reopened.lastIndex(), inside); // entries 1..inside (entry inside + 1 was cut)
      assert.match(reopened.recovered.warnings[0]!, new RegExp(`offset ${offsets[inside]} \\(torn; nothing valid after it`));
      assert.equal((await readFile(path)).length, offsets[inside]);
      await reopened.close();
    }));

  test('zeros after the last record are its clean end; garbage there is truncated', () =>
    withTempDir(async (dir) => {
      await writeLog(dir, 10);
      const path = join(dir, 'log', SEG1);
      const end = decodeRecords(await readFile(path), () => {}).end;
      await appendFile(path, Buffer.alloc(4096));
      const size = (await readFile(path)).length;
      let log = await openFileLog({ dir });
      assert.equal(log.lastIndex(), 10);
      assert.deepEqual(log.recovered.warnings, []);
      await log.close();
      assert.equal((await readFile(path)).length, size, 'the zero tail is kept');
      await appendFile(path, Buffer.from('garbage that is not a record at all'));
      log = await openFileLog({ dir });
      assert.equal(log.lastIndex(), 10);
      assert.match(log.recovered.warnings[0]!, new RegExp(`truncated .* at byte offset ${end} \\(bad-length`));
      await log.close();
      assert.equal((await readFile(path)).length, end);
    }));

  test('damage in a segment that is not the last one refuses to open', () =>
    withTempDir(async (dir) => {
      await writeLog(dir, 100, 1024);
      const names = (await readdir(join(dir, 'log'))).sort();
      assert.ok(names.length >= 3);
      const path = join(dir, 'log', names[0]!);
      const offsets = await recordOffsets(path);
      const last = offsets.at(-1)!;
      await flipByte(path, last + 11); // the last record of a non-last segment
      await assert.rejects(openFileLog({ dir, segmentBytes: 1024 }), (error: unknown) => {
        assert.ok(error instanceof LogCorruptionError);
        assert.equal(error.file, path);
        assert.equal(error.offset, last);
        return true;
      });
    }));

  test('a corrupt newest snapshot falls back to an older valid one with a warning', () =>
    withTempDir(async (dir) => {
      const log = await openFileLog({ dir });
      await log.append(range(1, 30, 1));
      await log.installSnapshot(meta(5, 1), new Uint8Array([5]));
      const older = join(dir, 'snapshots', '00000000000000000005-1.snap');
      await copyFile(older, join(dir, 'older.copy'));
      await log.installSnapshot(meta(10, 1), new Uint8Array([10]));
      await log.close();
      await copyFile(join(dir, 'older.copy'), older);
      const newest = join(dir, 'snapshots', '00000000000000000010-1.snap');
      const bytes = await readFile(newest);
      await flipByte(newest, bytes.length - 1);
      const warnings: string[] = [];
      const again = await openFileLog({ dir, onWarning: (m) => warnings.push(m) });
      assert.equal(again.recovered.snapshot?.meta.index, 5);
      assert.deepEqual(plain(again.recovered.entries), plain(range(6, 30, 1)));
      assert.match(warnings.join('\n'), new RegExp(`${newest}.*corrupt.*using the older snapshot`));
      await again.close();
    }));

  test('a corrupt snapshot with no other refuses to open, naming the file', () =>
    withTempDir(async (dir) => {
      const log = await openFileLog({ dir });
      await log.append(range(1, 10, 1));
      await log.installSnapshot(meta(8, 1), new Uint8Array([1, 2, 3, 4]));
      await log.close();
      const path = join(dir, 'snapshots', '00000000000000000008-1.snap');
      await flipByte(path, 30);
      await assert.rejects(openFileLog({ dir }), new RegExp(`${path} is corrupt`));
    }));
});
