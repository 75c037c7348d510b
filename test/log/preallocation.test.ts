// Zero-filled segments: records are written over zeros made durable ahead of
// them, so recovery must take a zero tail as the clean end of the data, drop a
// torn last write (including the holes of zeros a power loss can leave inside
// it), and still refuse anything else.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { openFileLog, LogCorruptionError, type LogStorage } from '../../src/log/index.ts';
import { MAX_WRITE_BYTES, ZERO_CHUNK_MIN_BYTES } from '../../src/log/preallocation.ts';
import { encodeRecords } from '../../src/log/record.ts';
import { decodeRecords, findValidRecordAfter } from '../../src/log/record-scanner.ts';
import type { Entry } from '../../src/raft/types.ts';
import { plain, withTempDir } from './helpers.ts';

const SEG1 = '00000000000000000001.seg';

/** Entries with `size` bytes of text data (no zero bytes in them). */
function bulk(from: number, to: number, term: number, size = 120): Entry[] {
  const out: Entry[] = [];
  for (let i = from; i <= to; i++) {
    out.push({ index: i, term, type: 'normal', data: new TextEncoder().encode(`entry-${i}-${term}-`.padEnd(size, 'x')) });
  }
  return out;
}

interface Span {
  readonly offset: number;
  readonly end: number;
  readonly index: number;
}

/** Records of a segment (entry index, or -1 for other records) and where the data ends. */
async function layout(path: string): Promise<{ records: Span[]; end: number; length: number }> {
  const bytes = await readFile(path);
  const records: Span[] = [];
  const result = decodeRecords(bytes, (record, offset, end) =>
    records.push({ offset, end, index: record.kind === 'entry' ? record.entry.index : -1 }),
  );
  return { records, end: result.end, length: bytes.length };
}

async function overwrite(path: string, at: number, bytes: Uint8Array): Promise<void> {
  const file = await readFile(path);
  file.set(bytes, at);
  await writeFile(path, file);
}

/** Writes batches of 64 entries; returns where the last batch starts in segment 1. */
async function writeBatches(dir: string, batches: number, size = 120): Promise<{ lastBatchStart: number; count: number }> {
  const log = await openFileLog({ dir });
  let lastBatchStart = 0;
  for (let b = 0; b < batches; b++) {
    lastBatchStart = (await layout(join(dir, 'log', SEG1))).end;
    await log.append(bulk(b * 64 + 1, b * 64 + 64, 1, size));
  }
  await log.close();
  return { lastBatchStart, count: batches * 64 };
}

/** Writes of entries 1-64, 65-128 and 129-130; where the second one begins. */
async function writeThreeWrites(dir: string): Promise<{ path: string; holeWriteStart: number }> {
  const log = await openFileLog({ dir });
  await log.append(bulk(1, 64, 1));
  const path = join(dir, 'log', SEG1);
  const holeWriteStart = (await layout(path)).end;
  await log.append(bulk(65, 128, 1));
  await log.append(bulk(129, 130, 1));
  await log.close();
  return { path, holeWriteStart };
}

/** Last entry index whose record ends at or before `offset`. */
function lastIndexBefore(records: readonly Span[], offset: number): number {
  return records.filter((r) => r.end <= offset && r.index > 0).at(-1)!.index;
}

async function assertRefuses(dir: string, path: string, offset: number): Promise<void> {
  await assert.rejects(openFileLog({ dir }), (error: unknown) => {
    assert.ok(error instanceof LogCorruptionError, String(error));
    assert.equal(error.file, path);
    assert.equal(error.offset, offset);
    assert.match(error.message, new RegExp(`${path}.*offset ${offset}`));
    return true;
  });
}

