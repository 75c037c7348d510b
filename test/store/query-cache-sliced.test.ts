// FilterCache.getSliced (src/store/query-cache.ts): a wide top-level $or/$and/$nor is compiled
// branch by branch between turns, and the predicate it gives matches exactly the documents
// that the one-piece compile (mingo's own $or/$and/$nor) matches, nested wide operators and
// other top-level fields included; a narrow filter is compiled as before, in one piece.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { compileFilter, FilterCache, SLICED_COMPILE_BRANCHES_MIN } from '../../src/store/query-cache.ts';
import type { Document, Filter } from '../../src/store/types.ts';

const i5 = fc.integer({ min: 0, max: 5 });
const docArb = fc.record(
  { _id: fc.constant('x'), _rev: fc.constant(1), a: fc.oneof(i5, fc.array(i5, { maxLength: 3 })), b: fc.constantFrom('x', 'y'), u: i5 },
  { requiredKeys: ['_id', '_rev'] },
);
const leafArb: fc.Arbitrary<Filter> = fc.oneof(
  i5.map((v) => ({ a: v })),
  i5.map((v) => ({ u: { $gt: v } })),
  fc.constantFrom('x', 'y').map((b) => ({ b })),
  fc.tuple(i5, i5).map(([a, u]) => ({ a, u: { $lte: u } })),
  fc.constant({}),
);
const opArb = fc.constantFrom('$or', '$and', '$nor');
/** `n` branches (wide when over SLICED_COMPILE_BRANCHES_MIN), one of them maybe itself wide. */
const wideArb: fc.Arbitrary<Filter> = fc
  .tuple(
    opArb,
    fc.array(leafArb, { minLength: 1, maxLength: 8 }),
    fc.integer({ min: SLICED_COMPILE_BRANCHES_MIN - 2, max: SLICED_COMPILE_BRANCHES_MIN + 40 }),
    fc.option(fc.tuple(opArb, fc.array(leafArb, { minLength: 1, maxLength: 4 })), { nil: undefined }),
    // Beside the wide operator (FILTER_REGEXES_MAX allows 16 regexes in all: one here).
    fc.option(
      fc.oneof(
        leafArb,
        fc.constantFrom('x', 'y').map((b): Filter => ({ b: { $regex: `^${b}` } })),
      ),
      { nil: undefined },
    ),
  )
  .map(([op, pattern, n, nested, beside]) => {
    const branches: Filter[] = Array.from({ length: n }, (_, i) => pattern[i % pattern.length]!);
    if (nested !== undefined) {
      const [innerOp, innerPattern] = nested;
      branches[n >> 1] = { [innerOp]: Array.from({ length: SLICED_COMPILE_BRANCHES_MIN + 1 }, (_, i) => innerPattern[i % innerPattern.length]!) };
    }
    return { ...(beside ?? {}), [op]: branches } as Filter;
  });

describe('FilterCache.getSliced', () => {
  test('a wide filter compiled in slices matches what the one-piece compile matches', async () => {
    await fc.assert(
      fc.asyncProperty(
        wideArb,
        fc.array(docArb, { minLength: 1, maxLength: 20, size: 'max' }),
        fc.integer({ min: 1, max: 5 }),
        async (filter, docs, every) => {
          let units = 0;
          let turns = 0;
          const slicer = {
            due: () => ++units % every === 0,
            next: async () => {
              turns++;
              await Promise.resolve();
            },
          };
          const sliced = await new FilterCache().getSliced(filter, slicer);
          const whole = compileFilter(filter);
          for (const doc of docs) assert.equal(sliced.test(doc as Document), whole.test(doc as Document), JSON.stringify(doc));
          assert.deepEqual(sliced.constraints, whole.constraints);
          assert.equal(sliced.matchAll, whole.matchAll);
          const wide = Object.values(filter).some((v) => Array.isArray(v) && v.length > SLICED_COMPILE_BRANCHES_MIN);
          if (wide && every === 1) assert.ok(turns > SLICED_COMPILE_BRANCHES_MIN, `${turns} turns`);
        },
      ),
      { numRuns: 300 },
    );
  });

  test('a cached filter is not compiled again; an invalid one is refused', async () => {
    const cache = new FilterCache();
    const filter: Filter = { $or: Array.from({ length: 100 }, (_, i) => ({ a: i })) };
    let turns = 0;
    const slicer = { due: () => true, next: async () => void turns++ };
    const first = await cache.getSliced(filter, slicer);
    const afterFirst = turns;
    assert.equal(await cache.getSliced(filter, slicer), first);
    assert.equal(turns, afterFirst);
    assert.equal(cache.get(filter), first);
    await assert.rejects(cache.getSliced({ $where: 'x' } as unknown as Filter, slicer), /where/);
  });
});
