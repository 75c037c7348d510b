// Exactly-once writes in the state machine (Raft thesis §6.3, issue #12): a keyed write
// applies at most once; its first result is answered to every later entry with its key;
// records expire by log time and by count, deterministically, and travel in snapshots.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Store } from '../../src/store/store.ts';
import { encodeSnapshotData, snapshotParts, SNAPSHOT_VERSION_WITH_SESSIONS } from '../../src/store/snapshot.ts';
import type { BatchCommand, Command, CommandResult, InsertCommand, UpdateResultValue } from '../../src/store/commands.ts';
import fc from 'fast-check';
import { ANSWERED_THROUGH_RULES } from '../../src/store/commands.ts';
import {
  DEFAULT_SESSION_BOUNDS,
  SessionTable,
  sessionKey,
  IDEMPOTENCY_RECORD_OVERHEAD_BYTES,
  LOG_CLOCK_STEP_MS_MAX,
  type IdempotencyTag,
  type SessionBounds,
} from '../../src/store/sessions.ts';
import { Packr } from 'msgpackr';

const T0 = 1_700_000_000_000;

function tag(key: string, digest = 'd1', user?: string): IdempotencyTag {
  return { key, digest, ...(user !== undefined ? { user } : {}) };
}

function insert(id: string, key?: IdempotencyTag, extra: Record<string, number> = {}): InsertCommand {
  return { type: 'insert', collection: 'c', docs: [{ _id: id, ...extra }], ...(key !== undefined ? { idempotency: key } : {}) };
}

class Log {
  index = 0;
  constructor(readonly store: Store = new Store()) {
    this.index = store.lastApplied;
  }
  apply(command: Command, timeMs?: number): CommandResult {
    return this.store.apply(timeMs === undefined ? command : { ...command, timeMs }, ++this.index);
  }
}

