import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { TestStore } from './helpers.ts';
import type { JsonObject, UpdateSpec } from '../../src/store/types.ts';

function updated(initial: JsonObject, update: UpdateSpec): JsonObject {
  const t = new TestStore();
  t.insert('c', { _id: 'x', ...initial });
  const r = t.ok({ type: 'update', collection: 'c', filter: { _id: 'x' }, update, multi: false, upsert: false });
  assert.equal(r.matched, 1);
  const { _id, _rev, ...rest } = t.store.get('c', 'x')!;
  assert.equal(_id, 'x');
  assert.equal(_rev, r.modified === 1 ? 2 : 1);
  return rest;
}

describe('update operators', () => {
  test('$set and $unset, with dot paths', () => {
    assert.deepEqual(updated({ a: 1 }, { $set: { a: 2, 'b.c': 3 } }), { a: 2, b: { c: 3 } });
    assert.deepEqual(updated({ a: 1, b: { c: 1, d: 2 } }, { $unset: { a: '', 'b.c': '' } }), { b: { d: 2 } });
  });
  test('$inc and $mul', () => {
    assert.deepEqual(updated({ n: 1 }, { $inc: { n: 2, m: 5 } }), { n: 3, m: 5 });
    assert.deepEqual(updated({ n: 3 }, { $mul: { n: 4 } }), { n: 12 });
  });
  test('$min and $max', () => {
    assert.deepEqual(updated({ lo: 5, hi: 5 }, { $min: { lo: 3 }, $max: { hi: 9 } }), { lo: 3, hi: 9 });
    assert.deepEqual(updated({ lo: 5 }, { $min: { lo: 8 } }), { lo: 5 });
  });
  test('$push (with $each/$slice), $pull, $addToSet', () => {
    assert.deepEqual(updated({ l: [1] }, { $push: { l: 2 } }), { l: [1, 2] });
    assert.deepEqual(updated({ l: [3] }, { $push: { l: { $each: [1, 2], $sort: 1, $slice: 2 } } }), { l: [1, 2] });
    assert.deepEqual(updated({ l: [1, 5, 7] }, { $pull: { l: { $gte: 5 } } }), { l: [1] });
    assert.deepEqual(updated({ s: ['a'] }, { $addToSet: { s: 'a' } }), { s: ['a'] });
    assert.deepEqual(updated({ s: ['a'] }, { $addToSet: { s: { $each: ['a', 'b'] } } }), { s: ['a', 'b'] });
  });
  test('$rename, $pop, $pullAll', () => {
    assert.deepEqual(updated({ a: 1 }, { $rename: { a: 'b' } }), { b: 1 });
    assert.deepEqual(updated({ l: [1, 2, 3] }, { $pop: { l: 1 } }), { l: [1, 2] });
    assert.deepEqual(updated({ l: [1, 2, 1] }, { $pullAll: { l: [1] } }), { l: [2] });
  });
  test('an update that changes nothing keeps the revision', () => {
    const t = new TestStore();
    t.insert('c', { _id: 'x', a: 1 });
    const r = t.ok({ type: 'update', collection: 'c', filter: {}, update: { $set: { a: 1 } }, multi: false, upsert: false });
    assert.deepEqual([r.matched, r.modified], [1, 0]);
    assert.equal(t.store.get('c', 'x')!._rev, 1);
  });
  test('updates may not change _id; failing operators are validation errors', () => {
    const t = new TestStore();
    t.insert('c', { _id: 'x', a: 'str' });
    t.fail({ type: 'update', collection: 'c', filter: {}, update: { $set: { _id: 'y' } }, multi: false, upsert: false }, 'VALIDATION', /_id/);
    t.fail({ type: 'update', collection: 'c', filter: {}, update: { $unset: { _id: '' } }, multi: false, upsert: false }, 'VALIDATION', /_id/);
    t.fail({ type: 'update', collection: 'c', filter: {}, update: { $inc: { a: 1 } }, multi: false, upsert: false }, 'VALIDATION');
    t.fail(
      { type: 'update', collection: 'c', filter: {}, update: { $set: { a: { __proto__x: 1, $bad: 1 } } }, multi: false, upsert: false },
      'VALIDATION',
      /\$bad/,
    );
    assert.deepEqual(t.store.get('c', 'x'), { _id: 'x', _rev: 1, a: 'str' });
  });
  test('an update that makes a document too large fails and changes nothing', () => {
    const t = new TestStore({ maxDocumentBytes: 200 });
    t.insert('c', { _id: 'x', s: 'a' });
    t.fail(
      { type: 'update', collection: 'c', filter: {}, update: { $set: { s: 'b'.repeat(300) } }, multi: false, upsert: false },
      'VALIDATION',
      /limit/,
    );
    assert.equal(t.store.get('c', 'x')!['s'], 'a');
  });
});

