// The direct compile of `{field: scalar}` (src/store/query-cache.ts, singleFieldEquality, what a
// filter-cache miss and compileFilter build): the same filter, constraints and matches as the
// general compile, and mingo's own semantics (a field equal to the value, or an array holding it).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Query } from 'mingo/query';
import { analyzeFilter } from '../../src/store/filter-analysis.ts';
import { compileFilter, FilterCache, QUERY_OPTIONS } from '../../src/store/query-cache.ts';
import type { Document, Filter } from '../../src/store/types.ts';

const scalarArb = fc.oneof(fc.integer({ min: -2, max: 2 }), fc.constantFrom(0.5, -0, 'x', 'y', '', true, false));
const valueArb = fc.oneof(scalarArb, fc.array(scalarArb, { maxLength: 3 }), fc.constant(null), fc.record({ x: scalarArb }));
const docArb = fc.record({ _id: fc.constant('d'), _rev: fc.constant(1), a: valueArb, b: valueArb }, { requiredKeys: ['_id', '_rev'] });
const filterArb: fc.Arbitrary<Filter> = fc.tuple(fc.constantFrom('a', 'b', 'c'), scalarArb).map(([field, value]) => ({ [field]: value }));

test('{field: scalar} compiles directly to what the general compile makes, and matches as mingo does', () => {
  fc.assert(
    fc.property(filterArb, fc.array(docArb, { minLength: 1, maxLength: 8 }), (filter, docs) => {
      const direct = new FilterCache().get(filter);
      // The general compile of the same condition ({field: {$eq: value}} does not take the
      // direct path: simpleEquality and analyzeFilter over a JSON copy).
      const [field, value] = Object.entries(filter)[0]!;
      const general = compileFilter({ [field]: { $eq: value } } as Filter);
      assert.deepEqual(direct.filter, JSON.parse(JSON.stringify(filter)));
      assert.equal(direct.matchAll, general.matchAll);
      assert.deepEqual(direct.constraints, general.constraints);
      assert.deepEqual(direct.constraints, analyzeFilter(JSON.parse(JSON.stringify(filter)) as Filter));
      const mingo = new Query(filter, QUERY_OPTIONS);
      for (const doc of docs as Document[]) {
        assert.equal(direct.test(doc), general.test(doc), JSON.stringify({ filter, doc }));
        assert.equal(direct.test(doc), mingo.test(doc), JSON.stringify({ filter, doc }));
      }
    }),
  );
});

test('a direct compile is not cached, and values asked once push no costly filter out', async () => {
  const cache = new FilterCache(2);
  const costly = cache.get({ a: { $gt: 1 } });
  const other = cache.get({ b: { $in: [1, 2] } });
  for (let i = 0; i < 100; i++) {
    const direct = cache.get({ a: `x${i}` });
    assert.deepEqual(direct.filter, { a: `x${i}` });
    assert.equal(direct.test({ _id: 'd', _rev: 1, a: `x${i}` }), true);
    const sliced = await cache.getSliced({ b: i }, { due: () => false, next: async () => {} });
    assert.equal(sliced.test({ _id: 'd', _rev: 1, b: i }), true);
  }
  assert.equal(cache.size, 2);
  assert.equal(cache.get({ a: { $gt: 1 } }), costly);
  assert.equal(cache.get({ b: { $in: [1, 2] } }), other);
});
