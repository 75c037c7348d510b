// Property: the server's sliced reads (src/server/sliced-query.ts) answer exactly what the
// synchronous Store.find/count answer, on random documents, indexes, filters, sorts, skips,
// limits and projections, whichever way they run (the synchronous executor within a
// deadline, or candidates taken in one piece then filtered, sorted and projected in
// slices, or the whole collection walked over several slices), and writes applied between
// their slices do not change what they answer: the state they read is the one at the moment
// they took their candidates, unless so many writes came that the walk's view was spent
// (VIEW_PRE_IMAGES_MAX, here 1 or 3): then it is the state at one later moment, whole.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { isDeepStrictEqual } from 'node:util';
import fc from 'fast-check';
import { Store } from '../../src/store/store.ts';
import type { Command } from '../../src/store/commands.ts';
import type { Filter, FindOptions, JsonObject, SortSpec } from '../../src/store/types.ts';
import { countSliced, findSliced } from '../../src/server/sliced-query.ts';
import { sortDocumentsSliced, type Slicer } from '../../src/store/sort.ts';
import { RequestSlicer } from '../../src/server/loop-turns.ts';

const COLL = 'c';
const i5 = fc.integer({ min: 0, max: 5 });
const bodyArb = fc.record(
  {
    a: fc.oneof(i5, fc.array(i5, { maxLength: 3 })),
    b: fc.constantFrom('x', 'y', 'z'),
    u: fc.integer({ min: 0, max: 12 }),
    n: fc.record({ x: fc.integer({ min: 0, max: 3 }) }),
  },
  { requiredKeys: ['b'] },
);
// Ids of three characters out of six: 216 ids, so that filters by _id often find some.
const idArb = fc.stringMatching(/^[a-c0-2]{3}$/);
const docsArb = fc.uniqueArray(fc.tuple(idArb, bodyArb), { selector: ([id]) => id, maxLength: 120, size: 'max' });

/** Filters; those on _id mostly name documents that exist (`ids`). */
const filterArb = (ids: readonly string[]): fc.Arbitrary<Filter> => {
  const idPick = ids.length === 0 ? idArb : fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...ids) }, { weight: 1, arbitrary: idArb });
  return fc.oneof<Array<fc.Arbitrary<Filter>>>(
    fc.constant({}),
    i5.map((v) => ({ a: v })),
    i5.map((v) => ({ a: { $gt: v } })),
    fc.array(i5, { minLength: 1, maxLength: 3 }).map((vs) => ({ a: { $in: vs } })),
    fc.constantFrom('x', 'y', 'z').map((v) => ({ b: v })),
    fc.integer({ min: 0, max: 12 }).map((v) => ({ u: { $lte: v } })),
    fc.integer({ min: 0, max: 3 }).map((v) => ({ 'n.x': v })),
    fc.tuple(i5, fc.constantFrom('x', 'y')).map(([a, b]): Filter => ({ $or: [{ a }, { b }] })),
    idPick.map((id) => ({ _id: id })),
    fc.array(idPick, { maxLength: 6 }).map((list) => ({ _id: { $in: list } })),
    fc.array(idPick, { maxLength: 6 }).map((list) => ({ _id: { $in: list }, a: { $gte: 1 } })),
    fc.tuple(idPick, idPick).map(([lo, hi]) => ({ _id: { $gte: lo, $lte: hi } })),
  );
};
const docsAndFilterArb = docsArb.chain((docs) => fc.tuple(fc.constant(docs), filterArb(docs.map(([id]) => id))));
const sortArb: fc.Arbitrary<SortSpec | undefined> = fc.constantFrom<SortSpec | undefined>(
  undefined,
  { _id: -1 },
  { _id: 1 },
  { u: 1 },
  { u: -1 },
  { a: 1 },
  { a: -1 },
  { b: 1, u: -1 },
  { 'n.x': -1, _id: -1 },
);
const optionsArb: fc.Arbitrary<FindOptions> = fc
  .record(
    {
      sort: sortArb,
      skip: fc.integer({ min: 0, max: 3 }),
      limit: fc.integer({ min: 0, max: 10 }),
      projection: fc.constantFrom<Record<string, 0 | 1>>({ b: 1 }, { a: 1, u: 1 }, { n: 0 }, { 'n.x': 1 }),
    },
    { requiredKeys: [] },
  )
  .map((o) => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as FindOptions);