describe('update command', () => {
  test('multi updates every match, single the first in _id order; _rev is the log index', () => {
    const t = new TestStore();
    t.insert('c', { _id: 'b', g: 1 }, { _id: 'a', g: 1 }, { _id: 'c', g: 2 });
    const one = t.ok({ type: 'update', collection: 'c', filter: { g: 1 }, update: { $set: { hit: true } }, multi: false, upsert: false });
    assert.deepEqual(
      one.docs.map((d) => d._id),
      ['a'],
    );
    assert.equal(t.store.get('c', 'a')!._rev, t.index);
    const all = t.ok({ type: 'update', collection: 'c', filter: { g: 1 }, update: { $inc: { n: 1 } }, multi: true, upsert: false });
    assert.deepEqual([all.matched, all.modified], [2, 2]);
    assert.deepEqual(t.ids('c', { n: 1 }), ['a', 'b']);
    assert.equal(t.store.get('c', 'c')!._rev, 1);
  });

  test('upsert creates from equality fields plus the update, with upsertId', () => {
    const t = new TestStore();
    const r = t.ok({
      type: 'update',
      collection: 'c',
      filter: { name: 'n', 'a.b': 2, age: { $gt: 3 }, $and: [{ k: { $eq: 'v' } }] },
      update: { $set: { x: 1 }, $inc: { count: 1 } },
      multi: false,
      upsert: true,
      upsertId: 'new1',
    });
    assert.equal(r.upsertedId, 'new1');
    assert.deepEqual(t.store.get('c', 'new1'), { _id: 'new1', _rev: 1, name: 'n', a: { b: 2 }, k: 'v', x: 1, count: 1 });
    const again = t.ok({
      type: 'update',
      collection: 'c',
      filter: { name: 'n' },
      update: { $inc: { count: 1 } },
      multi: false,
      upsert: true,
      upsertId: 'new2',
    });
    assert.equal(again.upsertedId, undefined);
    assert.equal(t.store.get('c', 'new1')!['count'], 2);
    assert.equal(t.store.get('c', 'new2'), undefined);
    // an _id equality in the filter wins over upsertId; no id at all is an error
    t.ok({
      type: 'update',
      collection: 'c',
      filter: { _id: 'fromFilter' },
      update: { $set: { v: 1 } },
      multi: false,
      upsert: true,
      upsertId: 'ignored',
    });
    assert.ok(t.store.get('c', 'fromFilter'));
    t.fail({ type: 'update', collection: 'c', filter: { q: 1 }, update: { $set: { v: 1 } }, multi: false, upsert: true }, 'VALIDATION', /upsertId/);
  });

  test('ifRev on single updates', () => {
    const t = new TestStore();
    t.insert('c', { _id: 'x', n: 0 });
    t.fail(
      { type: 'update', collection: 'c', filter: { _id: 'x' }, update: { $inc: { n: 1 } }, multi: false, upsert: false, ifRev: 5 },
      'PRECONDITION_FAILED',
      /_rev 1, expected 5/,
    );
    t.ok({ type: 'update', collection: 'c', filter: { _id: 'x' }, update: { $inc: { n: 1 } }, multi: false, upsert: false, ifRev: 1 });
    assert.equal(t.store.get('c', 'x')!['n'], 1);
  });
});

