// A power loss during the last write of a segment: its sectors reach the disk in any
// order, so each one holds what the write put there or what was there before (zeros,
// or the end of the previous write in the sector they share). Recovery must open
// such a log with every earlier write and a prefix of the last one, and must still
// refuse damage a power loss does not do (a flipped bit), anywhere it could lose an
// acknowledged record.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { open, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import fc from 'fast-check';
import { LogCorruptionError, openFileLog, type LogStorage } from '../../src/log/index.ts';
import { MAX_WRITE_BYTES, PAGE_BYTES } from '../../src/log/preallocation.ts';
import { encodeRecords } from '../../src/log/record.ts';
import { decodeRecords } from '../../src/log/record-scanner.ts';
import { SECTOR_BYTES } from '../../src/log/write-end.ts';
import type { Entry } from '../../src/raft/types.ts';
import { plain, withTempDir } from './helpers.ts';

/** Entries [from, from + count) with `size` bytes of data each; zeros when `zeros`. */
function batch(from: number, count: number, size: number, zeros: boolean): Entry[] {
  return Array.from({ length: count }, (_, i) => {
    const data = new Uint8Array(size);
    if (!zeros) for (let b = 0; b < size; b++) data[b] = 1 + ((from + i + b) % 251);
    return { index: from + i, term: 1, type: 'normal' as const, data };
  });
}

async function onlySegment(dir: string): Promise<string> {
  const names = (await readdir(join(dir, 'log'))).sort();
  assert.equal(names.length, 1, 'one segment');
  return join(dir, 'log', names[0]!);
}

/** Two batches of 100 entries, the second in a segment of its own; the segment names. */
async function writeTwoSegments(dir: string, segmentBytes: number): Promise<string[]> {
  const log = await openFileLog({ dir, segmentBytes });
  await log.append(batch(1, 100, 100, false));
  await log.append(batch(101, 100, 100, false)); // does not fit: a new segment
  await log.close();
  const names = (await readdir(join(dir, 'log'))).sort();
  assert.equal(names.length, 2);
  return names;
}

/** The writeEnd records of a segment: where each sits, where it ends, where its write began. */
function writeEnds(bytes: Uint8Array): { offset: number; end: number; start: number }[] {
  const ends: { offset: number; end: number; start: number }[] = [];
  decodeRecords(bytes, (record, offset, end) => {
    if (record.kind === 'writeEnd') ends.push({ offset, end, start: record.start });
  });
  return ends;
}

/** Appends `more` to an open log and closes it; a reopen is clean and holds `before`, then `more`. */
async function appendThenReopenClean(dir: string, log: LogStorage, before: readonly Entry[], more: Entry[]): Promise<void> {
  try {
    await log.append(more);
  } finally {
    await log.close();
  }
  const again = await openFileLog({ dir });
  try {
    assert.deepEqual(again.recovered.warnings, []);
    assert.deepEqual(plain(again.recovered.entries), plain([...before, ...more]));
  } finally {
    await again.close();
  }
}

function dataEnd(bytes: Uint8Array): number {
  return decodeRecords(bytes, () => {}).end;
}

interface Written {
  readonly earlier: Entry[];
  readonly last: Entry[];
  /** The segment before and after the last write. */
  readonly before: Buffer;
  readonly after: Buffer;
  readonly lastStart: number;
  readonly lastEnd: number;
  readonly path: string;
}

async function writeLog(dir: string, earlierBatches: readonly number[], lastCount: number, size: number, zeros: boolean): Promise<Written> {
  const log = await openFileLog({ dir, segmentBytes: 64 * 1024 * 1024 });
  const earlier: Entry[] = [];
  let next = 1;
  for (const count of earlierBatches) {
    const entries = batch(next, count, size, zeros);
    await log.append(entries);
    earlier.push(...entries);
    next += count;
  }
  const path = await onlySegment(dir);
  const before = await readFile(path);
  const last = batch(next, lastCount, size, zeros);
  await log.append(last);
  await log.close();
  const after = await readFile(path);
  return { earlier, last, before, after, path, lastStart: dataEnd(before), lastEnd: dataEnd(after) };
}

/** The last write with each of its sectors landed (new) or not (as before), per `landed`. */
function tear(w: Written, landed: readonly boolean[]): { image: Buffer; tornSectors: number } {
  const image = Buffer.from(w.after);
  let tornSectors = 0;
  const first = Math.floor(w.lastStart / SECTOR_BYTES);
  const last = Math.ceil(w.lastEnd / SECTOR_BYTES);
  for (let s = first; s < last; s++) {
    if (landed[(s - first) % landed.length] !== false) continue;
    tornSectors++;
    for (let at = s * SECTOR_BYTES; at < (s + 1) * SECTOR_BYTES; at++) image[at] = at < w.before.length ? w.before[at]! : 0;
  }
  return { image, tornSectors };
}