describe('sessions: a keyed write applies once', () => {
  test('a second entry with the same key applies nothing and answers the first result, replayed', () => {
    const log = new Log();
    // The server generates a fresh _id for each try: a retry is a different command.
    const first = log.apply(insert('gen-1', tag('client.1')), T0);
    const second = log.apply(insert('gen-2', tag('client.1')), T0 + 5);
    assert.equal(first.ok, true);
    assert.equal(first.replayed, undefined);
    assert.equal(second.replayed, true);
    assert.deepEqual({ ...second, replayed: undefined }, { ...first, replayed: undefined });
    assert.deepEqual(
      log.store.find('c').map((d) => d._id),
      ['gen-1'],
    );
    // The index is consumed either way.
    assert.equal(log.store.lastApplied, 2);
  });

  test('the first result is recorded even when it is an error decided by the state machine', () => {
    const log = new Log();
    log.apply(insert('x'), T0);
    const dup = log.apply(insert('x', tag('k')), T0);
    assert.equal(dup.ok, false);
    log.apply({ type: 'remove', collection: 'c', filter: {}, multi: true }, T0);
    // The retry does not insert now that "x" is free: it answers the 409 of the first try.
    const again = log.apply(insert('x', tag('k')), T0);
    assert.equal(again.ok, false);
    assert.equal(again.replayed, true);
    assert.equal(!again.ok && again.error.code, 'CONFLICT');
    assert.equal(log.store.count('c'), 0);
  });

  test('the same key with another digest is IDEMPOTENCY_KEY_REUSED, and applies nothing', () => {
    const log = new Log();
    log.apply(insert('a', tag('k', 'one')), T0);
    const other = log.apply(insert('b', tag('k', 'two')), T0);
    assert.equal(!other.ok && other.error.code, 'IDEMPOTENCY_KEY_REUSED');
    assert.deepEqual(
      log.store.find('c').map((d) => d._id),
      ['a'],
    );
  });

  test('keys are scoped per user', () => {
    const log = new Log();
    log.apply(insert('a', tag('k', 'd', 'alice')), T0);
    const bob = log.apply(insert('b', tag('k', 'd', 'bob')), T0);
    assert.equal(bob.ok, true);
    assert.equal(bob.replayed, undefined);
    const anonymous = log.apply(insert('c', tag('k', 'd')), T0);
    assert.equal(anonymous.replayed, undefined);
    assert.equal(log.store.count('c'), 3);
  });

  test('updates, transactions and removes replay too ($inc applied once)', () => {
    const log = new Log();
    log.apply(insert('n', undefined, { v: 0 }), T0);
    const inc: Command = { type: 'update', collection: 'c', filter: { _id: 'n' }, update: { $inc: { v: 1 } }, multi: false, upsert: false };
    log.apply({ ...inc, idempotency: tag('u') }, T0);
    log.apply({ ...inc, idempotency: tag('u') }, T0);
    const tx: Command = { type: 'tx', ops: [inc], if: [], idempotency: tag('t') };
    log.apply(tx, T0);
    const replayed = log.apply(tx, T0);
    assert.equal(replayed.replayed, true);
    assert.equal(log.store.get('c', 'n')?.['v'], 2);
  });

  test('a multi-document update is recorded with its counts, not its documents', () => {
    const log = new Log();
    log.apply({ type: 'insert', collection: 'c', docs: [{ _id: 'a' }, { _id: 'b' }] }, T0);
    const many: Command = {
      type: 'update',
      collection: 'c',
      filter: {},
      update: { $set: { x: 1 } },
      multi: true,
      upsert: false,
      idempotency: tag('m'),
    };
    const first = log.apply(many, T0);
    assert.ok(first.ok && (first.value as UpdateResultValue).docs.length === 2, 'the first caller gets the documents');
    const again = log.apply(many, T0);
    assert.deepEqual(again, { ok: true, value: { matched: 2, modified: 2, docs: [] }, replayed: true });
  });

  test("a multi-document remove is recorded with its count, not its ids (the reviewer's remove-ids)", () => {
    const log = new Log();
    const docs = Array.from({ length: 1000 }, (_, k) => ({ _id: `some-fairly-long-document-id-${k}` }));
    log.apply({ type: 'insert', collection: 'c', docs }, T0);
    const many: Command = { type: 'remove', collection: 'c', filter: {}, multi: true, idempotency: tag('r') };
    const first = log.apply(many, T0);
    assert.ok(first.ok && (first.value as { ids: string[] }).ids.length === 1000, 'the first caller gets the ids');
    assert.ok(log.store.sessions.bytes < 100 + IDEMPOTENCY_RECORD_OVERHEAD_BYTES, `${log.store.sessions.bytes} bytes recorded`);
    assert.deepEqual(log.apply(many, T0), { ok: true, value: { removed: 1000, ids: [] }, replayed: true });
    const tx: Command = { type: 'tx', ops: [{ type: 'remove', collection: 'd', filter: {}, multi: true }], if: [], idempotency: tag('t') };
    log.apply({ type: 'insert', collection: 'd', docs: [{ _id: 'x' }] }, T0);
    log.apply(tx, T0);
    assert.deepEqual(log.apply(tx, T0), { ok: true, value: [{ removed: 1, ids: [] }], replayed: true });
  });

  test('a batch dedupes per op, a key repeated inside one batch included', () => {
    const log = new Log();
    log.apply(insert('before', tag('b.1')), T0);
    const batch: BatchCommand = {
      type: 'batch',
      ops: [insert('g1', tag('b.1')), insert('g2', tag('b.2')), insert('g3', tag('b.2')), insert('g4'), insert('g5', tag('b.2', 'other'))],
    };
    const r = log.apply(batch, T0);
    assert.ok(r.ok);
    const each = r.value as CommandResult<'insert'>[];
    assert.deepEqual(
      each.map((x) => [x.ok, x.replayed ?? false]),
      [
        [true, true],
        [true, false],
        [true, true],
        [true, false],
        [false, false],
      ],
    );
    assert.equal(!each[4]!.ok && each[4]!.error.code, 'IDEMPOTENCY_KEY_REUSED');
    assert.deepEqual(
      log.store
        .find('c')
        .map((d) => d._id)
        .sort(),
      ['before', 'g2', 'g4'],
    );
  });

  test('a malformed tag is refused and records nothing; tags are refused inside a transaction', () => {
    const log = new Log();
    const bad = log.apply({ ...insert('a'), idempotency: { key: 'has space', digest: 'd' } }, T0);
    assert.equal(!bad.ok && bad.error.code, 'VALIDATION');
    assert.equal(log.store.sessions.size, 0);
    const inTx = log.apply({ type: 'tx', ops: [insert('b', tag('k'))], if: [] }, T0);
    assert.equal(!inTx.ok && inTx.error.code, 'VALIDATION');
    assert.equal(log.store.count('c'), 0);
  });
});

