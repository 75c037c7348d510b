// Every way recovery refuses to open a log throws LogCorruptionError naming the file (and
// the byte offset) at fault, as docs/durability.md promises: not a plain Error, and not a
// decoder's or a file system's error escaping.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { crc32c } from '@node-rs/crc32';
import { mkdir, readdir, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { openFileLog, LogCorruptionError, LogReadError } from '../../src/log/index.ts';
import { encodeRecords, RECORD_HEADER_BYTES, RecordType, type LogRecord } from '../../src/log/record.ts';
import { decodeRecords } from '../../src/log/record-scanner.ts';
import { MAX_WRITE_BYTES } from '../../src/log/preallocation.ts';
import { entry, meta, range, withTempDir, writeLogWithSnapshot } from './helpers.ts';

const SEG1 = '00000000000000000001.seg';

/** A record framed by hand: a valid length and CRC around any type and payload. */
function frame(type: number, payload: Uint8Array): Buffer {
  const out = Buffer.alloc(RECORD_HEADER_BYTES + payload.length);
  out.writeUInt32LE(payload.length, 0);
  out[8] = type;
  out.set(payload, RECORD_HEADER_BYTES);
  out.writeUInt32LE(crc32c(out.subarray(8)) >>> 0, 4);
  return out;
}

const entries = (from: number, to: number): LogRecord[] => range(from, to, 1).map((e) => ({ kind: 'entry', entry: e }));

/** Writes segment `name` of the log in `dir` with these bytes (as a version without writeEnd records would). */
async function writeSegment(dir: string, name: string, bytes: Uint8Array): Promise<string> {
  await mkdir(join(dir, 'log'), { recursive: true });
  const path = join(dir, 'log', name);
  await writeFile(path, bytes);
  return path;
}

/** Asserts that opening the log in `dir` refuses with a LogCorruptionError for `file` (at `offset`). */
async function refuses(dir: string, file: string, message: RegExp, offset?: number): Promise<void> {
  await assert.rejects(openFileLog({ dir }), (error: unknown) => {
    assert.ok(error instanceof LogCorruptionError, `not a LogCorruptionError: ${String(error)}`);
    assert.equal(error.file, file);
    if (offset !== undefined) assert.equal(error.offset, offset);
    assert.match(error.message, message);
    return true;
  });
}

/** Opening fails with a LogReadError naming `file`: it could not be read, nothing was judged damaged. */
async function cannotRead(dir: string, file: string): Promise<void> {
  await assert.rejects(openFileLog({ dir }), (error: unknown) => {
    assert.ok(error instanceof LogReadError, `not a LogReadError: ${String(error)}`);
    assert.ok(!(error instanceof LogCorruptionError));
    assert.equal(error.file, file);
    assert.match(error.message, new RegExp(`cannot read ${file}: .*EISDIR`));
    return true;
  });
}

const escape = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Where the records of segment `path` end (the writer's data end, before the zeros after it). */
async function recordsEnd(path: string): Promise<number> {
  return decodeRecords(await readFile(path), () => {}).end;
}

/** Writes entries 1..count in batches of five, across segments of `segmentBytes`. */
async function writeLog(dir: string, count: number, segmentBytes: number): Promise<string[]> {
  const log = await openFileLog({ dir, segmentBytes });
  for (let i = 1; i <= count; i += 5) await log.append(range(i, Math.min(i + 4, count), 1));
  await log.close();
  return (await readdir(join(dir, 'log'))).sort().map((name) => join(dir, 'log', name));
}

describe('LogCorruptionError for every refusal at open', () => {
  test('the last record has a valid CRC but a payload that is not msgpack: refused, not cut as a torn tail', () =>
    withTempDir(async (dir) => {
      const good = encodeRecords(entries(1, 3));
      const path = await writeSegment(dir, SEG1, Buffer.concat([good, frame(RecordType.entry, Uint8Array.from([0xc1]))]));
      await refuses(dir, path, /bad-payload record whose checksum holds/, good.length);
      assert.equal((await readFile(path)).length, good.length + RECORD_HEADER_BYTES + 1, 'nothing was truncated');
    }));

  test('a record with a valid CRC whose msgpack is not a hard state: refused', () =>
    withTempDir(async (dir) => {
      const good = encodeRecords(entries(1, 3));
      const bad = frame(RecordType.hardState, Uint8Array.from([0x93, 1, 2, 3])); // an array, not the map of a hard state
      const path = await writeSegment(dir, SEG1, Buffer.concat([good, bad, encodeRecords(entries(4, 5))]));
      await refuses(dir, path, /bad-payload record whose checksum holds/, good.length);
    }));

  test('the last record has a valid CRC and a type this version does not know: refused (a newer version wrote it)', () =>
    withTempDir(async (dir) => {
      const good = encodeRecords(entries(1, 3));
      const path = await writeSegment(dir, SEG1, Buffer.concat([good, frame(99, Uint8Array.from([1, 2, 3]))]));
      await refuses(dir, path, /record of type 99, which this version does not know/, good.length);
    }));

  test('a hard state whose commit index is beyond the last entry recovered: refused, saying what is missing', () =>
    withTempDir(async (dir) => {
      const head = encodeRecords(entries(1, 3));
      const hardState: LogRecord = { kind: 'hardState', state: { term: 1, vote: 1, commit: 10 } };
      const path = await writeSegment(dir, SEG1, Buffer.concat([head, encodeRecords([hardState])]));
      await refuses(dir, path, /commits index 10, but the log recovered ends at index 3: committed entries are missing/, head.length);
    }));

  test('a segment cut in half, the next one holding only the hard state: refused (the Raft core would stop at start)', () =>
    withTempDir(async (dir) => {
      const hardState: LogRecord = { kind: 'hardState', state: { term: 1, vote: 1, commit: 10 } };
      const first = encodeRecords([...entries(1, 10), hardState]);
      let half = 0;
      decodeRecords(first, (record, _offset, end) => {
        if (record.kind === 'entry' && record.entry.index === 5) half = end;
      });
      const cutFirst = await writeSegment(dir, SEG1, first.subarray(0, half));
      // A new segment begins with the hard state as of the end of the previous one.
      const second = await writeSegment(dir, '00000000000000000011.seg', encodeRecords([hardState]));
      await refuses(dir, second, /commits index 10, but the log recovered ends at index 5/, 0);
      assert.equal((await readFile(cutFirst)).length, half, 'nothing was truncated');
    }));

  test('a segment missing between two others (a gap in the names): refused at the end of the one before the gap', () =>
    withTempDir(async (dir) => {
      const paths = await writeLog(dir, 60, 1024);
      assert.ok(paths.length >= 3);
      const end = await recordsEnd(paths[0]!);
      await rm(paths[1]!);
      await refuses(
        dir,
        paths[0]!,
        new RegExp(`the next segment ${escape(paths[2]!)} begins with entry \\d+ \\(which leaves a gap after index`),
        end,
      );
    }));

  // A segment in the middle of the log cut short by hand (or by a file system that lost its
  // end) is not a torn write: a crash only ever tears the last segment, whose writes come last.
  for (const where of ['at half its length', 'at a third of its records', 'inside a record'] as const) {
    test(`the second of four segments cut ${where}: refused, naming that segment, the offset and what to do`, () =>
      withTempDir(async (dir) => {
        const paths = await writeLog(dir, 200, 4096);
        assert.ok(paths.length >= 4, `${paths.length} segments`);
        const cut = paths[1]!;
        const length = (await stat(cut)).size;
        const offsets: number[] = [];
        const { end } = decodeRecords(await readFile(cut), (_record, offset) => offsets.push(offset));
        const at =
          where === 'at half its length'
            ? Math.floor(length / 2)
            : where === 'at a third of its records'
              ? Math.floor(end / 3)
              : offsets[Math.floor(offsets.length / 2)]! + 13;
        assert.ok(at < end, `the cut at ${at} drops records (they end at ${end})`);
        await truncate(cut, at);
        const sizes = await Promise.all(paths.map(async (p) => (await stat(p)).size));
        await assert.rejects(openFileLog({ dir, segmentBytes: 4096 }), (error: unknown) => {
          assert.ok(error instanceof LogCorruptionError, `not a LogCorruptionError: ${String(error)}`);
          assert.equal(error.file, cut, error.message);
          assert.ok(error.offset <= at, `offset ${error.offset} is within what is left (${at})`);
          assert.match(error.message, new RegExp(`^log corruption in ${escape(cut)} at byte offset ${error.offset}: `));
          assert.match(error.message, /cut short|not the last one/);
          assert.match(error.message, /What to do: .*DELETE \/cluster\/members\/<id>.*--join/);
          assert.match(error.message, new RegExp(`truncate -s ${error.offset} ${escape(cut)}`));
          assert.match(error.remedy, /docs\/durability\.md/);
          return true;
        });
        const after = await Promise.all(paths.map(async (p) => (await stat(p)).size));
        assert.deepEqual(after, sizes, 'nothing was truncated');
      }));
  }

  // The last segment cut short: a crash leaves its file ending inside a record only at a page
  // boundary (preallocation.ts), so anywhere else it was cut by hand or by a copy cut short, and
  // dropping the records after the cut (as for a torn write) would lose acknowledged entries.
  for (const where of ['at half its length', 'at an odd offset inside a record'] as const) {
    test(`the last segment cut ${where}: refused, naming the segment, the offset, its length and what to do`, () =>
      withTempDir(async (dir) => {
        // A 12 KiB segment is zero-filled to 12288 bytes, so half its length is not a page
        // boundary; and a write of 500-byte entries over that half puts it inside a record.
        const segmentBytes = 3 * 4096;
        const paths = await writeLog(dir, 10, segmentBytes);
        const log = await openFileLog({ dir, segmentBytes });
        await log.append(range(11, 24, 1).map((e) => entry(e.index, 1, 'z'.repeat(500))));
        await log.close();
        const last = paths.at(-1)!;
        const length = (await stat(last)).size;
        assert.equal(length, segmentBytes);
        const records: { offset: number; end: number }[] = [];
        const { end } = decodeRecords(await readFile(last), (_record, offset, recordEnd) => records.push({ offset, end: recordEnd }));
        const at = where === 'at half its length' ? length / 2 : records[Math.floor(records.length / 2)]!.offset + 13;
        const cutRecord = records.find((record) => record.offset < at && record.end > at)?.offset;
        assert.ok(at % 4096 !== 0 && at < end && cutRecord !== undefined, `the cut at ${at} is inside a record (they end at ${end})`);
        await truncate(last, at);
        const sizes = await Promise.all(paths.map(async (p) => (await stat(p)).size));
        await assert.rejects(openFileLog({ dir, segmentBytes }), (error: unknown) => {
          assert.ok(error instanceof LogCorruptionError, `not a LogCorruptionError: ${String(error)}`);
          assert.equal(error.file, last, error.message);
          assert.equal(error.offset, cutRecord);
          assert.match(error.message, new RegExp(`^log corruption in ${escape(last)} at byte offset ${cutRecord}: `));
          assert.match(error.message, new RegExp(`the file ends inside the record at offset ${cutRecord}, at a length of ${at} bytes`));
          assert.match(error.message, /cut short/);
          assert.doesNotMatch(error.message, /torn/);
          assert.match(error.message, /What to do: .*DELETE \/cluster\/members\/<id>.*--join/);
          assert.match(error.remedy, new RegExp(`truncate -s ${cutRecord} ${escape(last)}`));
          return true;
        });
        const after = await Promise.all(paths.map(async (p) => (await stat(p)).size));
        assert.deepEqual(after, sizes, 'nothing was truncated');
      }));
  }

  test('a last segment that a partial zero fill left at any length (a power loss while extending it): opens clean', () =>
    withTempDir(async (dir) => {
      const segmentBytes = 3 * 4096;
      const paths = await writeLog(dir, 60, segmentBytes);
      const last = paths.at(-1)!;
      const end = await recordsEnd(last);
      assert.ok(end + 1000 < segmentBytes);
      await truncate(last, end + 1000 + 37); // zeros after the data, to no page boundary
      const log = await openFileLog({ dir, segmentBytes });
      assert.deepEqual(log.recovered.warnings, []);
      assert.equal(log.lastIndex(), 60);
      await log.close();
    }));

  test('a segment without write ends (an older version, no zero fill) that ends inside a record: a torn tail, cut with a warning', () =>
    withTempDir(async (dir) => {
      const good = encodeRecords(entries(1, 3));
      const path = await writeSegment(dir, SEG1, Buffer.concat([good, encodeRecords(entries(4, 4)).subarray(0, 13)]));
      const log = await openFileLog({ dir });
      assert.equal(log.lastIndex(), 3);
      assert.match(log.recovered.warnings[0] ?? '', new RegExp(`truncated the torn tail of ${escape(path)} at byte offset ${good.length} \\(torn`));
      await log.close();
    }));

  test('a sync none write that an earlier version split on sector boundaries, cut between its pieces (1 MiB in): a torn tail', () =>
    withTempDir(async (dir) => {
      const log = await openFileLog({ dir, sync: 'none' });
      await log.append(range(1, 3, 1));
      await log.close();
      const path = join(dir, 'log', SEG1);
      const start = Math.ceil((await readFile(path)).length / 512) * 512; // where the next write begins
      assert.notEqual((start + MAX_WRITE_BYTES) % 4096, 0);
      // entries of 4000 bytes from there on, as one write of that version would put them, cut after its first piece
      const big = encodeRecords(range(4, 400, 1).map((e): LogRecord => ({ kind: 'entry', entry: entry(e.index, 1, 'y'.repeat(4000)) })));
      await writeFile(path, Buffer.concat([await readFile(path), Buffer.alloc(start - (await stat(path)).size), big.subarray(0, MAX_WRITE_BYTES)]));
      const reopened = await openFileLog({ dir });
      assert.match(reopened.recovered.warnings[0] ?? '', /\(torn; nothing valid after it/);
      assert.ok(reopened.lastIndex() > 200);
      await reopened.close();
    }));

  test('the remedy of a middle segment cut short works: truncate at the named offset, move the later segments away, and it opens', () =>
    withTempDir(async (dir) => {
      const paths = await writeLog(dir, 200, 4096);
      await truncate(paths[1]!, Math.floor((await stat(paths[1]!)).size / 2));
      const error = await openFileLog({ dir, segmentBytes: 4096 }).then(
        () => assert.fail('opened'),
        (e: unknown) => e as LogCorruptionError,
      );
      await truncate(error.file, error.offset);
      for (const later of paths.slice(2)) await rm(later);
      const log = await openFileLog({ dir, segmentBytes: 4096 });
      assert.ok(log.lastIndex() > 0 && log.lastIndex() < 200);
      assert.deepEqual(
        log.entries(log.firstIndex(), log.lastIndex() + 1).map((e) => e.index),
        range(1, log.lastIndex(), 1).map((e) => e.index),
      );
      await log.close();
    }));

  test('the first segments gone with no snapshot to cover them: refused at the one the log now starts in', () =>
    withTempDir(async (dir) => {
      const paths = await writeLog(dir, 60, 1024);
      await rm(paths[0]!);
      await refuses(dir, paths[1]!, /the log starts after index \d+ but the newest readable snapshot ends at index 0: entries are missing/);
    }));

  test('the snapshot a marker compacted the log to is gone, and the segments before it: refused at the first entry left', () =>
    withTempDir(async (dir) => {
      const log = await openFileLog({ dir, segmentBytes: 1024 });
      for (let i = 1; i <= 60; i += 5) await log.append(range(i, i + 4, 1));
      await log.installSnapshot(meta(40, 1), new Uint8Array([40])); // deletes the segments up to index 40
      await log.close();
      await rm(join(dir, 'snapshots', '00000000000000000040-1.snap'));
      const first = (await readdir(join(dir, 'log'))).sort()[0]!;
      const path = join(dir, 'log', first);
      let firstEntry = -1;
      decodeRecords(await readFile(path), (record, offset) => {
        if (record.kind === 'entry' && firstEntry < 0) firstEntry = offset;
      });
      await refuses(dir, path, /the log starts after index \d+ but the newest readable snapshot ends at index 0/, firstEntry);
    }));

  test('a file in the log directory that is not a segment, or a segment name beyond the indexes: refused', () =>
    withTempDir(async (dir) => {
      await writeSegment(dir, SEG1, encodeRecords(entries(1, 3)));
      const short = await writeSegment(dir, '5.seg', encodeRecords(entries(5, 6)));
      await refuses(dir, short, /unexpected file .*5\.seg in the log directory/, 0);
      await rm(short);
      const huge = await writeSegment(dir, '99999999999999999999.seg', encodeRecords(entries(4, 6)));
      await refuses(dir, huge, /segment file name 99999999999999999999\.seg is not an index/, 0);
    }));

  test('a segment file that cannot be read: a LogReadError naming it, not corruption (its bytes were never judged)', () =>
    withTempDir(async (dir) => {
      await writeSegment(dir, SEG1, encodeRecords(entries(1, 3)));
      const path = join(dir, 'log', '00000000000000000004.seg');
      await mkdir(path); // reading it fails (EISDIR), as a file without read permission or on a failing disk would
      await cannotRead(dir, path);
    }));

  test('a file in the snapshot directory that is not a snapshot: refused, naming it', () =>
    withTempDir(async (dir) => {
      await mkdir(join(dir, 'snapshots'), { recursive: true });
      const path = join(dir, 'snapshots', 'notes.txt');
      await writeFile(path, 'x');
      await refuses(dir, path, /unexpected file .*notes\.txt in the snapshot directory/, 0);
    }));

  test('the only snapshot file cannot be read: a LogReadError naming it', () =>
    withTempDir(async (dir) => {
      await writeLogWithSnapshot(dir, 10, meta(8, 1), new Uint8Array([1, 2, 3]));
      const path = join(dir, 'snapshots', '00000000000000000008-1.snap');
      await rm(path);
      await mkdir(path); // reading it fails (EISDIR)
      await cannotRead(dir, path);
    }));

  test('the newest snapshot file cannot be read, though the log reaches back to an older one: a LogReadError, not a fallback', () =>
    withTempDir(async (dir) => {
      const log = await openFileLog({ dir });
      await log.append(range(1, 30, 1));
      await log.installSnapshot(meta(5, 1), new Uint8Array([5]));
      await log.close();
      const newest = join(dir, 'snapshots', '00000000000000000010-1.snap');
      await mkdir(newest);
      await cannotRead(dir, newest);
    }));

  test('a corrupt snapshot with no other: the error is a LogCorruptionError naming the file', () =>
    withTempDir(async (dir) => {
      const log = await openFileLog({ dir });
      await log.append([entry(1, 1), entry(2, 1)]);
      await log.installSnapshot(meta(2, 1), new Uint8Array([1, 2, 3, 4]));
      await log.close();
      const path = join(dir, 'snapshots', '00000000000000000002-1.snap');
      const bytes = await readFile(path);
      bytes[bytes.length - 1]! ^= 0xff;
      await writeFile(path, bytes);
      await refuses(dir, path, /is corrupt \(checksum mismatch\)/, 0);
    }));
});
