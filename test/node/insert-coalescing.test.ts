// Concurrent inserts on a leader share log entries (a `batch` command), yet each one
// succeeds or fails on its own, and a replay of the log gives the same state.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConflictError, open, ValidationError } from '../../src/index.ts';
import type { ChangeEvent } from '../../src/node/backend.ts';

describe('insert coalescing', () => {
  test('concurrent inserts share entries; a duplicate among them fails alone; a replay agrees', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cs-coalesce-'));
    try {
      const db = await open({ dir });
      const col = db.collection('c');
      await col.insert({ _id: 'taken', n: -1 });
      const changes: ChangeEvent[] = [];
      const unsubscribe = db.subscribe((change) => changes.push(change));
      const before = db.info().lastLogIndex;
      const outcomes = await Promise.allSettled(
        Array.from({ length: 40 }, (_, n) => col.insert(n === 17 ? { _id: 'taken', n } : { _id: `d${String(n).padStart(2, '0')}`, n })),
      );
      unsubscribe();
      const failed = outcomes.flatMap((o, n) => (o.status === 'rejected' ? [n] : []));
      assert.deepEqual(failed, [17]);
      assert.ok((outcomes[17] as PromiseRejectedResult).reason instanceof ConflictError);
      const entries = db.info().lastLogIndex - before;
      assert.ok(entries < 40, `40 concurrent inserts took ${entries} log entries, expected fewer`);
      const revs = new Set(col.find({ n: { $gte: 0 } }).map((d) => d._rev));
      assert.ok(revs.size < 39, 'documents that shared an entry share its _rev');
      assert.equal(col.get('taken')!['n'], -1, 'the duplicate changed nothing');
      assert.equal(changes.length, 39);
      assert.deepEqual(new Set(changes.map((c) => c.aggregateId)), new Set(col.find({ n: { $gte: 0 } }).map((d) => d._id)));
      const state = col.find({}, { sort: { _id: 1 } });
      await db.close();

      const again = await open({ dir });
      assert.deepEqual(again.collection('c').find({}, { sort: { _id: 1 } }), state);
      await again.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('an invalid document is refused before it joins an entry, the others go on', async () => {
    const db = await open({ memory: true });
    const col = db.collection('c');
    const outcomes = await Promise.allSettled([col.insert({ a: 1 }), col.insert({ $bad: 1 }), col.insert({ a: 2 })]);
    assert.deepEqual(
      outcomes.map((o) => o.status),
      ['fulfilled', 'rejected', 'fulfilled'],
    );
    assert.ok((outcomes[1] as PromiseRejectedResult).reason instanceof ValidationError);
    assert.equal(col.count(), 2);
    await db.close();
  });

  test('inserts queued when the database closes are refused, not lost silently', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cs-coalesce-close-'));
    try {
      const db = await open({ dir });
      const col = db.collection('c');
      const pending = Array.from({ length: 20 }, (_, n) => col.insert({ n }));
      const closing = db.close();
      const outcomes = await Promise.allSettled(pending);
      await closing;
      const made = outcomes.filter((o) => o.status === 'fulfilled').length;
      for (const o of outcomes) if (o.status === 'rejected') assert.match(String(o.reason), /shutting down|closed|unknown/);
      const again = await open({ dir });
      // Every insert that resolved is there; one that was refused may or may not be (its outcome is unknown only if it had been proposed).
      assert.ok(again.collection('c').count() >= made);
      await again.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('a write issued after a queued insert is applied after it (nothing overtakes the queue)', async () => {
    const db = await open({ memory: true });
    const col = db.collection('c');
    const inserted = col.insert({ _id: 'x', n: 1 });
    const updated = col.update({ _id: 'x' }, { $set: { n: 2 } });
    const insertedY = col.insert({ _id: 'y' });
    const removed = col.remove('y');
    const txDone = db.transaction((tx) => {
      tx.collection('c').insert({ _id: 'z', n: 3 });
    });
    await Promise.all([inserted, insertedY, txDone]);
    assert.deepEqual(await updated, { matched: 1, modified: 1 });
    assert.equal(await removed, 1);
    assert.equal(col.get('x')!['n'], 2);
    assert.equal(col.get('y'), null);
    assert.equal(col.get('z')!['n'], 3);
    await db.close();
  });

  test('an empty insertMany is refused up front; concurrent inserts are kept, also after a replay', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cs-coalesce-empty-'));
    try {
      const db = await open({ dir });
      const col = db.collection('c');
      const outcomes = await Promise.allSettled([col.insert({ _id: 'a' }), col.insertMany([]), col.insert({ _id: 'b' })]);
      assert.deepEqual(
        outcomes.map((o) => o.status),
        ['fulfilled', 'rejected', 'fulfilled'],
      );
      assert.ok((outcomes[1] as PromiseRejectedResult).reason instanceof ValidationError);
      await db.close();
      const again = await open({ dir });
      assert.deepEqual(
        again
          .collection('c')
          .find()
          .map((d) => d._id),
        ['a', 'b'],
      );
      await again.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
