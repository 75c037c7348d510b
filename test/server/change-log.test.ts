// The retained change log and its tokens (src/node/change-log.ts, change-events.ts).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { StoreError } from '../../src/store/errors.ts';
import type { Command, CommandResult } from '../../src/store/commands.ts';
import type { Document } from '../../src/store/types.ts';
import {
  CHANGE_EVENT_FIELDS_BYTES,
  ChangeFeed,
  compareChangeTokens,
  formatChangeToken,
  parseChangeToken,
  tokenOf,
  type ChangeToken,
} from '../../src/node/change-log.ts';
import { changesOf } from '../../src/node/change-events.ts';
import { encodeCommand } from '../../src/node/command-codec.ts';

/** An insert of `count` documents applied at log index `index`: `count` changes in one entry. */
/** Returns what each of its changes counts towards the size bound. */
function applyInsert(feed: ChangeFeed, index: number, count: number, size = 1): number {
  const docs: Document[] = Array.from({ length: count }, (_, i) => ({ _id: `d${index}-${i}`, _rev: index, pad: 'x'.repeat(size) }));
  const command: Command = { type: 'insert', collection: 'c', docs, timeMs: 1000 + index };
  const data = encodeCommand(command);
  feed.applied(command, { ok: true, value: docs }, { index, term: 2, data });
  return Math.ceil(data.byteLength / Math.max(1, count)) + CHANGE_EVENT_FIELDS_BYTES;
}

/** An entry applied at `index` that changes nothing (a failed write). */
function applyNoChange(feed: ChangeFeed, index: number): void {
  const command: Command = { type: 'insert', collection: 'c', docs: [{ _id: 'dup' }], timeMs: 1000 + index };
  feed.applied(command, { ok: false, error: { code: 'CONFLICT', message: 'dup' } }, { index, term: 2, data: encodeCommand(command) });
}

const ids = (feed: ChangeFeed, after: ChangeToken): string[] => feed.read(after).map((r) => r.event.eventId);

function expectExpired(call: () => unknown): void {
  assert.throws(call, (error: unknown) => error instanceof StoreError && error.code === 'CHANGES_EXPIRED');
}

describe('change tokens', () => {
  test('parse, format and order', () => {
    assert.deepEqual(parseChangeToken('12.3'), { sequence: 12, position: 3 });
    assert.deepEqual(parseChangeToken('12'), { sequence: 12, position: Infinity });
    for (const bad of ['', 'x', '1.', '.1', '-1', '1.2.3', '01', '1.01', '1e3', ' 1']) assert.equal(parseChangeToken(bad), null, bad);
    assert.equal(formatChangeToken({ sequence: 12, position: Infinity }), '12');
    assert.ok(compareChangeTokens({ sequence: 5, position: 9 }, { sequence: 6, position: 0 }) < 0);
    assert.ok(compareChangeTokens({ sequence: 6, position: 1 }, { sequence: 6, position: 0 }) > 0);
    assert.ok(compareChangeTokens({ sequence: 6, position: 7 }, { sequence: 6, position: Infinity }) < 0);
    assert.equal(compareChangeTokens({ sequence: 6, position: Infinity }, { sequence: 6, position: Infinity }), 0);
  });

  test('an event id parses back to its token', () => {
    fc.assert(
      fc.property(fc.nat({ max: 2 ** 40 }), fc.nat({ max: 10_000 }), (sequence, position) => {
        const token = parseChangeToken(formatChangeToken({ sequence, position }));
        assert.deepEqual(token, { sequence, position });
      }),
    );
  });
});