const indexesArb = fc.subarray<Array<[string, 1 | -1]>>([
  [['a', 1]],
  [['u', -1]],
  [
    ['b', 1],
    ['u', 1],
  ],
  [['n.x', 1]],
]);

/** How a test read runs: a deadline already passed takes the sliced path at once, none runs
 * the synchronous executor; `dueEvery` ends a slice every so many units; `indexKeysMax`
 * makes wider index ranges take the whole collection; `preImagesMax` small spends the view. */
const runArb = fc.record({
  synchronous: fc.boolean(),
  dueEvery: fc.integer({ min: 1, max: 7 }),
  indexKeysMax: fc.constantFrom(1, 5, 1000),
  writesBetweenSlices: fc.boolean(),
  preImagesMax: fc.constantFrom(1, 3, 100_000),
});

function storeWith(docs: ReadonlyArray<[string, JsonObject]>, indexes: Array<Array<[string, 1 | -1]>>): { store: Store; next: () => number } {
  const store = new Store();
  let index = 1;
  for (const fields of indexes) store.apply({ type: 'createIndex', collection: COLL, fields, unique: false } as Command, index++);
  // Out of _id order, as a collection written over time: insertion order is not _id order.
  const shuffled = docs.slice().sort((x, y) => (x[0].split('').reverse().join('') < y[0].split('').reverse().join('') ? -1 : 1));
  for (const [id, body] of shuffled) store.apply({ type: 'insert', collection: COLL, docs: [{ _id: id, ...body }] } as Command, index++);
  return { store, next: () => index++ };
}

/** A slicer for tests: its slice ends every `dueEvery` units; between slices it may write. */
class TestSlicer implements Slicer {
  private units = 0;
  slices = 0;
  constructor(
    readonly deadline: number,
    private readonly dueEvery: number,
    private readonly between: () => void,
  ) {}
  due(): boolean {
    return ++this.units % this.dueEvery === 0;
  }
  async next(): Promise<void> {
    this.slices++;
    this.between();
    await Promise.resolve();
  }
}