describe('sessions: expiry by log time and by bounds', () => {
  const small: SessionBounds = { ...DEFAULT_SESSION_BOUNDS, windowMs: 1000, recordsMax: 3, resultBytesMax: 1_000_000 };

  test('a record expires once the LOG clock passes its window; then the key may apply again', () => {
    const log = new Log(new Store(undefined, small));
    log.apply(insert('a', tag('k')), T0);
    assert.equal(log.apply(insert('b', tag('k')), T0 + 999).replayed, true);
    // A stamp behind the clock (a new leader's slower clock) does not move it back.
    log.apply({ type: 'noop' }, T0 - 50_000);
    assert.equal(log.store.logTimeMs, T0 + 999);
    log.apply({ type: 'noop' }, T0 + 1000);
    assert.equal(log.store.sessions.size, 0);
    assert.equal(log.apply(insert('c', tag('k')), T0 + 1001).replayed, undefined);
    assert.equal(log.store.count('c'), 2);
  });

  test("a leader clock far ahead moves the log clock by at most LOG_CLOCK_STEP_MS_MAX per entry (the reviewer's skew)", () => {
    const log = new Log();
    const first = log.apply(insert('gen-1', tag('client.1')), T0);
    // A leader whose clock is 25 h ahead proposes one entry.
    log.apply({ ...insert('x'), collection: 'other' }, T0 + 25 * 3600_000);
    assert.equal(log.store.logTimeMs, T0 + LOG_CLOCK_STEP_MS_MAX);
    assert.equal(log.store.sessions.size, 1, 'the table did not expire');
    // A leader with the right clock; the client's retry of client.1 (a new generated _id).
    const retry = log.apply(insert('gen-2', tag('client.1')), T0 + 2000);
    assert.equal(retry.replayed, true);
    assert.deepEqual({ ...retry, replayed: undefined }, { ...first, replayed: undefined });
    assert.equal(log.store.count('c'), 1);
    // The clock still moves with honest stamps, a step at a time.
    log.apply({ type: 'noop' }, T0 + LOG_CLOCK_STEP_MS_MAX + 10);
    assert.equal(log.store.logTimeMs, T0 + LOG_CLOCK_STEP_MS_MAX + 10);
  });

  test('no entry time, no expiry: applied state never reads a clock of its own', (t) => {
    // The host's clocks race ahead, a day per reading: a table that took its time from them
    // (instead of from the entries) would expire the record within the 1 s window.
    let wall = T0;
    t.mock.method(Date, 'now', () => (wall += 24 * 3600_000));
    t.mock.method(performance, 'now', () => wall - T0);
    const log = new Log(new Store(undefined, small));
    log.apply(insert('a', tag('k')));
    for (let i = 0; i < 10; i++) log.apply({ type: 'noop' });
    assert.equal(log.store.logTimeMs, 0, 'no entry carried a time: the log clock has not started');
    assert.equal(log.store.sessions.size, 1);
    assert.equal(log.apply(insert('b', tag('k'))).replayed, true);
    assert.equal(log.store.count('c'), 1, 'the retry applied nothing');
  });

  test('past recordsMax the oldest records go first, in log order', () => {
    const log = new Log(new Store(undefined, small));
    for (let i = 1; i <= 4; i++) log.apply(insert(`d${i}`, tag(`k${i}`)), T0);
    assert.equal(log.store.sessions.size, 3);
    assert.equal(log.apply(insert('x', tag('k1')), T0).replayed, undefined, 'k1, the oldest, was evicted');
    assert.equal(log.apply(insert('y', tag('k4')), T0).replayed, true);
  });

  test('past resultBytesMax the oldest records go first, the newest stays', () => {
    const log = new Log(new Store(undefined, { ...DEFAULT_SESSION_BOUNDS, windowMs: 1000, recordsMax: 100, resultBytesMax: 1500 }));
    for (let i = 1; i <= 5; i++) log.apply(insert(`d${i}`, tag(`k${i}`), { pad: 10 ** 20 }), T0);
    assert.ok(log.store.sessions.bytes <= 1500, `${log.store.sessions.bytes} bytes`);
    assert.ok(log.store.sessions.size >= 1 && log.store.sessions.size < 5);
    assert.equal(log.apply(insert('z', tag('k5')), T0).replayed, true);
  });

  test('keys, digests and users count against resultBytesMax, with a per-record overhead', () => {
    const log = new Log(new Store(undefined, { ...DEFAULT_SESSION_BOUNDS, resultBytesMax: 2000 }));
    for (let i = 0; i < 20; i++)
      log.apply({ type: 'noop', idempotency: tag(`${'k'.repeat(120)}.${i}`, 'f'.repeat(64), 'u'.repeat(200)) } as Command, T0);
    const expected = JSON.stringify({ ok: true, value: null }).length + 120 + 2 + 1 + 200 + 64 + IDEMPOTENCY_RECORD_OVERHEAD_BYTES;
    assert.equal(log.store.sessions.bytes, log.store.sessions.size * expected);
    assert.ok(log.store.sessions.size <= 2, `${log.store.sessions.size} records kept`);
  });

  test('expiry pops the front: many records expire in bounded work per apply', () => {
    const log = new Log(new Store(undefined, { ...DEFAULT_SESSION_BOUNDS, windowMs: 10, recordsMax: 1_000_000, resultBytesMax: 1e12 }));
    for (let i = 0; i < 5000; i++) log.apply(insert(`d${i}`, tag(`k${i}`)), T0 + i);
    assert.equal(log.store.sessions.size, 10);
    assert.equal(log.apply(insert('again', tag('k4989')), T0 + 5000).replayed, undefined);
    assert.equal(log.apply(insert('again2', tag('k4995')), T0 + 5000).replayed, true);
  });
});