describe('the retained change log', () => {
  test('read(after) is exact inside an entry of several changes', () => {
    const feed = new ChangeFeed();
    applyInsert(feed, 1, 1);
    applyInsert(feed, 2, 3);
    applyInsert(feed, 3, 1);
    assert.deepEqual(ids(feed, { sequence: 0, position: Infinity }), ['1.0', '2.0', '2.1', '2.2', '3.0']);
    assert.deepEqual(ids(feed, { sequence: 2, position: 0 }), ['2.1', '2.2', '3.0']);
    assert.deepEqual(ids(feed, { sequence: 2, position: 2 }), ['3.0']);
    assert.deepEqual(ids(feed, { sequence: 2, position: Infinity }), ['3.0']);
    // A token past what was applied: nothing yet.
    assert.deepEqual(ids(feed, { sequence: 9, position: 0 }), []);
  });

  test('bounded by count: the oldest leave, and a token before them is expired', () => {
    const feed = new ChangeFeed({ eventsMax: 4, bytesMax: 1 << 20 });
    applyInsert(feed, 1, 2);
    applyInsert(feed, 2, 3);
    assert.equal(feed.size, 4);
    assert.deepEqual(feed.floor, { sequence: 1, position: 0 });
    // After 1.0 everything is still known; before it, not.
    assert.deepEqual(ids(feed, { sequence: 1, position: 0 }), ['1.1', '2.0', '2.1', '2.2']);
    expectExpired(() => feed.read({ sequence: 0, position: Infinity }));
  });

  test("bounded by size (the entries' encoded size); the newest stays even when alone over it", () => {
    const feed = new ChangeFeed({ eventsMax: 1000, bytesMax: 2000 });
    for (let i = 1; i <= 20; i++) applyInsert(feed, i, 1, 500);
    assert.ok(feed.retainedBytes <= 2000, `${feed.retainedBytes} bytes retained`);
    assert.ok(feed.size >= 2 && feed.size < 5, `${feed.size} retained`);
    applyInsert(feed, 21, 1, 5000);
    assert.equal(feed.size, 1);
    assert.deepEqual(ids(feed, feed.floor), ['21.0']);
  });

  test('restartAt (a snapshot recovered or installed): what came before is unknown', () => {
    const feed = new ChangeFeed();
    applyInsert(feed, 1, 1);
    feed.restartAt(10);
    assert.equal(feed.size, 0);
    expectExpired(() => feed.read({ sequence: 1, position: 0 }));
    // A token inside the snapshot's entry: whether changes of it followed is unknown.
    expectExpired(() => feed.read({ sequence: 10, position: 0 }));
    applyInsert(feed, 11, 1);
    assert.deepEqual(ids(feed, { sequence: 10, position: Infinity }), ['11.0']);
  });

  test('a replay of the recovered log retains what building every entry would, when each entry holds a change', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 12 }),
        fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 1, maxLength: 40, size: 'max' }),
        fc.integer({ min: 0, max: 5 }),
        (eventsMax, counts, start) => {
          const bounds = { eventsMax, bytesMax: 1 << 20 };
          const full = new ChangeFeed(bounds);
          const replayed = new ChangeFeed(bounds);
          full.restartAt(start);
          replayed.restartAt(start);
          const last = start + counts.length;
          replayed.skipReplayedBefore(last);
          counts.forEach((count, i) => {
            applyInsert(full, start + 1 + i, count);
            applyInsert(replayed, start + 1 + i, count);
          });
          assert.equal(replayed.size, full.size);
          assert.deepEqual(replayed.latest(), full.latest());
          assert.deepEqual(ids(replayed, replayed.floor), ids(full, full.floor));
          // The floor may differ only in where inside an entry it is: never a change missing.
          assert.ok(compareChangeTokens(replayed.floor, full.floor) <= 0 || ids(full, replayed.floor).length === replayed.size);
        },
      ),
      { numRuns: 300 },
    );
  });

  test('a replay skips the changes of all but the last eventsMax entries; a token among them is expired, none is lost', () => {
    const feed = new ChangeFeed({ eventsMax: 3, bytesMax: 1 << 20 });
    feed.restartAt(0);
    feed.skipReplayedBefore(10);
    // Entries 1 to 7 (all but the last 3 of 10) are skipped, with a change or without.
    for (let i = 1; i <= 6; i++) applyNoChange(feed, i);
    applyInsert(feed, 7, 1);
    assert.equal(feed.size, 0);
    assert.deepEqual(feed.floor, { sequence: 7, position: Infinity });
    applyInsert(feed, 8, 1);
    // Entries 9 and 10 hold no change: building every entry would have kept 7 too.
    for (let i = 9; i <= 10; i++) applyNoChange(feed, i);
    assert.deepEqual(ids(feed, feed.floor), ['8.0']);
    expectExpired(() => feed.read({ sequence: 6, position: Infinity }));
    applyInsert(feed, 11, 1);
    assert.deepEqual(ids(feed, { sequence: 7, position: Infinity }), ['8.0', '11.0']);
  });

  test('a replay skips nothing a listener would hear, nor anything after the first change retained', () => {
    const feed = new ChangeFeed({ eventsMax: 5, bytesMax: 1 << 20 });
    feed.restartAt(0);
    feed.skipReplayedBefore(10);
    const seen: string[] = [];
    const unsubscribe = feed.subscribe((event) => seen.push(event.eventId));
    applyInsert(feed, 1, 1);
    applyInsert(feed, 2, 1);
    assert.deepEqual(seen, ['1.0', '2.0']);
    unsubscribe();
    applyInsert(feed, 3, 1);
    assert.deepEqual(ids(feed, feed.floor), ['1.0', '2.0', '3.0'], 'no gap after the changes retained');
  });

  test('listeners get each change once, in order, after it is retained', () => {
    const feed = new ChangeFeed({ eventsMax: 2, bytesMax: 1 << 20 });
    const seen: string[] = [];
    const unsubscribe = feed.subscribe((event) => {
      seen.push(event.eventId);
      // Retained by the time the listener runs: a stream may resume from it at once.
      assert.deepEqual(ids(feed, { sequence: event.sequence, position: event.position - 1 }).at(0), event.eventId);
    });
    applyInsert(feed, 1, 2);
    applyInsert(feed, 2, 1);
    unsubscribe();
    applyInsert(feed, 3, 1);
    assert.deepEqual(seen, ['1.0', '1.1', '2.0']);
  });

  test('a retained log read from random tokens gives exactly the changes after them', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 4 }), { minLength: 1, maxLength: 30, size: 'max' }),
        fc.integer({ min: 1, max: 40 }),
        fc.nat({ max: 35 }),
        fc.nat({ max: 5 }),
        (perEntry, eventsMax, seq, pos) => {
          const feed = new ChangeFeed({ eventsMax, bytesMax: 1 << 30 });
          const all: ChangeToken[] = [];
          perEntry.forEach((count, i) => {
            applyInsert(feed, i + 1, count);
            for (let p = 0; p < count; p++) all.push({ sequence: i + 1, position: p });
          });
          const after = { sequence: seq, position: pos };
          const expected = all.filter((t) => compareChangeTokens(t, after) > 0);
          const droppedAfter = all.slice(0, Math.max(0, all.length - eventsMax)).some((t) => compareChangeTokens(t, after) > 0);
          if (droppedAfter) expectExpired(() => feed.read(after));
          else
            assert.deepEqual(
              feed.read(after).map((r) => tokenOf(r.event)),
              expected,
            );
        },
      ),
    );
  });
  test('bounds by count and size evict exactly what evicting one change at a time would (a model)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ count: fc.integer({ min: 0, max: 6 }), size: fc.integer({ min: 1, max: 400 }) }), { minLength: 1, maxLength: 25 }),
        fc.integer({ min: 1, max: 30 }),
        fc.integer({ min: 1, max: 6000 }),
        fc.nat({ max: 27 }),
        fc.nat({ max: 7 }),
        (entries, eventsMax, bytesMax, seq, pos) => {
          const feed = new ChangeFeed({ eventsMax, bytesMax });
          // The model: every change with its size, the oldest leaving one by one.
          const model: { token: ChangeToken; bytes: number }[] = [];
          let floor: ChangeToken = { sequence: 0, position: 0 };
          entries.forEach(({ count, size }, i) => {
            const index = i + 1;
            const perChange = applyInsert(feed, index, count, size);
            if (count === 0) return;
            for (let p = 0; p < count; p++) model.push({ token: { sequence: index, position: p }, bytes: perChange });
            let bytes = model.reduce((sum, c) => sum + c.bytes, 0);
            while (model.length > 1 && (model.length > eventsMax || bytes > bytesMax)) {
              const oldest = model.shift()!;
              bytes -= oldest.bytes;
              floor = oldest.token;
            }
            assert.equal(feed.size, model.length);
            assert.equal(feed.retainedBytes, bytes);
            assert.deepEqual(feed.floor, floor);
          });
          const after = { sequence: seq, position: pos };
          if (compareChangeTokens(after, feed.floor) < 0) expectExpired(() => feed.read(after));
          else
            assert.deepEqual(
              feed.read(after).map((r) => tokenOf(r.event)),
              model.map((c) => c.token).filter((t) => compareChangeTokens(t, after) > 0),
            );
        },
      ),
    );
  });
});