describe('a power loss during the last write', () => {
  test('property: any mix of landed and unlanded sectors of the last write opens, with every earlier entry and a prefix of the last write', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: 1, max: 30 }), { minLength: 1, maxLength: 4 }),
        fc.integer({ min: 1, max: 80 }),
        fc.constantFrom(7, 100, 700, 3000),
        fc.boolean(),
        fc.array(fc.boolean(), { minLength: 1, maxLength: 64, size: 'max' }),
        async (earlierBatches, lastCount, size, zeros, landed) =>
          withTempDir(async (dir) => {
            const w = await writeLog(dir, earlierBatches, lastCount, size, zeros);
            const { image, tornSectors } = tear(w, landed);
            await writeFile(w.path, image);
            const log = await openFileLog({ dir });
            try {
              const entries = plain(log.recovered.entries);
              const expectedAll = plain([...w.earlier, ...w.last]);
              assert.ok(entries.length >= w.earlier.length, `lost earlier entries: ${entries.length} < ${w.earlier.length}`);
              assert.deepEqual(entries, expectedAll.slice(0, entries.length));
              if (tornSectors === 0) {
                assert.equal(entries.length, expectedAll.length);
                assert.deepEqual(log.recovered.warnings, []);
              }
            } finally {
              await log.close();
            }
          }),
      ),
      { numRuns: 60 },
    );
  });

  test('property: a flipped bit before the last write, or inside it without zeroing a sector, refuses to open', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: 1, max: 20 }), { minLength: 1, maxLength: 3 }),
        fc.integer({ min: 1, max: 40 }),
        fc.constantFrom(7, 100, 700),
        fc.boolean(),
        fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }),
        fc.integer({ min: 0, max: 7 }),
        async (earlierBatches, lastCount, size, zeros, where, bit) =>
          withTempDir(async (dir) => {
            const w = await writeLog(dir, earlierBatches, lastCount, size, zeros);
            // the last write's own writeEnd is its last record: a flip there loses no entry
            const lastWriteEnd = writeEnds(w.after).at(-1)!.offset;
            const at = Math.floor(where * lastWriteEnd);
            const image = Buffer.from(w.after);
            image[at]! ^= 1 << bit;
            const sector = Math.floor(at / SECTOR_BYTES) * SECTOR_BYTES;
            const zeroedSector = image.subarray(sector, sector + SECTOR_BYTES).every((b) => b === 0);
            fc.pre(!(at >= w.lastStart && zeroedSector)); // indistinguishable from a torn write
            await writeFile(w.path, image);
            await assert.rejects(openFileLog({ dir }), (error: unknown) => {
              assert.ok(error instanceof LogCorruptionError, String(error));
              assert.ok(error.offset <= at, `refused at ${error.offset}, after the flipped byte at ${at}`);
              return true;
            });
          }),
      ),
      { numRuns: 60 },
    );
  });

  test('a last write over several chunks whose first sector and a middle chunk did not land opens with the entries before the hole', () =>
    withTempDir(async (dir) => {
      const w = await writeLog(dir, [3], 60, 40_000, false);
      assert.ok(w.lastEnd - w.lastStart > 2 * MAX_WRITE_BYTES, 'the last write takes three chunks');
      const image = Buffer.from(w.after);
      // the sector the last write shares with the one before it holds only the old bytes
      const firstSector = Math.floor(w.lastStart / SECTOR_BYTES) * SECTOR_BYTES;
      image.fill(0, w.lastStart, firstSector + SECTOR_BYTES);
      // and a run of sectors in the second chunk never landed
      const hole = Math.ceil((w.lastStart + MAX_WRITE_BYTES + 5000) / SECTOR_BYTES) * SECTOR_BYTES;
      image.fill(0, hole, hole + 8 * SECTOR_BYTES);
      await writeFile(w.path, image);
      const log = await openFileLog({ dir });
      assert.match(log.recovered.warnings[0] ?? '', new RegExp(`at byte offset ${w.lastStart} .*has sectors still zero`));
      assert.deepEqual(plain(log.recovered.entries), plain(w.earlier));
      await appendThenReopenClean(dir, log, w.earlier, batch(4, 2, 10, false));
    }));

  test('a batch larger than one write is split on page boundaries: no sector is written by two writes, a kill between them leaves a page', () =>
    withTempDir(async (dir) => {
      const log = await openFileLog({ dir });
      await log.append(batch(1, 3, 100, false)); // the data now ends inside a sector
      const probe = await open(await onlySegment(dir), 'r');
      const proto = Object.getPrototypeOf(probe) as { write: (this: unknown, ...args: unknown[]) => Promise<unknown> };
      await probe.close();
      const original = proto.write;
      const writes: { position: number; length: number }[] = [];
      proto.write = function (this: unknown, ...args: unknown[]) {
        const [buffer, offset, length, position] = args as [Uint8Array, number, number, number];
        // record writes only: zero fills write zeros
        if (buffer.subarray(offset, offset + length).some((b) => b !== 0)) writes.push({ position, length });
        return original.apply(this, args);
      };
      try {
        await log.append(batch(4, 60, 40_000, false));
      } finally {
        proto.write = original;
        await log.close();
      }
      assert.ok(writes.length >= 3, `${writes.length} writes`);
      assert.equal(writes[0]!.position % SECTOR_BYTES, 0, 'the batch begins on a sector boundary');
      for (let i = 0; i < writes.length - 1; i++) {
        const end = writes[i]!.position + writes[i]!.length;
        // a page boundary: what a kill between two of them leaves recovery takes for a torn tail (segment-tail.ts)
        assert.equal(end % PAGE_BYTES, 0, `write ${i} ends at ${end}, inside a page`);
        assert.equal(writes[i + 1]!.position, end, 'the writes are contiguous');
        assert.ok(writes[i]!.length <= MAX_WRITE_BYTES);
      }
    }));

  test('an acknowledged last write whose entry is all zero bytes, with one flipped bit, refuses', () =>
    withTempDir(async (dir) => {
      const w = await writeLog(dir, [1], 2, 4096, true);
      const image = Buffer.from(w.after);
      // a byte in the middle of the first entry's zeros, in a sector of zeros only
      const at = Math.ceil((w.lastStart + 600) / SECTOR_BYTES) * SECTOR_BYTES + 100;
      image[at] = 0x10;
      await writeFile(w.path, image);
      await assert.rejects(openFileLog({ dir }), (error: unknown) => {
        assert.ok(error instanceof LogCorruptionError, String(error));
        assert.match(error.message, /not a torn write/);
        return true;
      });
    }));

  test('the first write of a new log, torn with its end lost, opens with the entries before the hole', () =>
    withTempDir(async (dir) => {
      const log = await openFileLog({ dir });
      const entries = batch(1, 30, 100, false);
      await log.append(entries);
      await log.close();
      const path = await onlySegment(dir);
      const image = await readFile(path);
      const end = dataEnd(image);
      const hole = 2 * SECTOR_BYTES;
      image.fill(0, hole, hole + SECTOR_BYTES);
      image.fill(0, Math.floor((end - 1) / SECTOR_BYTES) * SECTOR_BYTES, end);
      await writeFile(path, image);
      const again = await openFileLog({ dir });
      assert.match(again.recovered.warnings[0] ?? '', /the last write, unfinished/);
      assert.ok(again.lastIndex() < 30);
      assert.deepEqual(plain(again.recovered.entries), plain(entries.slice(0, again.lastIndex())));
      await again.close();
    }));

  test('the first batch after a segment roll, torn, is cut; its write end names where it began in the new segment', () =>
    withTempDir(async (dir) => {
      const segmentBytes = 16 * 1024;
      const names = await writeTwoSegments(dir, segmentBytes);
      const path = join(dir, 'log', names[1]!);
      const image = await readFile(path);
      const ends = writeEnds(image);
      // the head (hard state) is a write of its own; the batch is the next one, and
      // its writeEnd names where it began in this segment (not in the previous one)
      assert.equal(ends.length, 2);
      assert.equal(ends[0]!.start, 0);
      const headEnd = Math.ceil(ends[0]!.end / SECTOR_BYTES) * SECTOR_BYTES;
      assert.equal(ends[1]!.start, headEnd);
      for (const name of names) assert.ok(dataEnd(await readFile(join(dir, 'log', name))) <= segmentBytes, `${name} stays within the segment size`);
      const hole = Math.ceil((headEnd + 1000) / SECTOR_BYTES) * SECTOR_BYTES;
      image.fill(0, hole, hole + SECTOR_BYTES);
      await writeFile(path, image);
      const again = await openFileLog({ dir, segmentBytes });
      assert.match(again.recovered.warnings[0] ?? '', new RegExp(`the last write, which began at offset ${headEnd} `));
      assert.ok(again.lastIndex() > 100 && again.lastIndex() < 200);
      await again.close();
    }));

  test('a flipped bit that leaves zeros in the sector the write end is in refuses: that sector landed', () =>
    withTempDir(async (dir) => {
      // an entry whose record leaves exactly its last data byte (0x01) in the writeEnd's sector
      let size = 400;
      const record = (n: number): Entry => {
        const [e] = batch(4, 1, n, false);
        e!.data[n - 1] = 0x01;
        return e!;
      };
      while (encodeRecords([{ kind: 'entry', entry: record(size) }]).length % SECTOR_BYTES !== 1) size++;
      const log = await openFileLog({ dir });
      await log.append(batch(1, 3, 100, false));
      await log.append([record(size)]);
      await log.close();
      const path = await onlySegment(dir);
      const image = await readFile(path);
      const lastWriteEnd = writeEnds(image).at(-1)!.offset;
      assert.equal(lastWriteEnd % SECTOR_BYTES, 1);
      image[lastWriteEnd - 1] = 0; // 0x01 -> 0x00: the write's part of that sector is now zeros
      await writeFile(path, image);
      await assert.rejects(openFileLog({ dir }), (error: unknown) => {
        assert.ok(error instanceof LogCorruptionError, String(error));
        assert.match(error.message, /not a torn write/);
        return true;
      });
    }));

  for (const garble of [false, true]) {
    test(`one ${garble ? 'garbled' : 'zeroed'} sector under a small last write leaves the write before it whole`, () =>
      withTempDir(async (dir) => {
        const log = await openFileLog({ dir });
        const entries = batch(1, 10, 100, false);
        await log.append(entries);
        await log.setHardState({ term: 1, vote: 1, commit: 10 }); // a small write of its own
        await log.close();
        const path = await onlySegment(dir);
        const image = await readFile(path);
        const sector = Math.floor((dataEnd(image) - 1) / SECTOR_BYTES) * SECTOR_BYTES;
        for (let i = sector; i < sector + SECTOR_BYTES; i++) image[i] = garble ? (i * 37 + 11) & 0xff : 0;
        await writeFile(path, image);
        const again = await openFileLog({ dir });
        // the last write is the tail (its records are gone); the one before it is untouched.
        // Zeros there read as a clean end (that write never landed); garbage is cut.
        assert.deepEqual(plain(again.recovered.entries), plain(entries));
        assert.equal(again.recovered.warnings.length, garble ? 1 : 0);
        await again.close();
      }));
  }

  test("an older version's segment, reopened and appended to: a torn write of the new version with its end lost opens", () =>
    withTempDir(async (dir) => {
      // a log whose only segment holds the older format: records and no writeEnds
      const first = await openFileLog({ dir });
      await first.close();
      const path = await onlySegment(dir);
      const old = batch(1, 10, 100, false);
      const legacy = Buffer.concat(old.map((entry) => encodeRecords([{ kind: 'entry', entry }])));
      await writeFile(path, Buffer.concat([legacy, Buffer.alloc(64 * 1024)]));
      const log = await openFileLog({ dir });
      assert.deepEqual(plain(log.recovered.entries), plain(old));
      const added = batch(11, 40, 100, false);
      await log.append(added);
      await log.close();
      const image = await readFile(path);
      const end = dataEnd(image);
      const writeStart = Math.ceil((legacy.length + 1) / SECTOR_BYTES) * SECTOR_BYTES;
      const hole = Math.ceil((writeStart + 1500) / SECTOR_BYTES) * SECTOR_BYTES;
      image.fill(0, hole, hole + SECTOR_BYTES);
      image.fill(0, Math.floor((end - 1) / SECTOR_BYTES) * SECTOR_BYTES, end); // its writeEnd did not land
      await writeFile(path, image);
      const again = await openFileLog({ dir });
      assert.match(again.recovered.warnings[0] ?? '', /the last write, unfinished/);
      const got = plain(again.recovered.entries);
      assert.ok(got.length >= 10 && got.length < 50);
      assert.deepEqual(got, plain([...old, ...added]).slice(0, got.length));
      await again.close();
    }));

  test('garbage in the padding after the last write end is cut; the next write begins on the sector boundary and reopens clean', () =>
    withTempDir(async (dir) => {
      const log = await openFileLog({ dir });
      const entries = batch(1, 10, 100, false);
      await log.append(entries.slice(0, 5));
      await log.append(entries.slice(5));
      await log.close();
      const path = await onlySegment(dir);
      const image = await readFile(path);
      const end = dataEnd(image); // past the padding
      const lastWriteEnd = writeEnds(image).at(-1)!.end;
      assert.ok(end - lastWriteEnd > 1, 'the last write end leaves padding in its sector');
      image[lastWriteEnd + 1] = 0x77;
      await writeFile(path, image);
      const again = await openFileLog({ dir });
      assert.match(again.recovered.warnings[0] ?? '', new RegExp(`at byte offset ${lastWriteEnd} \\(bad-padding; nothing valid after it`));
      assert.deepEqual(plain(again.recovered.entries), plain(entries));
      await appendThenReopenClean(dir, again, entries, batch(11, 3, 100, false));
    }));

  test('garbage in the padding of a write that another followed refuses', () =>
    withTempDir(async (dir) => {
      const log = await openFileLog({ dir });
      await log.append(batch(1, 5, 100, false));
      await log.append(batch(6, 5, 100, false));
      await log.close();
      const path = await onlySegment(dir);
      const image = await readFile(path);
      const padding = writeEnds(image).at(-2)!.end; // the end of the first batch's write
      image[padding + 1] = 0x77;
      await writeFile(path, image);
      await assert.rejects(openFileLog({ dir }), (error: unknown) => {
        assert.ok(error instanceof LogCorruptionError, String(error));
        assert.equal(error.offset, padding);
        assert.match(error.message, /^.*bad-padding record in a write that finished before/);
        return true;
      });
    }));

  test('a log written with sync none reopens with sync batch and continues', () =>
    withTempDir(async (dir) => {
      const first = batch(1, 7, 100, false);
      const none = await openFileLog({ dir, sync: 'none' });
      await none.append(first);
      await none.close();
      const path = await onlySegment(dir);
      assert.ok((await readFile(path)).length % SECTOR_BYTES !== 0, 'the file ends inside the padding');
      const durable = await openFileLog({ dir, sync: 'batch' });
      assert.deepEqual(durable.recovered.warnings, []);
      await appendThenReopenClean(dir, durable, first, batch(8, 3, 100, false));
    }));

  test('a write end framed inside entry data is not taken for the end of a torn write', () =>
    withTempDir(async (dir) => {
      const log = await openFileLog({ dir });
      await log.append(batch(1, 3, 100, false));
      const path = await onlySegment(dir);
      const lastStart = dataEnd(await readFile(path));
      const last = batch(4, 12, 300, false);
      // entry 8 carries a valid writeEnd frame (start 0) in its data
      const fakeFrame = encodeRecords([{ kind: 'writeEnd', start: 0, sectors: new Uint8Array(0) }]);
      const frameLength = fakeFrame.readUInt32LE(0) + 9;
      last[4]!.data.set(fakeFrame.subarray(0, frameLength), 50);
      await log.append(last);
      await log.close();
      const image = await readFile(path);
      // a sector of entry 4 or 5 did not land (before entry 8)
      const hole = Math.ceil((lastStart + 200) / SECTOR_BYTES) * SECTOR_BYTES;
      image.fill(0, hole, hole + SECTOR_BYTES);
      await writeFile(path, image);
      const again = await openFileLog({ dir });
      assert.match(again.recovered.warnings[0] ?? '', /has sectors still zero/);
      assert.ok(again.lastIndex() >= 3 && again.lastIndex() < 8);
      await again.close();
    }));

  test("an older version's segment after one with write ends: damage before valid records in it still refuses", () =>
    withTempDir(async (dir) => {
      const segmentBytes = 16 * 1024;
      const names = await writeTwoSegments(dir, segmentBytes);
      const path = join(dir, 'log', names[1]!);
      // rewrite the second segment without its writeEnd records, as an older version wrote it
      const image = await readFile(path);
      const kept: Buffer[] = [];
      decodeRecords(image, (record, offset, end) => {
        if (record.kind !== 'writeEnd') kept.push(image.subarray(offset, end));
      });
      const legacy = Buffer.concat([...kept, Buffer.alloc(64 * 1024)]);
      const hole = 4 * SECTOR_BYTES;
      legacy.fill(0, hole, hole + SECTOR_BYTES);
      await writeFile(path, legacy);
      await assert.rejects(openFileLog({ dir, segmentBytes }), (error: unknown) => {
        assert.ok(error instanceof LogCorruptionError, String(error));
        assert.equal(error.file, path);
        assert.match(error.message, /followed by a valid record/);
        return true;
      });
    }));
});