describe('sessions: client watermarks (a key whose record left the table is told so)', () => {
  const client = (n: number, id = 'A'): string => `${id.repeat(22)}.${n}`;
  const bounds: SessionBounds = { ...DEFAULT_SESSION_BOUNDS, windowMs: 1000, recordsMax: 3, watermarksMax: 2, watermarkWindowMs: 10_000 };
  const expired = (r: CommandResult): boolean => !r.ok && r.error.code === 'IDEMPOTENCY_KEY_EXPIRED';

  test("after expiry, a client-library key at or below its client's watermark is IDEMPOTENCY_KEY_EXPIRED and applies nothing", () => {
    const log = new Log(new Store(undefined, bounds));
    log.apply(insert('a', tag(client(1))), T0);
    log.apply(insert('b', tag(client(2))), T0 + 1);
    log.apply({ type: 'noop' }, T0 + 1001); // both records expire
    assert.equal(log.store.sessions.size, 0);
    const retry = log.apply(insert('a2', tag(client(1))), T0 + 1002);
    assert.ok(expired(retry), JSON.stringify(retry));
    assert.match(!retry.ok ? retry.error.message : '', /can no longer be known/);
    assert.ok(expired(log.apply(insert('b2', tag(client(2))), T0 + 1002)));
    assert.equal(log.store.count('c'), 2, 'nothing applied');
    assert.equal(log.store.sessions.size, 0, 'nothing recorded');
    // The client's next write, another client, and a key of another form apply.
    assert.equal(log.apply(insert('c', tag(client(3))), T0 + 1002).ok, true);
    assert.equal(log.apply(insert('d', tag(client(1, 'B'))), T0 + 1002).ok, true);
    log.apply(insert('e', tag('order.1')), T0 + 1003);
    log.apply({ type: 'noop' }, T0 + 3000);
    const other = log.apply(insert('e2', tag('order.1')), T0 + 3000);
    assert.equal(other.ok, true, 'a key of another form applies again after the window (documented)');
  });

  test('after eviction by count too, and in a batch; keys are scoped per user', () => {
    const log = new Log(new Store(undefined, bounds));
    for (let i = 1; i <= 4; i++) log.apply(insert(`d${i}`, tag(client(i), 'd', 'alice')), T0);
    assert.equal(log.store.sessions.size, 3);
    const r = log.apply({ type: 'batch', ops: [insert('x', tag(client(1), 'd', 'alice')), insert('y', tag(client(1), 'd', 'bob'))] }, T0);
    assert.ok(r.ok);
    const [alice, bob] = r.value as CommandResult<'insert'>[];
    assert.ok(expired(alice!));
    assert.equal(bob!.ok, true);
    assert.equal(log.store.get('c', 'x'), undefined);
  });

  test('watermarks are bounded: by count (least recently raised first) and by log time', () => {
    const log = new Log(new Store(undefined, bounds));
    for (const id of ['A', 'B', 'C']) log.apply(insert(`d${id}`, tag(client(1, id))), T0);
    log.apply({ type: 'noop' }, T0 + 1000);
    assert.equal(log.store.sessions.watermarkCount, 2);
    assert.equal(log.apply(insert('a2', tag(client(1, 'A'))), T0 + 1000).ok, true, "A's watermark was evicted");
    assert.ok(expired(log.apply(insert('c2', tag(client(1, 'C'))), T0 + 1000)));
    for (let t = T0 + 1000; t <= T0 + 11_000; t += 1000) log.apply({ type: 'noop' }, t);
    assert.equal(log.store.sessions.watermarkCount, 1, "C's (raised at T0 + 1000) expired, A's (raised again at T0 + 2000) is left");
    assert.equal(log.apply(insert('c3', tag(client(1, 'C'))), T0 + 11_000).ok, true);
  });

  test('watermarks travel in snapshots (whole and in parts) and go on deciding', () => {
    const log = new Log(new Store(undefined, bounds));
    log.apply(insert('a', tag(client(5))), T0);
    log.apply({ type: 'noop' }, T0 + 1000);
    const data = log.store.captureSnapshot();
    assert.deepEqual(data.sessions?.watermarks, [{ client: 'A'.repeat(22), seq: 5, timeMs: T0 + 1000 }]);
    const whole = new Log(Store.restoreSnapshot(encodeSnapshotData(data), undefined, bounds));
    const parts = new Log(Store.restoreSnapshot(Buffer.concat([...snapshotParts(data)]), undefined, bounds));
    for (const restored of [whole, parts]) {
      assert.deepEqual(restored.store.sessions.toSnapshot(), log.store.sessions.toSnapshot());
      assert.ok(expired(restored.apply(insert('a2', tag(client(4))), T0 + 1001)));
    }
  });
});

