// Recovery keeps the entries it reads in compact form (CompactEntries, via
// EntryLog.appendStored): the log must behave exactly as one holding Entry objects,
// through overwrites, compactions and restarts, and the restart view it hands out must
// not change when the log changes afterwards.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { EntryLog } from '../../src/log/entry-log.ts';
import { entriesOf } from '../../src/log/compact-entries.ts';
import type { Entry, EntryType } from '../../src/raft/types.ts';

const TYPES: readonly EntryType[] = ['normal', 'noop', 'conf'];

type Op =
  | { kind: 'append'; at: number; term: number; typeCode: number; byte: number; slowForm?: boolean }
  | { kind: 'compact'; at: number; term: number }
  | { kind: 'restartAt'; at: number; term: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 8,
    // slowForm: a record recovery could not read in FrameBuffer's exact form (it arrives as an Entry).
    arbitrary: fc.record({
      kind: fc.constant('append' as const),
      at: fc.nat(60),
      term: fc.integer({ min: 1, max: 4 }),
      typeCode: fc.integer({ min: 0, max: 2 }),
      byte: fc.nat(255),
      slowForm: fc.nat(5).map((n) => n === 0),
    }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('compact' as const), at: fc.nat(60), term: fc.integer({ min: 1, max: 4 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('restartAt' as const), at: fc.nat(60), term: fc.integer({ min: 0, max: 4 }) }) },
);

function plain(entries: readonly Entry[]): Array<[number, number, EntryType, number[]]> {
  return entries.map((e) => [e.index, e.term, e.type, [...e.data]]);
}

/** The same observable state: bounds, every term around them, every entry. */
function assertSame(compact: EntryLog, reference: EntryLog): void {
  assert.equal(compact.firstIndex(), reference.firstIndex());
  assert.equal(compact.lastIndex(), reference.lastIndex());
  assert.equal(compact.compactedIndex(), reference.compactedIndex());
  for (let i = compact.compactedIndex() - 1; i <= compact.lastIndex() + 1; i++) assert.equal(compact.term(i), reference.term(i), `term(${i})`);
  assert.deepEqual(plain(compact.all()), plain(reference.all()));
}

/** Index `at` folded into [firstIndex, lastIndex + 1] (where an append may go). */
function appendIndex(log: EntryLog, at: number): number {
  const lo = log.firstIndex();
  return lo + (at % (log.lastIndex() + 2 - lo));
}

function dataOf(index: number, byte: number): Uint8Array {
  return Uint8Array.from([index & 0xff, byte, 7]);
}

describe('EntryLog holding recovered entries in compact form', () => {
  test('behaves as a log of Entry objects through recovery, a restart view and later writes', () => {
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 60, size: 'max' }), fc.array(opArb, { maxLength: 20, size: 'max' }), (recoveryOps, laterOps) => {
        const compact = new EntryLog();
        const reference = new EntryLog();
        // Recovery: records as they come from the segment files.
        for (const op of recoveryOps) {
          if (op.kind === 'append') {
            const index = appendIndex(compact, op.at);
            const data = dataOf(index, op.byte);
            const entry: Entry = { index, term: op.term, type: TYPES[op.typeCode]!, data };
            if (op.slowForm === true) {
              compact.appendOne(entry);
            } else {
              // The data sits inside a larger buffer, itself a view at an offset into its
              // ArrayBuffer, as a segment file read into Node's buffer pool would be.
              const buffer = new Uint8Array(new ArrayBuffer(data.length + 32), 11, data.length + 9);
              buffer.set(data, 4);
              compact.appendStored(index, op.term, op.typeCode, buffer, 4, data.length);
            }
            reference.appendOne(entry);
          } else if (op.kind === 'compact') {
            const index = compact.compactedIndex() + (op.at % (compact.lastIndex() + 3 - compact.compactedIndex()));
            const term = reference.term(index) ?? op.term;
            const keep = index <= reference.lastIndex() && reference.term(index) === term && op.at % 5 !== 0;
            compact.applyCompaction(index, term, keep);
            reference.applyCompaction(index, term, keep);
          } else {
            compact.restartAt(op.at, op.term);
            reference.restartAt(op.at, op.term);
          }
          assertSame(compact, reference);
        }
        // The core restarts from this view; it must read the same entries as the log...
        const view = compact.restartEntries();
        const atRestart = plain(reference.all());
        assert.deepEqual(plain(entriesOf(view)), atRestart);
        // ...and keep reading them while the log is overwritten and compacted.
        for (const op of laterOps) {
          if (op.kind === 'append') {
            const index = appendIndex(compact, op.at);
            const entry: Entry = { index, term: op.term, type: TYPES[op.typeCode]!, data: dataOf(index, op.byte) };
            compact.append([entry]);
            reference.append([entry]);
          } else {
            const index = compact.compactedIndex() + (op.at % (compact.lastIndex() + 2 - compact.compactedIndex()));
            const term = reference.term(index) ?? op.term;
            assert.equal(compact.compact(index, term), reference.compact(index, term));
          }
          assertSame(compact, reference);
        }
        assert.deepEqual(plain(entriesOf(view)), atRestart);
      }),
      { numRuns: 300 },
    );
  });

  test('large ranges read from both regions (no argument-list limit)', () => {
    const log = new EntryLog();
    const buffer = Uint8Array.from([9, 8, 7]);
    for (let i = 1; i <= 10; i++) log.appendStored(i, 1, 0, buffer, 0, 3);
    const count = 250_000;
    for (let i = 11; i <= count; i++) log.appendOne({ index: i, term: 2, type: 'normal', data: buffer });
    const all = log.all();
    assert.equal(all.length, count);
    assert.equal(all[9]!.term, 1);
    assert.equal(all[10]!.term, 2);
    assert.equal(all[count - 1]!.index, count);
    assert.equal(log.entries(20, count + 1).length, count - 19);
    const view = log.restartEntries();
    assert.equal(entriesOf(view).length, count);
  });

  test('the restart view keeps only the segment buffers its entries are in', () => {
    const log = new EntryLog();
    const segments = [new Uint8Array(8), new Uint8Array(8), new Uint8Array(8)];
    // Entries 1-3 in segment 0, 4-6 in segment 1, 7-9 in segment 2.
    for (let i = 1; i <= 9; i++) log.appendStored(i, 1, 0, segments[Math.floor((i - 1) / 3)]!, i % 3, 2);
    // A snapshot at 6 whose older segments were not yet deleted at the crash.
    log.applyCompaction(6, 1, true);
    const view = log.restartEntries();
    assert.deepEqual(
      plain(entriesOf(view)).map(([index]) => index),
      [7, 8, 9],
    );
    const stored = (log as unknown as { stored: { bufferCount: number } }).stored;
    assert.equal(stored.bufferCount, 1);
  });

  test('recovery may not add to the compact entries once a restart view was handed out', () => {
    const log = new EntryLog();
    const buffer = Uint8Array.from([1, 2, 3]);
    log.appendStored(1, 1, 0, buffer, 0, 3);
    const view = log.restartEntries();
    assert.throws(() => log.appendStored(2, 1, 0, buffer, 0, 3), /after seal/);
    assert.deepEqual(plain(entriesOf(view)), [[1, 1, 'normal', [1, 2, 3]]]);
  });
});
