import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { TestStore } from './helpers.ts';

function withData(): TestStore {
  const t = new TestStore();
  const docs = [];
  for (let i = 0; i < 200; i++) {
    docs.push({ _id: `d${String(i).padStart(3, '0')}`, n: i, g: i % 10, email: `u${i}@x`, meta: { level: i % 4 }, tags: [`t${i % 3}`, `t${i % 5}`] });
  }
  t.ok({ type: 'insert', collection: 'c', docs });
  return t;
}

describe('secondary indexes', () => {
  test('unique index: build, then duplicate writes fail naming index and key, changing nothing', () => {
    const t = withData();
    const spec = t.ok({ type: 'createIndex', collection: 'c', fields: [['email', 1]], unique: true });
    assert.deepEqual(spec, { name: 'email_1', fields: [['email', 1]], unique: true });
    t.fail({ type: 'insert', collection: 'c', docs: [{ _id: 'new', email: 'u5@x' }] }, 'CONFLICT', /unique index "email_1".*"email": "u5@x"/);
    // a multi-update that would collide on its second document changes nothing
    t.fail(
      { type: 'update', collection: 'c', filter: { n: { $in: [1, 2] } }, update: { $set: { email: 'same' } }, multi: true, upsert: false },
      'CONFLICT',
    );
    assert.equal(t.store.get('c', 'd001')!['email'], 'u1@x');
    assert.equal(t.store.find('c', { email: 'same' }).length, 0);
    // a document may keep its own key
    t.ok({ type: 'update', collection: 'c', filter: { _id: 'd001' }, update: { $set: { email: 'u1@x', x: 1 } }, multi: false, upsert: false });
    // after removal the key is free
    t.ok({ type: 'remove', collection: 'c', filter: { _id: 'd005' }, multi: false });
    t.ok({ type: 'insert', collection: 'c', docs: [{ _id: 'new', email: 'u5@x' }] });
    assert.deepEqual(t.ids('c', { email: 'u5@x' }), ['new']);
  });

  test('a unique index that cannot be built fails naming the key and changes nothing', () => {
    const t = withData();
    t.fail({ type: 'createIndex', collection: 'c', fields: [['g', 1]], unique: true }, 'CONFLICT', /duplicate key \{ "g": \d \}/);
    assert.deepEqual(t.store.indexes('c'), []);
    t.fail({ type: 'createIndex', collection: 'fresh', fields: [['a', 1]], unique: true, name: '_id_' }, 'VALIDATION');
    assert.deepEqual(t.store.collections(), ['c']);
  });

  test('missing fields index as null (so a unique index allows one)', () => {
    const t = new TestStore();
    t.ok({ type: 'createIndex', collection: 'c', fields: [['k', 1]], unique: true });
    t.insert('c', { _id: 'a' });
    t.fail({ type: 'insert', collection: 'c', docs: [{ _id: 'b', k: null }] }, 'CONFLICT', /"k": null/);
  });

  test('non-unique, compound, nested, multikey: plans and results', () => {
    const t = withData();
    t.ok({ type: 'createIndex', collection: 'c', fields: [['g', 1]], unique: false });
    t.ok({
      type: 'createIndex',
      collection: 'c',
      fields: [
        ['g', 1],
        ['n', -1],
      ],
      unique: false,
    });
    t.ok({ type: 'createIndex', collection: 'c', fields: [['meta.level', 1]], unique: false });
    t.ok({ type: 'createIndex', collection: 'c', fields: [['tags', 1]], unique: false });
    const scan = (filter: Record<string, unknown>): string[] =>
      t.store
        .find('c', {})
        .filter((d) => t.store.find('c', { $and: [{ _id: d._id }, filter as never] }).length === 1)
        .map((d) => d._id);

    const eq = t.store.explain('c', { g: 3 });
    assert.equal(eq.plan, 'index');
    assert.equal(eq.index, 'g_1');
    assert.equal(eq.docsExamined, 20);
    assert.deepEqual(t.ids('c', { g: 3 }), scan({ g: 3 }));

    const compound = t.store.explain('c', { g: 3, n: { $gt: 100 } });
    assert.equal(compound.index, 'g_1_n_-1');
    assert.equal(compound.docsExamined, 10);
    assert.deepEqual(t.ids('c', { g: 3, n: { $gt: 100 } }), scan({ g: 3, n: { $gt: 100 } }));

    const nested = t.store.explain('c', { 'meta.level': { $in: [1, 2] } });
    assert.equal(nested.index, 'meta.level_1');
    assert.equal(nested.docsExamined, 100);

    const multi = t.store.explain('c', { tags: 't4' });
    assert.equal(multi.index, 'tags_1');
    assert.deepEqual(t.ids('c', { tags: 't4' }), scan({ tags: 't4' }));
    // multikey ranges are not intersected: each condition may hold on another element
    t.insert('c', { _id: 'mk', tags: ['a', 'z'] });
    assert.deepEqual(t.ids('c', { tags: { $gt: 'y', $lt: 'b' } }), ['mk']);
  });

  test('compound index with two array fields is refused (parallel arrays)', () => {
    const t = new TestStore();
    t.ok({
      type: 'createIndex',
      collection: 'c',
      fields: [
        ['a', 1],
        ['b', 1],
      ],
      unique: false,
    });
    t.insert('c', { _id: 'ok', a: [1, 2], b: 3 });
    t.fail({ type: 'insert', collection: 'c', docs: [{ _id: 'bad', a: [1], b: [2] }] }, 'VALIDATION', /parallel arrays/);
    assert.deepEqual(t.ids('c', { a: 2, b: 3 }), ['ok']);
  });

  test('planner: _id lookup, index for sort, scan, most selective index', () => {
    const t = withData();
    t.ok({ type: 'createIndex', collection: 'c', fields: [['n', 1]], unique: true });
    t.ok({ type: 'createIndex', collection: 'c', fields: [['g', 1]], unique: false });
    t.ok({
      type: 'createIndex',
      collection: 'c',
      fields: [
        ['g', 1],
        ['meta.level', 1],
      ],
      unique: false,
    });

    assert.equal(t.store.explain('c', { _id: 'd007', g: 7 }).plan, 'id');
    const ids = t.store.explain('c', { _id: { $in: ['d001', 'd002', 'zzz'] } });
    assert.deepEqual([ids.plan, ids.keysExamined, ids.nReturned], ['id', 3, 2]);

    assert.equal(t.store.explain('c', { g: 1, 'meta.level': 1 }).index, 'g_1_meta.level_1');
    assert.equal(t.store.explain('c', { g: 1 }).index, 'g_1');

    const sorted = t.store.explain('c', {}, { sort: { n: -1 }, limit: 5 });
    assert.deepEqual([sorted.plan, sorted.index, sorted.sort], ['index', 'n_1', 'index']);
    assert.ok(sorted.keysExamined <= 6, `stops early (one extra key closes the last tie group): ${sorted.keysExamined}`);
    assert.deepEqual(t.ids('c', {}, { sort: { n: -1 }, limit: 3 }), ['d199', 'd198', 'd197']);

    const range = t.store.explain('c', { n: { $gte: 10, $lt: 15 } });
    assert.deepEqual([range.index, range.keysExamined, range.nReturned], ['n_1', 5, 5]);

    const none = t.store.explain('c', { email: 'u1@x' });
    assert.deepEqual([none.plan, none.docsExamined], ['scan', 200]);
    const early = t.store.explain('c', {}, { limit: 3 });
    assert.deepEqual([early.plan, early.docsExamined, early.sort], ['scan', 3, 'index']);
    const memory = t.store.explain('c', {}, { sort: { email: 1 } });
    assert.equal(memory.sort, 'memory');

    // sort on the second field of a compound index after an equality on the first
    const pinned = t.store.explain('c', { g: 2 }, { sort: { 'meta.level': 1 } });
    assert.deepEqual([pinned.index, pinned.sort], ['g_1_meta.level_1', 'index']);
    assert.deepEqual(
      t.ids('c', { g: 2 }, { sort: { 'meta.level': 1 } }),
      t.store
        .find('c', { g: 2 })
        .slice()
        .sort((a, b) => (a['meta'] as { level: number }).level - (b['meta'] as { level: number }).level || (a._id < b._id ? -1 : 1))
        .map((d) => d._id),
    );
  });

  test('impossible bounds return nothing quickly', () => {
    const t = withData();
    t.ok({ type: 'createIndex', collection: 'c', fields: [['n', 1]], unique: false });
    const e = t.store.explain('c', { n: { $gt: 10, $lt: 5 } });
    assert.deepEqual([e.plan, e.keysExamined, e.nReturned], ['index', 0, 0]);
    assert.deepEqual(t.ids('c', { $and: [{ n: 3 }, { n: 4 }] }), []);
  });

  test('createIndex is idempotent for the same definition, conflicts for another', () => {
    const t = new TestStore();
    t.ok({ type: 'createIndex', collection: 'c', fields: [['a', 1]], unique: false, name: 'ia' });
    t.ok({ type: 'createIndex', collection: 'c', fields: [['a', 1]], unique: false, name: 'ia' });
    t.fail({ type: 'createIndex', collection: 'c', fields: [['a', -1]], unique: false, name: 'ia' }, 'CONFLICT');
    assert.equal(t.store.indexes('c').length, 1);
  });
});