describe('insert, replace, remove', () => {
  test('batch insert is all-or-nothing (duplicate inside the batch, duplicate of existing, invalid doc)', () => {
    const t = new TestStore();
    t.insert('c', { _id: 'a' });
    t.fail({ type: 'insert', collection: 'c', docs: [{ _id: 'b' }, { _id: 'b' }] }, 'CONFLICT', /docs\.1: duplicate key in index "_id_": "b"/);
    t.fail({ type: 'insert', collection: 'c', docs: [{ _id: 'c' }, { _id: 'a' }] }, 'CONFLICT', /"a"/);
    t.fail({ type: 'insert', collection: 'c', docs: [{ _id: 'd' }, { _id: 'e', bad: { $x: 1 } }] }, 'VALIDATION', /docs\.1: bad\.\$x/);
    assert.deepEqual(t.ids('c'), ['a']);
    t.fail({ type: 'insert', collection: 'fresh', docs: [{ _id: 'a' }, { _id: 'a' }] }, 'CONFLICT');
    assert.deepEqual(t.store.collections(), ['c']);
  });

  test('a failed command still consumes its log index', () => {
    const t = new TestStore();
    t.fail({ type: 'insert', collection: 'c', docs: [{ _id: 'a', x: undefined as unknown as null }] }, 'VALIDATION');
    assert.equal(t.store.lastApplied, 1);
    assert.throws(() => t.store.apply({ type: 'noop' }, 1), /greater than lastApplied/);
    assert.throws(() => t.store.apply({ type: 'noop' }, 1.5), /integer/);
  });

  test('replace: create with upsert, not found without, ifRev compare-and-set', () => {
    const t = new TestStore();
    t.fail({ type: 'replace', collection: 'c', id: 'x', doc: { a: 1 }, upsert: false }, 'NOT_FOUND');
    const created = t.ok({ type: 'replace', collection: 'c', id: 'x', doc: { a: 1, _rev: 77 }, upsert: true });
    assert.equal(created.created, true);
    assert.deepEqual(created.doc, { _id: 'x', _rev: t.index, a: 1 });
    const rev = created.doc._rev;
    t.fail({ type: 'replace', collection: 'c', id: 'x', doc: { a: 2 }, upsert: false, ifRev: rev + 1 }, 'PRECONDITION_FAILED');
    t.fail({ type: 'replace', collection: 'c', id: 'x', doc: { a: 2 }, upsert: true, ifRev: 0 }, 'PRECONDITION_FAILED', /expected 0/);
    const r = t.ok({ type: 'replace', collection: 'c', id: 'x', doc: { b: 2 }, upsert: false, ifRev: rev });
    assert.equal(r.created, false);
    assert.deepEqual(t.store.get('c', 'x'), { _id: 'x', _rev: t.index, b: 2 });
    t.ok({ type: 'replace', collection: 'c', id: 'y', doc: { b: 3 }, upsert: true, ifRev: 0 });
    t.fail({ type: 'replace', collection: 'c', id: 'z', doc: { _id: 'other' }, upsert: true }, 'VALIDATION', /must equal/);
  });

  test('remove: single, multi, ifRev', () => {
    const t = new TestStore();
    t.insert('c', { _id: 'a', g: 1 }, { _id: 'b', g: 1 }, { _id: 'c', g: 2 });
    assert.deepEqual(t.ok({ type: 'remove', collection: 'c', filter: { g: 1 }, multi: false }), { removed: 1, ids: ['a'] });
    t.fail({ type: 'remove', collection: 'c', filter: { _id: 'b' }, multi: false, ifRev: 9 }, 'PRECONDITION_FAILED');
    assert.deepEqual(t.ok({ type: 'remove', collection: 'c', filter: {}, multi: true }), { removed: 2, ids: ['b', 'c'] });
    assert.deepEqual(t.ok({ type: 'remove', collection: 'c', filter: { g: 1 }, multi: true }), { removed: 0, ids: [] });
    assert.deepEqual(t.ok({ type: 'remove', collection: 'none', filter: {}, multi: true }), { removed: 0, ids: [] });
  });

  test('dropCollection, dropIndex, noop', () => {
    const t = new TestStore();
    t.insert('c', { _id: 'a' });
    t.ok({ type: 'createIndex', collection: 'c', fields: [['x', 1]], unique: false });
    assert.deepEqual(t.ok({ type: 'dropIndex', collection: 'c', name: 'x_1' }), { dropped: true });
    t.fail({ type: 'dropIndex', collection: 'c', name: 'x_1' }, 'NOT_FOUND');
    assert.equal(t.ok({ type: 'noop' }), null);
    assert.deepEqual(t.ok({ type: 'dropCollection', collection: 'c' }), { dropped: true });
    assert.deepEqual(t.ok({ type: 'dropCollection', collection: 'c' }), { dropped: false });
    assert.deepEqual(t.store.collections(), []);
  });

  test('the stored document does not alias the command', () => {
    const t = new TestStore();
    const doc = { _id: 'a', inner: { v: 1 } };
    t.insert('c', doc);
    doc.inner.v = 2;
    assert.deepEqual(t.store.get('c', 'a')!['inner'], { v: 1 });
  });
});
