import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Entry } from '../../src/raft/types.ts';
import { KvStateMachine, SIM_SESSION_BOUNDS, encodeCommand, uniqueValue, withKvOptionsForTest, type KvOptions } from '../../src/sim/kv.ts';
import { trySimulation, type SimOutcome } from '../../src/sim/run.ts';

// Exactly-once writes in the simulator (Raft thesis §6.3): the KV keeps the production session
// table (src/store/sessions.ts), clients retry writes of unknown outcome with the same ids, and
// the run fails on any write applied twice.

const CONF = { voters: [1, 2, 3], learners: [] };

/** A log of normal entries, one per [client, request, key, log time ms], from index 1. */
function log(writes: readonly [number, number, string, number?][], from = 1): Entry[] {
  return writes.map(([client, request, key, timeMs], i) => ({
    index: from + i,
    term: 1,
    type: 'normal' as const,
    data: encodeCommand({ client, request, op: 'append', key, value: uniqueValue(client, request), timeMs: timeMs ?? 1 }),
  }));
}

describe('KV sessions (the production session table)', () => {
  test('a retried request applies once and answers with the first result; an older one applies nothing', () => {
    const kv = new KvStateMachine(CONF);
    const [first, retry, next, older] = log([
      [1, 1, 'x'],
      [1, 1, 'x'],
      [1, 2, 'x'],
      [1, 1, 'x'],
    ]);
    assert.deepEqual(kv.apply(first!), { kind: 'applied', index: 1 });
    assert.deepEqual(kv.apply(retry!), { kind: 'replayed', index: 1 });
    assert.deepEqual(kv.apply(next!), { kind: 'applied', index: 3 });
    assert.deepEqual(kv.apply(older!), { kind: 'replayed', index: 1 });
    assert.equal(kv.get('x'), '[1.1][1.2]');
    assert.deepEqual(kv.duplicates, []);
    assert.equal(kv.applied, 4);
  });

  test('without sessions (test-only option) the retry applies again and the audit reports it', () => {
    const off: KvOptions = { sessions: false };
    const kv = new KvStateMachine(CONF, off);
    for (const e of log([
      [1, 1, 'x'],
      [1, 1, 'x'],
    ]))
      kv.apply(e);
    assert.equal(kv.get('x'), '[1.1][1.1]');
    assert.deepEqual(kv.duplicates, ['1.1']);
    // The option reaches state machines created inside withKvOptionsForTest, and only those.
    const inside = withKvOptionsForTest(off, () => new KvStateMachine(CONF));
    const outside = new KvStateMachine(CONF);
    for (const e of log([
      [2, 5, 'y'],
      [2, 5, 'y'],
    ])) {
      inside.apply(e);
      outside.apply(e);
    }
    assert.deepEqual(inside.duplicates, ['2.5']);
    assert.deepEqual(outside.duplicates, []);
  });

  test('sessions travel in snapshots: a retry after a restore is still answered from the session', () => {
    const kv = new KvStateMachine(CONF);
    const entries = log([
      [1, 7, 'x'],
      [2, 3, 'y'],
      [1, 7, 'x'],
    ]);
    kv.apply(entries[0]!);
    kv.apply(entries[1]!);
    const restored = new KvStateMachine(CONF);
    restored.restore(kv.snapshot());
    assert.equal(restored.sessionCount, 2);
    assert.deepEqual(restored.apply(entries[2]!), { kind: 'replayed', index: 1 });
    assert.equal(restored.get('x'), '[1.7]');
    // Same state as the node that never snapshotted.
    kv.apply(entries[2]!);
    assert.deepEqual(restored.snapshot().data, kv.snapshot().data);
  });

  test('records expire by log time and beyond a count; a retry then applies nothing and is answered expired', () => {
    const { windowMs, recordsMax } = SIM_SESSION_BOUNDS;
    const kv = new KvStateMachine(CONF);
    kv.apply(log([[1, 1, 'x', 100]])[0]!);
    // Log time moves to just inside the window: still replayed.
    assert.equal(kv.apply(log([[1, 1, 'x', 100 + windowMs - 1]], 2)[0]!).kind, 'replayed');
    // An entry stamped at the window's end expires the record: the retry applies nothing.
    assert.equal(kv.apply(log([[2, 1, 'y', 100 + windowMs]], 3)[0]!).kind, 'applied');
    assert.equal(kv.apply(log([[1, 1, 'x', 100 + windowMs]], 4)[0]!).kind, 'expired');
    assert.equal(kv.get('x'), '[1.1]');

    // More than recordsMax records: the oldest leave, and their retries are expired too.
    const many = new KvStateMachine(CONF);
    const writes = Array.from({ length: recordsMax + 1 }, (_, i): [number, number, string, number] => [3, i + 1, 'z', 10]);
    for (const e of log(writes)) many.apply(e);
    assert.equal(many.sessionCount, recordsMax);
    assert.equal(many.apply(log([[3, 1, 'z', 10]], recordsMax + 2)[0]!).kind, 'expired');
    assert.equal(many.apply(log([[3, 2, 'z', 10]], recordsMax + 3)[0]!).kind, 'replayed');
    assert.deepEqual(many.duplicates, []);
  });
});

describe('retrying clients in the simulator', () => {
  const SEEDS = 40;
  function runSeeds(options: KvOptions): SimOutcome[] {
    return withKvOptionsForTest(options, () =>
      Array.from({ length: SEEDS }, (_, i) =>
        trySimulation({ seed: 1 + i, nodes: i % 2 === 0 ? 3 : 5, profile: i % 3 === 0 ? 'churn' : 'mixed', durationMs: 2000 }),
      ),
    );
  }

  test('with sessions: retries of unknown outcomes happen, and no write applies twice', () => {
    const outcomes = runSeeds({ sessions: true });
    const failures = outcomes.filter((o) => !o.ok).map((o) => (o.ok ? '' : o.failure.message));
    assert.deepEqual(failures, []);
    let unknownRetries = 0;
    let duplicates = 0;
    for (const o of outcomes) {
      if (!o.ok) continue;
      unknownRetries += o.stats.clients.unknownRetries;
      duplicates += o.stats.clients.duplicateApplies;
    }
    assert.equal(duplicates, 0);
    assert.ok(unknownRetries > SEEDS, `only ${unknownRetries} retries of unknown outcomes in ${SEEDS} seeds`);
  });

  test('without sessions the same retries apply twice, and the run fails saying so', () => {
    const outcomes = runSeeds({ sessions: false });
    const duplicateFailures = outcomes.filter((o) => !o.ok && o.failure.detail.startsWith('duplicate apply:'));
    assert.ok(duplicateFailures.length >= SEEDS / 4, `only ${duplicateFailures.length} of ${SEEDS} seeds caught a duplicate apply`);
    const first = duplicateFailures[0]!;
    assert.ok(!first.ok);
    assert.equal(first.failure.kind, 'linearizability');
    assert.match(first.failure.detail, /write \d+\.\d+ applied twice/);
  });
});