describe('sliced reads answer as the synchronous store does', () => {
  test('find, count and explain: same documents, in the same order, with and without writes between slices', async () => {
    await fc.assert(
      fc.asyncProperty(docsAndFilterArb, indexesArb, optionsArb, runArb, async ([docs, filter], indexes, options, how) => {
        const { store, next } = storeWith(docs, indexes);
        let expected: JsonObject[] | undefined;
        /** The answer after each write: a spent view answers one of these. */
        const later: JsonObject[][] = [];
        let writes = 0;
        // The sliced path takes its candidates right after its first next(): the state then
        // is what it must answer from. Later next() calls write: updates, removals, inserts.
        const between = (): void => {
          if (expected === undefined) {
            expected = store.find(COLL, filter, options);
            return;
          }
          if (!how.writesBetweenSlices) return;
          const n = writes++;
          const command: Command =
            n % 3 === 0
              ? { type: 'update', collection: COLL, filter: {}, update: { $inc: { u: 1 }, $set: { b: 'z' } }, multi: true, upsert: false }
              : n % 3 === 1
                ? { type: 'remove', collection: COLL, filter: { b: 'x' }, multi: true }
                : { type: 'insert', collection: COLL, docs: [{ _id: `new${n}`, a: 1, b: 'x', u: 0 }] };
          store.apply(command, next());
          later.push(store.find(COLL, filter, options));
        };
        const deadline = how.synchronous ? Infinity : -Infinity;
        const syncFind = store.find(COLL, filter, options);
        const syncCount = store.count(COLL, filter);
        const syncExplain = store.explain(COLL, filter, { ...options, projection: undefined });
        const found = await findSliced(store, COLL, filter, options, new TestSlicer(deadline, how.dueEvery, between), {
          indexCaptureKeysMax: how.indexKeysMax,
          viewPreImagesMax: how.preImagesMax,
        });
        if (how.preImagesMax === 100_000 || later.length === 0) assert.deepEqual(found.docs, expected ?? syncFind);
        else
          assert.ok(
            [expected, ...later].some((state) => isDeepStrictEqual(found.docs, state)),
            'the state at one moment',
          );
        if (expected === undefined) assert.deepEqual(found.explain, syncExplain, 'the synchronous path explains as store.explain');
        assert.equal(found.explain.nReturned, found.docs.length);

        // count: the same, its later slices removing every document.
        const { store: store2, next: next2 } = storeWith(docs, indexes);
        let countAtCapture: number | undefined;
        let removedAll = false;
        const between2 = (): void => {
          if (countAtCapture === undefined) countAtCapture = store2.count(COLL, filter);
          else if (how.writesBetweenSlices) {
            store2.apply({ type: 'remove', collection: COLL, filter: {}, multi: true }, next2());
            removedAll = true;
          }
        };
        const count = await countSliced(store2, COLL, filter, new TestSlicer(deadline, how.dueEvery, between2), {
          indexCaptureKeysMax: how.indexKeysMax,
          viewPreImagesMax: how.preImagesMax,
        });
        if (how.preImagesMax === 100_000 || !removedAll) assert.equal(count, countAtCapture ?? syncCount);
        else assert.ok(count === countAtCapture || count === 0, `count ${count}: the state at one moment`);
      }),
      { numRuns: 400 },
    );
  });

  test('the sliced sort orders like sortDocuments and selects the first `need` (top-k) for any need', async () => {
    await fc.assert(
      fc.asyncProperty(docsArb, sortArb, fc.integer({ min: 0, max: 130 }), fc.integer({ min: 1, max: 9 }), async (docs, sort, need, every) => {
        const { store } = storeWith(docs, []);
        const all = store.find(COLL, {}, sort === undefined ? {} : { sort });
        const { normalizeSort } = await import('../../src/store/sort.ts');
        const shuffled = all.slice().reverse();
        const got = await sortDocumentsSliced(shuffled, normalizeSort(sort), need, new TestSlicer(-Infinity, every, () => {}));
        assert.deepEqual(got, all.slice(0, need));
        assert.deepEqual(shuffled, all.slice().reverse(), 'the input is not changed');
      }),
      { numRuns: 300 },
    );
  });

  test('a real slicer ends its slice after READ_SLICE_MS and its turns come one per event-loop iteration', async () => {
    const slicer = new RequestSlicer(2);
    const started = performance.now();
    while (!slicer.due()) {
      // spin
    }
    const spent = performance.now() - started;
    assert.ok(spent >= 2 && spent < 20, `a 2 ms slice ended after ${spent} ms`);
    // Two requests taking turns, each slice spinning 1 ms: a timer set now runs between
    // two of their slices (with a setImmediate per slice, a0 and b0 would run back to back).
    const order: string[] = [];
    const work = async (name: string): Promise<void> => {
      const s = new RequestSlicer();
      for (let i = 0; i < 3; i++) {
        await s.next();
        order.push(`${name}${i}`);
        const t0 = performance.now();
        while (performance.now() - t0 < 1) {
          // spin
        }
      }
    };
    const both = Promise.all([work('a'), work('b')]);
    setTimeout(() => order.push('timer'), 0);
    await both;
    await new Promise((r) => setTimeout(r, 5));
    assert.deepEqual(
      order.filter((x) => x !== 'timer'),
      ['a0', 'b0', 'a1', 'b1', 'a2', 'b2'],
    );
    assert.ok(order.indexOf('timer') < order.indexOf('b0'), order.join(' '));
  });
});