describe('sessions: acknowledgements (Idempotency-Answered-Through drops a client’s records)', () => {
  const client = (n: number, id = 'A'): string => `${id.repeat(22)}.${n}`;
  const acked = (key: string, through: number, user?: string): IdempotencyTag => ({ ...tag(key, 'd1', user), answeredThrough: through });
  const expired = (r: CommandResult): boolean => !r.ok && r.error.code === 'IDEMPOTENCY_KEY_EXPIRED';
  /** Stamped under apply rules 4, as a node proposes it. */
  const stamped = (command: Command): Command => ({ ...command, rules: ANSWERED_THROUGH_RULES });

  test("a client's records through answeredThrough go; a late copy of one is EXPIRED and applies nothing; later ones replay", () => {
    const log = new Log();
    for (let i = 1; i <= 3; i++) log.apply(stamped(insert(`d${i}`, tag(client(i)))), T0 + i);
    log.apply(stamped(insert('other', tag(client(1, 'B')))), T0 + 4);
    assert.equal(log.store.sessions.size, 4);
    const bytesBefore = log.store.sessions.bytes;
    assert.equal(log.apply(stamped(insert('d4', acked(client(4), 2))), T0 + 5).ok, true);
    assert.equal(log.store.sessions.size, 3, 'seqs 1 and 2 of A went; 3 and 4 of A and B’s stay');
    assert.ok(log.store.sessions.bytes < bytesBefore + 400, 'their bytes went with them');
    const late = log.apply(stamped(insert('late', tag(client(2)))), T0 + 6);
    assert.ok(expired(late), JSON.stringify(late));
    assert.equal(log.store.get('c', 'late'), undefined);
    assert.equal(log.apply(stamped(insert('d3-again', tag(client(3)))), T0 + 7).replayed, true, 'seq 3 is still in flight: replayed');
    assert.equal(log.apply(stamped(insert('b-again', tag(client(1, 'B')))), T0 + 8).replayed, true, 'another client’s record stays');
    const marks = log.store.sessions.toSnapshot().watermarks;
    assert.deepEqual(
      marks.map((w) => [w.client, w.seq]),
      [['A'.repeat(22), 2]],
    );
  });

  test('a sequential client keeps one record, not one per write, and its queue stays bounded; the table travels in snapshots as it is', () => {
    const log = new Log();
    // A record of another form stays at the front of the queue for its whole window.
    log.apply(stamped(insert('first', tag('order.1'))), T0);
    for (let i = 1; i <= 5000; i++) {
      const r = log.apply(stamped(insert(`d${i}`, i === 1 ? tag(client(i)) : acked(client(i), i - 1))), T0 + i);
      assert.equal(r.ok, true);
    }
    assert.equal(log.store.sessions.size, 2);
    assert.ok(log.store.sessions.queueSlots <= 1100, `the queue keeps ${log.store.sessions.queueSlots} slots of dropped records`);
    const data = log.store.captureSnapshot();
    assert.deepEqual(
      data.sessions?.records.map((r) => r.key),
      ['order.1', client(5000)],
    );
    const restored = new Log(Store.restoreSnapshot(encodeSnapshotData(data)));
    restored.index = log.index;
    assert.deepEqual(restored.store.sessions.toSnapshot(), log.store.sessions.toSnapshot());
    assert.ok(expired(restored.apply(stamped(insert('x', tag(client(4999)))), T0 + 5001)));
    assert.equal(restored.apply(stamped(insert('y', tag(client(5000)))), T0 + 5001).replayed, true);
  });

  test('scoped per user: an acknowledgement drops its own user’s records only', () => {
    const log = new Log();
    log.apply(stamped(insert('a1', tag(client(1), 'd1', 'alice'))), T0);
    log.apply(stamped(insert('b1', tag(client(1), 'd1', 'bob'))), T0);
    log.apply(stamped(insert('a2', acked(client(2), 1, 'alice'))), T0 + 1);
    assert.ok(expired(log.apply(stamped(insert('a1x', tag(client(1), 'd1', 'alice'))), T0 + 2)));
    assert.equal(log.apply(stamped(insert('b1x', tag(client(1), 'd1', 'bob'))), T0 + 2).replayed, true);
  });

  test('in a batch, each op’s acknowledgement counts', () => {
    const log = new Log();
    log.apply(stamped(insert('a1', tag(client(1)))), T0);
    const r = log.apply(stamped({ type: 'batch', ops: [insert('a2', acked(client(2), 1)), insert('a1x', tag(client(1)))] }), T0 + 1);
    assert.ok(r.ok);
    const [second, late] = r.value as CommandResult<'insert'>[];
    assert.equal(second!.ok, true);
    assert.ok(expired(late!));
  });

  test('refused: under apply rules 3 (as that binary refuses it), at or above its own seq, on a key of another form', () => {
    const log = new Log();
    const validation = (r: CommandResult, pattern: RegExp): void => {
      assert.ok(!r.ok && r.error.code === 'VALIDATION', JSON.stringify(r));
      assert.match(!r.ok ? r.error.message : '', pattern);
    };
    validation(log.apply({ ...insert('r3', acked(client(2), 1)), rules: 3 }), /answeredThrough: unknown field/);
    validation(log.apply(insert('r1', acked(client(2), 1))), /answeredThrough: unknown field/);
    const batch = log.apply({ type: 'batch', ops: [insert('rb', acked(client(2), 1))], rules: 3 });
    assert.ok(batch.ok, 'a batch applies each op on its own');
    validation((batch.value as CommandResult<'insert'>[])[0]!, /answeredThrough: unknown field/);
    validation(log.apply(stamped(insert('same', acked(client(2), 2)))), /from 1 to the key's sequence number less one \(1\)/);
    validation(log.apply(stamped(insert('zero', acked(client(2), 0)))), /from 1 to/);
    validation(log.apply(stamped(insert('form', acked('order.7', 1)))), /client library's form/);
    assert.equal(log.store.count('c'), 0);
  });

  test('a dropped record ahead of the queue neither expires nor is evicted in place of a held one', () => {
    const table = new SessionTable<number>({ ...DEFAULT_SESSION_BOUNDS, windowMs: 50, recordsMax: 2 });
    const A = 'A'.repeat(22);
    const B = 'B'.repeat(22);
    table.advance(1);
    table.record(tag(`${A}.1`), 1);
    table.advance(40);
    table.acknowledge(acked(`${A}.2`, 1));
    table.record(tag(`${A}.2`), 2);
    // A.1's time (1) is past the window at 51, A.2's (40) is not: A.2 stays.
    table.advance(51);
    assert.equal(table.lookup(tag(`${A}.2`)).kind, 'replay');
    assert.equal(table.lookup(tag(`${A}.1`)).kind, 'expired');
    // Eviction by count takes the oldest held record (A.2), not the dropped slot before it.
    table.record(tag(`${B}.1`), 1);
    table.record(tag(`${B}.2`), 2);
    assert.deepEqual(
      table.toSnapshot().records.map((r) => r.key),
      [`${B}.1`, `${B}.2`],
    );
    assert.equal(table.size, 2);
  });

  test('the table against a model: any mix of writes (in and out of seq order, retried), acknowledgements, time, eviction and snapshots', () => {
    const bounds: SessionBounds = { ...DEFAULT_SESSION_BOUNDS, windowMs: 50, recordsMax: 3, watermarksMax: 3, watermarkWindowMs: 200 };
    /** `next`: the client's next seq; `jump`: two past it (writes still to come); `gap`: the
     * lowest seq skipped so far (a write that was in flight); `retry`: the highest seq used. */
    type Mode = 'next' | 'jump' | 'gap' | 'retry';
    type Step = { kind: 'write'; client: number; user: number; ack: boolean; mode: Mode } | { kind: 'time'; ms: number } | { kind: 'restore' };
    // Mostly writes, so that eviction by count meets records an acknowledgement dropped.
    const step = fc.oneof(
      {
        weight: 8,
        arbitrary: fc.record({
          kind: fc.constant('write' as const),
          client: fc.integer({ min: 0, max: 3 }),
          user: fc.integer({ min: 0, max: 1 }),
          ack: fc.boolean(),
          mode: fc.constantFrom<Mode>('next', 'next', 'jump', 'gap', 'retry'),
        }),
      },
      { weight: 2, arbitrary: fc.record({ kind: fc.constant('time' as const), ms: fc.integer({ min: 0, max: 30 }) }) },
      { weight: 1, arbitrary: fc.constant({ kind: 'restore' as const }) },
    );
    fc.assert(
      fc.property(
        fc.array(step, { maxLength: 120, size: 'max' }),
        fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 1, maxLength: 4 }),
        (steps: Step[], lagChoices) => {
          const table = { current: new SessionTable<number>(bounds) };
          // The model: every record ever made, held or not, in log order.
          const made: Array<{ key: string; client: string; seq: number; timeMs: number; held: boolean }> = [];
          const marks = new Map<string, { seq: number; timeMs: number }>();
          let clock = 1;
          table.current.advance(clock);
          const used = new Map<string, Set<number>>();
          const raise = (c: string, seq: number): void => {
            const old = marks.get(c);
            marks.delete(c);
            marks.set(c, { seq: Math.max(seq, old?.seq ?? 0), timeMs: clock });
            if (marks.size > bounds.watermarksMax) marks.delete(marks.keys().next().value!);
          };
          const popOldest = (): void => {
            const r = made.find((m) => m.held)!;
            r.held = false;
            raise(r.client, r.seq);
          };
          let w = 0;
          for (const s of steps) {
            if (s.kind === 'restore') {
              const restored = new SessionTable<number>(bounds);
              restored.load(structuredClone(table.current.toSnapshot()));
              table.current = restored;
              continue;
            }
            if (s.kind === 'time') {
              clock += s.ms;
              table.current.advance(clock);
              for (const m of made) if (m.held && m.timeMs + bounds.windowMs <= clock) popOldest();
              for (const [c, mark] of [...marks]) if (mark.timeMs + bounds.watermarkWindowMs <= clock) marks.delete(c);
              continue;
            }
            const id = 'ABCD'[s.client]!.repeat(22);
            const user = s.user === 0 ? undefined : 'u';
            const c = user === undefined ? id : `${id}\u0000${user}`;
            const seqs = used.get(c) ?? new Set<number>();
            used.set(c, seqs);
            const max = Math.max(0, ...seqs);
            let gap = 1;
            while (seqs.has(gap)) gap++;
            const seq = { next: max + 1, jump: max + 3, gap, retry: Math.max(1, max) }[s.mode];
            seqs.add(seq);
            // Acknowledge through a seq a few below this one (writes in flight), if any.
            const lag = lagChoices[w++ % lagChoices.length]! + 1;
            const through = s.ack && seq - lag >= 1 ? seq - lag : undefined;
            const t: IdempotencyTag = {
              key: `${id}.${seq}`,
              digest: 'd',
              ...(user !== undefined ? { user } : {}),
              ...(through !== undefined ? { answeredThrough: through } : {}),
            };
            table.current.acknowledge(t);
            if (through !== undefined) {
              for (const m of made) if (m.held && m.client === c && m.seq <= through) m.held = false;
              if (through > (marks.get(c)?.seq ?? 0)) raise(c, through);
            }
            const kind = table.current.lookup(t).kind;
            const modelKind = made.some((m) => m.held && m.key === sessionKey(t)) ? 'replay' : (marks.get(c)?.seq ?? 0) >= seq ? 'expired' : 'new';
            assert.equal(kind, modelKind);
            if (kind === 'new') {
              table.current.record(t, seq);
              made.push({ key: sessionKey(t), client: c, seq, timeMs: clock, held: true });
              while (made.filter((m) => m.held).length > bounds.recordsMax) popOldest();
            }
            const held = made.filter((m) => m.held);
            const snap = table.current.toSnapshot();
            assert.deepEqual(
              snap.records.map((r) => r.key),
              held.map((m) => m.key),
            );
            assert.deepEqual(
              snap.watermarks.map((m) => [m.client, m.seq]),
              [...marks].map(([cl, m]) => [cl, m.seq]),
            );
            assert.equal(table.current.size, held.length);
            assert.equal(table.current.clientsIndexed, new Set(held.map((m) => m.client)).size);
            assert.equal(
              table.current.bytes,
              snap.records.reduce((sum, r) => sum + r.bytes, 0),
            );
          }
        },
      ),
      { numRuns: 400 },
    );
  });
});

