// An equality on every field of an index is answered from one stretch of the index, whose keys
// differ only in their trailing _id (src/store/query-exec.ts, scanYieldsIdOrder): no sort, no
// duplicate check, and a limit stops the scan. The answers must be those of the same query on
// a collection without indexes, for any directions, multikey or not, with skip and limit.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { TestStore } from './helpers.ts';
import type { JsonObject, JsonValue } from '../../src/store/types.ts';

const scalarArb = fc.constantFrom<JsonValue>(0, 1, 2, 'x', 'y', true, null);
const valueArb = fc.oneof(scalarArb, scalarArb, fc.array(scalarArb, { maxLength: 3 }));
// `b` holds no arrays: a compound index refuses two arrays in one document.
const docsArb = fc.uniqueArray(fc.record({ _id: fc.stringMatching(/^[a-z0-9]{1,4}$/), a: valueArb, b: scalarArb }, { requiredKeys: ['_id'] }), {
  selector: (d) => d._id,
  // Beyond one leaf of the tree (64 entries): keys of one value across leaves.
  maxLength: 200,
  size: 'max',
});
const fieldsArb = fc.oneof(
  fc.constantFrom<Array<[string, 1 | -1]>>([['a', 1]], [['a', -1]]),
  fc.constantFrom<Array<[string, 1 | -1]>>(
    [
      ['a', 1],
      ['b', 1],
    ],
    [
      ['a', -1],
      ['b', 1],
    ],
    [
      ['a', 1],
      ['b', -1],
    ],
  ),
);

test('an equality on an index answers as the same query without the index', () => {
  fc.assert(
    fc.property(docsArb, fieldsArb, scalarArb, scalarArb, fc.nat(3), fc.nat(4), (docs, fields, va, vb, skip, limit) => {
      const indexed = new TestStore();
      const plain = new TestStore();
      indexed.ok({ type: 'createIndex', collection: 'c', fields, unique: false });
      if (docs.length > 0) {
        indexed.insert('c', ...(docs as JsonObject[]));
        plain.insert('c', ...(docs as JsonObject[]));
      }
      const filter: JsonObject = fields.length === 1 ? { a: va } : { a: va, b: vb };
      for (const options of [{}, { skip, limit }, { limit }]) {
        const want = plain.ids('c', filter, options);
        assert.deepEqual(indexed.ids('c', filter, options), want, JSON.stringify({ filter, options }));
        const explain = indexed.store.explain('c', filter, options);
        // (An equality with null also matches a missing field: the planner leaves it to a scan.)
        if (va !== null && (fields.length === 1 || vb !== null)) assert.equal(explain.plan, 'index');
        assert.equal(explain.nReturned, want.length);
      }
      assert.equal(indexed.store.count('c', filter), plain.store.count('c', filter));
      // Stretches of the index that are not one value (a range, a range after an equality, an
      // $in) are in index order, not _id order: the general path still sorts them.
      // (And an equality on the first field of a compound index: ordered by `b` first.)
      const ranges: JsonObject[] = [{ a: { $gte: va } }, { a: { $in: [va, vb] } }, { a: va, b: { $lte: vb } }, { a: va }];
      for (const range of ranges) {
        for (const options of [{}, { limit }]) {
          assert.deepEqual(indexed.ids('c', range, options), plain.ids('c', range, options), JSON.stringify({ range, options }));
        }
      }
    }),
    { numRuns: 300 },
  );
});

test('an equality with a limit stops the index scan at the limit, and sorts nothing', () => {
  const t = new TestStore();
  t.ok({ type: 'createIndex', collection: 'c', fields: [['g', 1]], unique: false });
  const docs: JsonObject[] = [];
  for (let i = 0; i < 100; i++) docs.push({ _id: `d${String(99 - i).padStart(3, '0')}`, g: i % 2 });
  t.insert('c', ...docs);
  const explain = t.store.explain('c', { g: 1 }, { limit: 3 });
  assert.equal(explain.plan, 'index');
  assert.equal(explain.keysExamined, 3);
  assert.equal(explain.sort, 'index');
  assert.deepEqual(t.ids('c', { g: 1 }, { limit: 3 }), ['d000', 'd002', 'd004']);
  // A multikey index lists a document once per element: the general path (deduplicated, sorted).
  t.ok({ type: 'update', collection: 'c', filter: { _id: 'd001' }, update: { $set: { g: [0, 1] } }, multi: false, upsert: false });
  const multi = t.store.explain('c', { g: 1 }, { limit: 3 });
  assert.equal(multi.sort, 'memory');
  assert.deepEqual(t.ids('c', { g: 1 }, { limit: 3 }), ['d000', 'd001', 'd002']);
  assert.equal(t.store.count('c', { g: 0 }), 50);
  assert.equal(t.store.count('c', { g: 1 }), 51);
});