async function appendAndReopenClean(dir: string, log: LogStorage, expectedBefore: number, size = 120): Promise<void> {
  assert.equal(log.lastIndex(), expectedBefore);
  await log.append(bulk(expectedBefore + 1, expectedBefore + 70, 2));
  await log.close();
  const again = await openFileLog({ dir });
  assert.deepEqual(again.recovered.warnings, []);
  assert.deepEqual(plain(again.recovered.entries), plain([...bulk(1, expectedBefore, 1, size), ...bulk(expectedBefore + 1, expectedBefore + 70, 2)]));
  await again.close();
}

describe('zero-filled segments', () => {
  test('a log written and reopened has a zero tail and no warnings', () =>
    withTempDir(async (dir) => {
      await writeBatches(dir, 5);
      const { end, length } = await layout(join(dir, 'log', SEG1));
      assert.ok(length >= ZERO_CHUNK_MIN_BYTES && length > end, `file length ${length}, data end ${end}`);
      const bytes = await readFile(join(dir, 'log', SEG1));
      assert.ok(bytes.subarray(end).every((b) => b === 0));
      const log = await openFileLog({ dir });
      assert.deepEqual(log.recovered.warnings, []);
      assert.deepEqual(plain(log.recovered.entries), plain(bulk(1, 320, 1)));
      await log.close();
      assert.equal((await layout(join(dir, 'log', SEG1))).length, length, 'nothing was truncated');
    }));

  test('a batch larger than one write is written in several and reads back whole', () =>
    withTempDir(async (dir) => {
      const log = await openFileLog({ dir });
      await log.append(bulk(1, 10, 1));
      const big = bulk(11, 700, 1, 2000);
      await log.append(big);
      await log.append(bulk(701, 710, 1));
      await log.close();
      const { end, length } = await layout(join(dir, 'log', SEG1));
      assert.ok(end > MAX_WRITE_BYTES, `data of ${end} bytes`);
      assert.ok(length >= end && length - end < 256 * 1024 + 4096, `file length ${length} for data ending at ${end}`);
      const again = await openFileLog({ dir });
      assert.deepEqual(again.recovered.warnings, []);
      assert.deepEqual(plain(again.recovered.entries), plain([...bulk(1, 10, 1), ...big, ...bulk(701, 710, 1)]));
      await again.close();
    }));

  test('sync none appends without a zero tail', () =>
    withTempDir(async (dir) => {
      const log = await openFileLog({ dir, sync: 'none' });
      await log.append(bulk(1, 64, 1));
      await log.append(bulk(65, 70, 1));
      await log.close();
      const { end, length } = await layout(join(dir, 'log', SEG1));
      // the file ends with the last writeEnd: only the padding to the next write's sector
      // (read as zeros, not written) lies between the two
      assert.ok(length <= end && end - length < 512, `file length ${length}, data end ${end}`);
      const again = await openFileLog({ dir, sync: 'none' });
      assert.deepEqual(again.recovered.warnings, []);
      await again.append(bulk(71, 72, 1));
      await again.close();
      const last = await openFileLog({ dir, sync: 'none' });
      assert.deepEqual(last.recovered.warnings, []);
      assert.deepEqual(plain(last.recovered.entries), plain(bulk(1, 72, 1)));
      await last.close();
    }));

  test('a torn tail inside the zero-filled space is truncated; appends continue after it', () =>
    withTempDir(async (dir) => {
      const { lastBatchStart } = await writeBatches(dir, 4);
      const path = join(dir, 'log', SEG1);
      const { records, end } = await layout(path);
      // the second half of the last batch never reached the disk: zeros from mid-record on
      const cut = lastBatchStart + Math.floor((end - lastBatchStart) / 2) + 7;
      await overwrite(path, cut, new Uint8Array(end - cut));
      const torn = records.find((r) => r.offset < cut && r.end > cut)!;
      const warnings: string[] = [];
      const log = await openFileLog({ dir, onWarning: (m) => warnings.push(m) });
      assert.equal(warnings.length, 1);
      assert.match(warnings[0]!, new RegExp(`truncated the torn tail of .*${SEG1} at byte offset ${torn.offset} \\(`));
      assert.equal((await readFile(path)).length, torn.offset, 'cut at the data end');
      await appendAndReopenClean(dir, log, lastIndexBefore(records, cut));
    }));

  for (const block of [512, 4096]) {
    test(`a ${block}-byte hole of zeros inside the last write (its sectors reached the disk out of order) is truncated there`, () =>
      withTempDir(async (dir) => {
        const { lastBatchStart } = await writeBatches(dir, 4);
        const path = join(dir, 'log', SEG1);
        const { records, end } = await layout(path);
        const hole = Math.ceil((lastBatchStart + 1) / block) * block;
        assert.ok(hole + block + 500 < end, 'valid records follow the hole');
        await overwrite(path, hole, new Uint8Array(block));
        const damaged = records.find((r) => r.end > hole)!;
        assert.ok(damaged.offset >= lastBatchStart);
        const warnings: string[] = [];
        const log = await openFileLog({ dir, onWarning: (m) => warnings.push(m) });
        assert.equal(warnings.length, 1);
        assert.match(
          warnings[0]!,
          new RegExp(
            `truncated the torn tail of .*${SEG1} at byte offset ${damaged.offset} \\(.*the last write, which began at offset ${lastBatchStart} `,
          ),
        );
        assert.equal((await readFile(path)).length, damaged.offset, 'cut where the damage begins');
        await appendAndReopenClean(dir, log, lastIndexBefore(records, hole));
      }));

    test(`a ${block}-byte hole of zeros in the write before the last refuses (that write finished: it was acknowledged)`, () =>
      withTempDir(async (dir) => {
        const { path, holeWriteStart } = await writeThreeWrites(dir);
        const { records, end } = await layout(path);
        const hole = Math.ceil((holeWriteStart + 1) / block) * block;
        const damaged = records.find((r) => r.end > hole)!;
        assert.ok(damaged.index > 64 && damaged.index < 128, 'the hole is inside the second write');
        await overwrite(path, hole, new Uint8Array(block));
        await assertRefuses(dir, path, damaged.offset);
        assert.ok((await readFile(path)).length > end, 'nothing was truncated');
      }));
  }

  test('a hole that also took the end of the write before the last refuses: the next write end began after the damage', () =>
    withTempDir(async (dir) => {
      const { path, holeWriteStart } = await writeThreeWrites(dir);
      const { records } = await layout(path);
      const bytes = await readFile(path);
      const ends: number[] = [];
      decodeRecords(bytes, (record, offset) => {
        if (record.kind === 'writeEnd') ends.push(offset);
      });
      const hole = Math.ceil((holeWriteStart + 1) / 512) * 512;
      await overwrite(path, hole, new Uint8Array(512));
      // the sector holding the second write's own end record
      await overwrite(path, Math.floor(ends.at(-2)! / 512) * 512, new Uint8Array(512));
      await assert.rejects(openFileLog({ dir }), (error: unknown) => {
        assert.ok(error instanceof LogCorruptionError, String(error));
        assert.equal(error.offset, records.find((r) => r.end > hole)!.offset);
        assert.match(error.message, /in a write that finished before the one that began at offset/);
        return true;
      });
    }));

  test('a hole of zeros that also took the end of the last write is truncated; one in a segment without write ends refuses', () =>
    withTempDir(async (dir) => {
      const { lastBatchStart } = await writeBatches(dir, 4);
      const path = join(dir, 'log', SEG1);
      const { records, end } = await layout(path);
      const original = await readFile(path);
      // two sectors lost: one in the middle of the last write, and the one its writeEnd is in
      const hole = Math.ceil((lastBatchStart + 1) / 512) * 512;
      const lastSector = Math.floor((end - 1) / 512) * 512;
      assert.ok(hole + 512 < lastSector - 512, 'valid records sit between the two holes');
      await overwrite(path, hole, new Uint8Array(512));
      await overwrite(path, lastSector, new Uint8Array(512));
      const damaged = records.find((r) => r.end > hole)!;
      const log = await openFileLog({ dir });
      assert.match(log.recovered.warnings[0] ?? '', new RegExp(`at byte offset ${damaged.offset} `));
      assert.match(log.recovered.warnings[0] ?? '', /the last write, unfinished: valid records from offset \d+ on, no write end after it/);
      assert.equal(log.lastIndex(), lastIndexBefore(records, hole));
      await log.close();

      // The same damage in a segment written without writeEnd records (an older
      // version's log) cannot be told from damage to acknowledged records: refused.
      const legacy: Buffer[] = [];
      decodeRecords(original, (record) => {
        if (record.kind !== 'writeEnd') legacy.push(encodeRecords([record]));
      });
      const legacyBytes = Buffer.concat(legacy);
      const zeroTail = Buffer.alloc(64 * 1024);
      await writeFile(path, Buffer.concat([legacyBytes, zeroTail]));
      const legacyRecords = (await layout(path)).records;
      const legacyHole = Math.ceil((legacyRecords.at(-20)!.offset + 1) / 512) * 512;
      await overwrite(path, legacyHole, new Uint8Array(512));
      await assertRefuses(dir, path, legacyRecords.find((r) => r.end > legacyHole)!.offset);
    }));

  test('an acknowledged record full of zero bytes with one flipped byte refuses, not truncated as a torn write', () =>
    withTempDir(async (dir) => {
      // A document may hold long runs of NUL characters: zero sectors are no proof of a torn write.
      const log = await openFileLog({ dir });
      await log.append([{ index: 1, term: 1, type: 'normal', data: new Uint8Array(4096) }]);
      await log.append([{ index: 2, term: 1, type: 'normal', data: new Uint8Array([1, 2, 3]) }]);
      await log.append([{ index: 3, term: 1, type: 'normal', data: new Uint8Array([4, 5, 6]) }]);
      await log.close();
      const path = join(dir, 'log', SEG1);
      const { records } = await layout(path);
      const big = records.find((r) => r.end - r.offset > 4096)!;
      const file = await readFile(path);
      await overwrite(path, big.offset + 20, new Uint8Array([file[big.offset + 20]! ^ 0x01]));
      await assertRefuses(dir, path, big.offset);
    }));

  test('a flipped byte in the last write (not a hole) still refuses, naming file and offset', () =>
    withTempDir(async (dir) => {
      const { lastBatchStart } = await writeBatches(dir, 4);
      const path = join(dir, 'log', SEG1);
      const { records, end } = await layout(path);
      const at = lastBatchStart + Math.floor((end - lastBatchStart) / 3);
      const file = await readFile(path);
      await overwrite(path, at, new Uint8Array([file[at]! ^ 0x20]));
      await assertRefuses(dir, path, records.find((r) => r.end > at)!.offset);
      assert.equal((await layout(path)).end, records.find((r) => r.end > at)!.offset, 'nothing was truncated');
      assert.ok((await readFile(path)).length > end);
    }));

  test('a garbled (non-zero) sector in the last write still refuses', () =>
    withTempDir(async (dir) => {
      const { lastBatchStart } = await writeBatches(dir, 4);
      const path = join(dir, 'log', SEG1);
      const { records } = await layout(path);
      const at = Math.ceil((lastBatchStart + 1) / 512) * 512;
      await overwrite(path, at, new Uint8Array(512).fill(0xa5));
      await assertRefuses(dir, path, records.find((r) => r.end > at)!.offset);
    }));

  test('a hole of zeros farther than one write from the end of the data still refuses', () =>
    withTempDir(async (dir) => {
      const log = await openFileLog({ dir });
      await log.append(bulk(1, 64, 1, 2000));
      await log.append(bulk(65, 128, 1, 2000));
      const path = join(dir, 'log', SEG1);
      const holeBatchEnd = (await layout(path)).end;
      // more than MAX_WRITE_BYTES of data after it, in later batches
      let next = 129;
      while ((await layout(path)).end - holeBatchEnd <= MAX_WRITE_BYTES) {
        await log.append(bulk(next, next + 63, 1, 2000));
        next += 64;
      }
      await log.close();
      const { records } = await layout(path);
      const hole = Math.floor((holeBatchEnd - 5000) / 4096) * 4096;
      await overwrite(path, hole, new Uint8Array(4096));
      await assertRefuses(dir, path, records.find((r) => r.end > hole)!.offset);
    }));

  test('damage in a non-last segment refuses even when it is a hole of zeros', () =>
    withTempDir(async (dir) => {
      const log = await openFileLog({ dir, segmentBytes: 16 * 1024 });
      for (let i = 1; i <= 640; i += 64) await log.append(bulk(i, i + 63, 1));
      await log.close();
      const names = (await readdir(join(dir, 'log'))).sort();
      assert.ok(names.length >= 3);
      const path = join(dir, 'log', names[0]!);
      const { records, end } = await layout(path);
      const hole = Math.floor((end - 2000) / 512) * 512;
      await overwrite(path, hole, new Uint8Array(512));
      await assertRefuses(dir, path, records.find((r) => r.end > hole)!.offset);
    }));

  test('reopen-append-reopen cycles across segment rolls keep every entry', () =>
    withTempDir(async (dir) => {
      const segmentBytes = 24 * 1024;
      let last = 0;
      for (let cycle = 1; cycle <= 6; cycle++) {
        const log = await openFileLog({ dir, segmentBytes });
        assert.deepEqual(log.recovered.warnings, [], `cycle ${cycle}`);
        assert.equal(log.lastIndex(), last);
        await log.setHardState({ term: cycle, vote: 1, commit: last });
        for (let b = 0; b < 3; b++) {
          await log.append(bulk(last + 1, last + 64, cycle));
          last += 64;
        }
        await log.close();
      }
      const names = (await readdir(join(dir, 'log'))).sort();
      assert.ok(names.length >= 4, `several segments, got ${names.length}`);
      for (const name of names) {
        const { end, length } = await layout(join(dir, 'log', name));
        assert.ok(length <= Math.max(segmentBytes, end), `${name}: the zero fill stays within the segment size`);
        assert.ok(
          (await readFile(join(dir, 'log', name))).subarray(end).every((b) => b === 0),
          `${name}: zero tail`,
        );
      }
      const log = await openFileLog({ dir, segmentBytes });
      assert.deepEqual(log.recovered.warnings, []);
      assert.deepEqual(log.recovered.hardState, { term: 6, vote: 1, commit: 5 * 192 });
      const expected: Entry[] = [];
      for (let cycle = 1; cycle <= 6; cycle++) expected.push(...bulk((cycle - 1) * 192 + 1, cycle * 192, cycle));
      assert.deepEqual(plain(log.recovered.entries), plain(expected));
      await log.close();
    }));

  test('findValidRecordAfter skips runs of zeros and finds a record right after one', () => {
    // payload length 512 = 0x200: the first byte of the length field is zero
    const record = encodeRecords([{ kind: 'entry', entry: { index: 7, term: 1, type: 'normal', data: new Uint8Array(505).fill(1) } }]);
    assert.equal(record.readUInt32LE(0), 512);
    assert.equal(record[0], 0);
    const zeros = 8 * 1024 * 1024;
    const buf = Buffer.alloc(zeros + record.length + 100);
    buf[0] = 0xff; // the bad record
    record.copy(buf, zeros);
    assert.equal(findValidRecordAfter(buf, 0), zeros);
    assert.equal(findValidRecordAfter(buf.subarray(0, zeros + 10), 0), null);
    assert.equal(findValidRecordAfter(Buffer.alloc(zeros), 0), null);
  });
});
