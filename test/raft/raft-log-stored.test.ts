// A node restarting from its files hands the core its entries as StoredEntries (a
// compact store read on demand) instead of an array: the Raft log must behave exactly
// the same either way, through appends over a conflicting suffix, commits, applies and
// compactions.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { RaftLog } from '../../src/raft/raft-log.ts';
import { storedEntriesOf } from '../../src/raft/stored-entries.ts';
import type { Entry, EntryType, SnapshotMeta } from '../../src/raft/index.ts';

const TYPES: readonly EntryType[] = ['normal', 'noop', 'conf'];

type Op =
  | { kind: 'append'; at: number; count: number; bump: number; typeCode: number }
  | { kind: 'commit'; at: number }
  | { kind: 'stable' }
  | { kind: 'apply'; at: number }
  | { kind: 'compact'; at: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant('append' as const), at: fc.nat(40), count: fc.integer({ min: 1, max: 4 }), bump: fc.integer({ min: 0, max: 2 }), typeCode: fc.integer({ min: 0, max: 2 }) }),
  fc.record({ kind: fc.constant('commit' as const), at: fc.nat(40) }),
  fc.record({ kind: fc.constant('stable' as const) }),
  fc.record({ kind: fc.constant('apply' as const), at: fc.nat(40) }),
  fc.record({ kind: fc.constant('compact' as const), at: fc.nat(40) }),
);

function entry(index: number, term: number, typeCode: number): Entry {
  return { index, term, type: TYPES[typeCode]!, data: Uint8Array.from([index & 0xff, term, typeCode]) };
}

function plain(entries: readonly Entry[]): Array<[number, number, EntryType, number[]]> {
  return entries.map((e) => [e.index, e.term, e.type, [...e.data]]);
}

/** Folds `at` into [lo, hi] (lo when the range is empty). */
function within(at: number, lo: number, hi: number): number {
  return hi < lo ? lo : lo + (at % (hi - lo + 1));
}

function assertSame(stored: RaftLog, array: RaftLog): void {
  assert.equal(stored.lastIndex(), array.lastIndex());
  assert.equal(stored.firstIndex(), array.firstIndex());
  assert.equal(stored.stable, array.stable);
  assert.equal(stored.committed, array.committed);
  for (let i = stored.snapshotIndex - 1; i <= stored.lastIndex() + 1; i++) assert.equal(stored.term(i), array.term(i), `term(${i})`);
  if (stored.lastIndex() >= stored.firstIndex()) {
    assert.deepEqual(plain(stored.slice(stored.firstIndex(), stored.lastIndex() + 1)), plain(array.slice(array.firstIndex(), array.lastIndex() + 1)));
  }
  assert.deepEqual(plain(stored.unstableEntries()), plain(array.unstableEntries()));
  assert.deepEqual(plain(stored.confEntries()), plain(array.confEntries()));
}

describe('RaftLog restarted from StoredEntries', () => {
  test('behaves as one restarted from an array of the same entries', () => {
    const restartArb = fc.record({
      snapshotIndex: fc.nat(5),
      overlap: fc.nat(3),
      terms: fc.array(fc.integer({ min: 0, max: 1 }), { maxLength: 30 }),
      typeCodes: fc.array(fc.integer({ min: 0, max: 2 }), { maxLength: 30 }),
      commitAt: fc.nat(40),
    });
    fc.assert(
      fc.property(restartArb, fc.array(opArb, { maxLength: 40 }), (restart, ops) => {
        // A restart log: entries from at most `overlap` below the snapshot, terms non-decreasing.
        const first = Math.max(1, restart.snapshotIndex + 1 - restart.overlap);
        const entries: Entry[] = [];
        let term = 1;
        restart.terms.forEach((bump, i) => {
          term += bump;
          entries.push(entry(first + i, term, restart.typeCodes[i] ?? 0));
        });
        const last = Math.max(restart.snapshotIndex, first + entries.length - 1);
        const snapshot: SnapshotMeta | null =
          restart.snapshotIndex === 0 ? null : { index: restart.snapshotIndex, term: entries.find((e) => e.index === restart.snapshotIndex)?.term ?? 1, conf: { voters: [1], learners: [] } };
        const commit = within(restart.commitAt, restart.snapshotIndex, last);
        const stored = new RaftLog(snapshot, storedEntriesOf(entries), commit);
        const array = new RaftLog(snapshot, entries, commit);
        assertSame(stored, array);
        for (const op of ops) {
          switch (op.kind) {
            case 'append': {
              // Never over committed entries, terms never below the previous entry's.
              const at = within(op.at, array.committed + 1, array.lastIndex() + 1);
              let t = (array.term(at - 1) ?? 0) + op.bump;
              const batch: Entry[] = [];
              for (let i = 0; i < op.count; i++) batch.push(entry(at + i, Math.max(t, 1), op.typeCode));
              t = 0;
              stored.append(batch);
              array.append(batch);
              break;
            }
            case 'commit': {
              const at = within(op.at, array.committed, array.lastIndex());
              assert.equal(stored.commitTo(at), array.commitTo(at));
              break;
            }
            case 'stable':
              stored.stableTo(stored.lastIndex(), stored.lastTerm());
              array.stableTo(array.lastIndex(), array.lastTerm());
              break;
            case 'apply': {
              assert.deepEqual(plain(stored.nextCommittedEntries(3)), plain(array.nextCommittedEntries(3)));
              const to = within(op.at, array.applied, Math.min(array.committed, array.stable));
              stored.appliedTo(to);
              array.appliedTo(to);
              break;
            }
            case 'compact': {
              const at = within(op.at, array.snapshotIndex, array.applied);
              stored.compact(at);
              array.compact(at);
              break;
            }
          }
          assertSame(stored, array);
        }
      }),
      { numRuns: 300 },
    );
  });

  test('stored entries must reach the snapshot: a gap after it is refused', () => {
    const entries = [entry(7, 1, 0), entry(8, 1, 0)];
    assert.throws(() => new RaftLog({ index: 5, term: 1, conf: { voters: [1], learners: [] } }, storedEntriesOf(entries), 5), /after snapshot/);
  });
});
