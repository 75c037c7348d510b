import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Store } from '../../src/store/store.ts';
import { snapshotParts } from '../../src/store/snapshot.ts';
import { TestStore } from './helpers.ts';
import type { JsonObject } from '../../src/store/types.ts';
import type { Command } from '../../src/store/commands.ts';

function populated(): TestStore {
  const t = new TestStore();
  t.insert(
    'users',
    { _id: 'u1', email: 'a@x', age: 30, tags: ['a', 'b'], deep: { x: [1, { y: 2.5 }] } },
    { _id: 'u2', email: 'b@x', age: 41, big: 2 ** 40, neg: -7.25, s: 'é€😀' },
  );
  t.ok({ type: 'createIndex', collection: 'users', fields: [['email', 1]], unique: true });
  t.ok({
    type: 'createIndex',
    collection: 'users',
    fields: [
      ['age', -1],
      ['tags', 1],
    ],
    unique: false,
    name: 'age_tags',
  });
  t.insert('orders', { _id: 'o1', user: 'u1', total: 10 });
  t.ok({ type: 'update', collection: 'users', filter: { _id: 'u1' }, update: { $inc: { age: 1 } }, multi: false, upsert: false });
  t.ok({ type: 'createIndex', collection: 'empty', fields: [['z', 1]], unique: false });
  t.ok({ type: 'noop' });
  return t;
}

function joined(parts: Iterable<Uint8Array>): Uint8Array {
  return Buffer.concat([...parts]);
}

describe('snapshots', () => {
  test('a snapshot encoded in parts restores the state as of its capture, whatever happened after', () => {
    const t = populated();
    // Enough documents for several parts.
    for (let i = 0; i < 5; i++) {
      t.insert('many', ...Array.from({ length: 1000 }, (_, j) => ({ _id: `m${i}-${j}`, n: i * 1000 + j })));
    }
    const before = { applied: t.store.lastApplied, collections: t.store.collections() };
    const expected = new Map(before.collections.map((c) => [c, t.store.find(c)]));
    const capture = t.store.captureSnapshot();
    // The store moves on while the capture is being encoded.
    // Removed in writes of at most WRITE_DOCS_CHANGED_MAX (1,000) documents.
    for (let i = 0; i < 5; i++) t.ok({ type: 'remove', collection: 'many', filter: { _id: { $gte: `m${i}-`, $lt: `m${i}.` } }, multi: true });
    assert.equal(t.store.count('many', {}), 0);
    t.ok({ type: 'update', collection: 'users', filter: { _id: 'u1' }, update: { $set: { changed: true } }, multi: false, upsert: false });
    t.insert('later', { _id: 'l1' });
    const parts = [...snapshotParts(capture)];
    assert.ok(parts.length > 3, `${parts.length} parts`);
    const r = Store.restoreSnapshot(joined(parts));
    assert.equal(r.lastApplied, before.applied);
    assert.deepEqual(r.collections(), before.collections);
    for (const [c, docs] of expected) assert.deepEqual(r.find(c), docs);
    assert.deepEqual(r.indexes('users'), Store.restoreSnapshot(t.store.encodeSnapshot()).indexes('users'));
  });

  test('parts and the one-piece encoding restore the same store', () => {
    const t = populated();
    const a = Store.restoreSnapshot(t.store.encodeSnapshot());
    const b = Store.restoreSnapshot(joined(snapshotParts(t.store.captureSnapshot())));
    assert.equal(a.lastApplied, b.lastApplied);
    for (const c of a.collections()) {
      assert.deepEqual(b.find(c), a.find(c));
      assert.deepEqual(b.indexes(c), a.indexes(c));
    }
  });

  test('encode/restore round-trips documents, index definitions and lastApplied exactly', () => {
    const t = populated();
    const bytes = t.store.encodeSnapshot();
    const r = Store.restoreSnapshot(bytes);
    assert.equal(r.lastApplied, t.store.lastApplied);
    assert.deepEqual(r.collections(), ['empty', 'orders', 'users']);
    for (const c of r.collections()) {
      assert.deepEqual(r.find(c), t.store.find(c));
      assert.deepEqual(r.indexes(c), t.store.indexes(c));
    }
    assert.ok(Object.isFrozen(r.get('users', 'u1')!['deep']));
    // encoding the restored store gives the same bytes
    assert.deepEqual(Buffer.from(r.encodeSnapshot()), Buffer.from(bytes));
  });

  test('a restored store behaves identically: indexes rebuilt, same results for the same commands', () => {
    const a = populated();
    const b = new TestStore(undefined, Store.restoreSnapshot(a.store.encodeSnapshot()));
    assert.deepEqual(b.store.explain('users', { email: 'b@x' }), a.store.explain('users', { email: 'b@x' }));
    const more: Command[] = [
      { type: 'insert', collection: 'users', docs: [{ _id: 'u3', email: 'a@x' }] },
      { type: 'insert', collection: 'users', docs: [{ _id: 'u3', email: 'c@x', age: 41, tags: ['z'] }] },
      { type: 'update', collection: 'users', filter: { age: 41 }, update: { $set: { seen: true } }, multi: true, upsert: false },
      { type: 'remove', collection: 'orders', filter: {}, multi: true },
    ];
    for (const cmd of more) assert.deepEqual(b.apply(cmd), a.apply(cmd));
    assert.deepEqual(b.store.find('users', { age: 41 }, { sort: { email: -1 } }), a.store.find('users', { age: 41 }, { sort: { email: -1 } }));
    assert.deepEqual(b.store.encodeSnapshot(), a.store.encodeSnapshot());
  });

  test('property: arbitrary JSON documents round-trip', () => {
    const valueArb = fc.jsonValue({ maxDepth: 4 }).filter((v) => !JSON.stringify(v).includes('"__proto__"'));
    fc.assert(
      fc.property(
        fc.array(
          fc.dictionary(
            fc
              .string()
              .filter((k) => k.length > 0 && !k.startsWith('$') && !['__proto__', 'constructor', 'prototype'].includes(k) && !k.includes('\0')),
            valueArb,
            { maxKeys: 5 },
          ),
          { maxLength: 10, size: 'max' },
        ),
        (bodies) => {
          const t = new TestStore();
          const docs = bodies.map((b, i) => ({ ...(b as JsonObject), _id: `id${i}` }));
          const r = docs.length === 0 ? { ok: true } : t.apply({ type: 'insert', collection: 'c', docs });
          if (!r.ok) return; // e.g. a nested $ key: not a document
          const back = Store.restoreSnapshot(t.store.encodeSnapshot());
          assert.deepEqual(back.find('c'), t.store.find('c'));
          assert.equal(back.lastApplied, t.store.lastApplied);
        },
      ),
      { numRuns: 100 },
    );
  });

  test('garbage is refused', () => {
    assert.throws(() => Store.restoreSnapshot(new Uint8Array([1, 2, 3])));
    const t = populated();
    const bytes = t.store.encodeSnapshot();
    assert.throws(() => Store.restoreSnapshot(bytes.subarray(0, bytes.length - 5)));
  });
});