describe('change events of an entry', () => {
  const doc = (id: string, rev: number): Document => ({ _id: id, _rev: rev });

  test('a transaction: one event per changed document, positions in op order, fields from the entry', () => {
    const command: Command = {
      type: 'tx',
      ops: [
        { type: 'insert', collection: 'a', docs: [{ _id: 'x' }] },
        { type: 'update', collection: 'a', filter: {}, update: { $set: { v: 1 } }, multi: true, upsert: false },
        { type: 'remove', collection: 'b', filter: {}, multi: true },
      ],
      if: [],
      timeMs: 1234,
      idempotency: { key: 'k', digest: 'd', user: 'ann' },
    };
    const result: CommandResult = {
      ok: true,
      value: [[doc('x', 7)], { matched: 2, modified: 1, docs: [doc('y', 7), doc('unchanged', 3)] }, { removed: 1, ids: ['z'] }],
    };
    const events = changesOf(command, result, { index: 7, term: 3 });
    assert.deepEqual(
      events.map((e) => [e.eventId, e.collection, e.aggregateId, e.eventType]),
      [
        ['7.0', 'a', 'x', 'Created'],
        ['7.1', 'a', 'y', 'Updated'],
        ['7.2', 'b', 'z', 'Deleted'],
      ],
    );
    for (const e of events) {
      assert.equal(e.sequence, 7);
      assert.equal(e.term, 3);
      assert.equal(e.timestamp, 1234);
      assert.equal(e.user, 'ann');
    }
    assert.equal(events[2]!.data, undefined);
  });

  test("the user is the entry's, or each batch insert's own, as in history records", () => {
    const update: Command = { type: 'update', collection: 'a', filter: {}, update: { $set: { v: 1 } }, multi: true, upsert: false, user: 'bob' };
    const updated = changesOf(update, { ok: true, value: { matched: 1, modified: 1, docs: [doc('y', 4)] } }, { index: 4, term: 1 });
    assert.deepEqual(
      updated.map((e) => e.user),
      ['bob'],
    );
    const batch: Command = {
      type: 'batch',
      ops: [
        { type: 'insert', collection: 'a', docs: [{ _id: 'x' }], user: 'ann' },
        { type: 'insert', collection: 'a', docs: [{ _id: 'y' }], idempotency: { key: 'k', digest: 'd', user: 'bob' } },
        { type: 'insert', collection: 'a', docs: [{ _id: 'z' }] },
      ],
    };
    const value = [doc('x', 5), doc('y', 5), doc('z', 5)].map((d) => ({ ok: true as const, value: [d] }));
    const events = changesOf(batch, { ok: true, value }, { index: 5, term: 1 });
    assert.deepEqual(
      events.map((e) => [e.aggregateId, Object.hasOwn(e, 'user') ? e.user : 'no field']),
      [
        ['x', 'ann'],
        ['y', 'bob'],
        ['z', 'no field'],
      ],
    );
  });

  test('a failed or replayed result changes nothing: no events', () => {
    const command: Command = { type: 'insert', collection: 'a', docs: [{ _id: 'x' }] };
    assert.deepEqual(changesOf(command, { ok: false, error: { code: 'CONFLICT', message: 'dup' } }, { index: 1, term: 1 }), []);
    assert.deepEqual(changesOf(command, { ok: true, value: [doc('x', 1)], replayed: true }, { index: 1, term: 1 }), []);
  });
});