describe('sessions: snapshots', () => {
  function populated(): Log {
    const log = new Log();
    log.apply(insert('a', tag('k1')), T0);
    log.apply(insert('a', tag('k2')), T0 + 1); // a 409, recorded
    log.apply({ type: 'batch', ops: [insert('b', tag('k3')), insert('c', tag('k4', 'x', 'alice'))] }, T0 + 2);
    return log;
  }

  test('round trip: the table and the log clock come back, and dedupe goes on from them', () => {
    const log = populated();
    const data = log.store.captureSnapshot();
    assert.equal(data.version, SNAPSHOT_VERSION_WITH_SESSIONS);
    const bytes = encodeSnapshotData(data);
    // Encoded in parts (as a node writes it), it decodes to the same table.
    const fromParts = Store.restoreSnapshot(Buffer.concat([...snapshotParts(data)]));
    assert.deepEqual(fromParts.sessions.toSnapshot(), log.store.sessions.toSnapshot());
    const restored = new Log(Store.restoreSnapshot(bytes));
    assert.equal(restored.store.logTimeMs, T0 + 2);
    assert.equal(restored.store.sessions.size, 4);
    assert.deepEqual(restored.store.sessions.toSnapshot(), log.store.sessions.toSnapshot());
    assert.equal(restored.apply(insert('again', tag('k1')), T0 + 3).replayed, true);
    assert.equal(restored.apply(insert('again', tag('k4', 'x', 'alice')), T0 + 3).replayed, true);
    assert.equal(restored.store.count('c'), 3);
  });

  test('many records, encoded in several parts, come back in order', () => {
    const log = new Log();
    for (let i = 0; i < 5000; i++) log.apply(insert(`d${i}`, tag(`k${i}`), { pad: i }), T0 + i);
    const data = log.store.captureSnapshot();
    const parts = [...snapshotParts(data)];
    assert.ok(parts.length > 3, `${parts.length} parts`);
    const restored = Store.restoreSnapshot(Buffer.concat(parts));
    assert.deepEqual(restored.sessions.toSnapshot(), log.store.sessions.toSnapshot());
  });

  test('replaying the log from scratch rebuilds the same table', () => {
    const commands: Array<[Command, number]> = [
      [insert('a', tag('k1')), T0],
      [insert('b', tag('k1')), T0 + 1],
      [{ type: 'noop' }, T0 + 2],
      [insert('c', tag('k2')), T0 + 3],
    ];
    const one = new Log();
    const two = new Log();
    for (const [c, t] of commands) one.apply(c, t);
    for (const [c, t] of commands) two.apply(c, t);
    assert.deepEqual(encodeSnapshotData(one.store.captureSnapshot()), encodeSnapshotData(two.store.captureSnapshot()));
  });

  test('an older binary (versions 1 and 2 only) refuses a snapshot with sessions', () => {
    const bytes = populated().store.encodeSnapshot();
    const decoded = new Packr({ useRecords: false, mapsAsObjects: true }).unpack(bytes) as { version: number };
    assert.equal(decoded.version, 3);
    // The check an older binary runs: its decodeSnapshotData knew versions 1 and 2 only.
    const olderVersions: readonly number[] = [1, 2];
    assert.ok(!olderVersions.includes(decoded.version));
    // And this binary refuses a version-3 snapshot without its sessions.
    const { sessions: _s, ...withoutSessions } = populated().store.captureSnapshot();
    assert.throws(() => Store.restoreSnapshot(encodeSnapshotData(withoutSessions)), /sessions are present exactly in version 3/);
  });

  test('a store that never saw a stamped entry still writes version 1', () => {
    const log = new Log();
    log.apply(insert('a'));
    assert.equal(log.store.captureSnapshot().version, 1);
  });
});
