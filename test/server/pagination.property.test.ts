// Property: a page after a cursor (findPage, src/server/sliced-query.ts) holds the first
// `limit` matches after the cursor in the query's order (the sort values, then `_id`), as a
// full sort of the matches and a slice give them (store.find, then cursor.ts isAfter), whether
// it is found by seeking an index (store/index-seek.ts: forward, backward, with fields pinned
// before the sort's or fields after them) or as before (a multikey index, no index, another
// index chosen): on random documents with missing, null, mixed-type and array values, random
// inserts and removals between pages, ascending and descending, with and without a filter,
// with the walk cut into slices. Over a whole pagination: no document twice, every document
// present throughout seen once, none inserted behind the cursor seen.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Store } from '../../src/store/store.ts';
import type { Command } from '../../src/store/commands.ts';
import type { Document, Filter, JsonObject, SortSpec } from '../../src/store/types.ts';
import { findPage } from '../../src/server/sliced-query.ts';
import { indexSeekFor } from '../../src/store/index-seek.ts';
import { cursorAfter, isAfter, parseCursor, type CursorPosition } from '../../src/store/cursor.ts';
import { normalizeSort, sortValue, type Slicer, type SortKey } from '../../src/store/sort.ts';

const COLL = 'c';
const idArb = fc.stringMatching(/^[a-d0-3]{3}$/);
const pArb = fc.oneof(
  { weight: 8, arbitrary: fc.integer({ min: 0, max: 5 }) },
  { weight: 1, arbitrary: fc.constant(null) },
  { weight: 1, arbitrary: fc.constantFrom('a', 'b') },
);
/** A body; `arrays` lets `p` be an array now and then (a multikey index: the old path). */
const bodyArb = (arrays: boolean): fc.Arbitrary<JsonObject> =>
  fc.record(
    {
      p: arrays
        ? fc.oneof({ weight: 12, arbitrary: pArb }, { weight: 1, arbitrary: fc.array(fc.integer({ min: 0, max: 5 }), { maxLength: 2 }) })
        : pArb,
      q: fc.integer({ min: 0, max: 3 }),
      r: fc.constantFrom('x', 'y'),
    },
    { requiredKeys: ['r'] },
  ) as fc.Arbitrary<JsonObject>;
const indexesArb = fc.subarray<Array<[string, 1 | -1]>>([
  [['p', 1]],
  [['p', -1]],
  [
    ['p', 1],
    ['q', 1],
  ],
  [
    ['q', 1],
    ['p', -1],
  ],
  [
    ['r', 1],
    ['p', 1],
  ],
  [
    ['p', -1],
    ['q', -1],
    ['r', 1],
  ],
]);
const sortArb = fc.constantFrom<SortSpec>({ p: 1 }, { p: -1 }, { p: 1, q: 1 }, { p: -1, q: -1 }, { q: 1, p: -1 }, { q: -1, p: 1 }, { p: 1, _id: -1 });
const filterArb = fc.oneof<Array<fc.Arbitrary<Filter>>>(
  fc.constant({}),
  fc.constant({}),
  fc.constantFrom('x', 'y').map((r) => ({ r })),
  fc.integer({ min: 0, max: 5 }).map((v) => ({ p: { $gte: v } })),
  fc.integer({ min: 0, max: 5 }).map((v) => ({ p: { $lt: v }, r: 'y' })),
  fc.array(fc.integer({ min: 0, max: 5 }), { minLength: 1, maxLength: 3 }).map((vs) => ({ p: { $in: vs } })),
  fc.integer({ min: 0, max: 3 }).map((q) => ({ q })),
  fc.tuple(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 5 })).map(([q, v]) => ({ q, p: { $gt: v } })),
  fc.constantFrom('x', 'y').map((r) => ({ r, q: { $ne: 1 } })),
);
/** Between pages: inserts (fresh ids, before or after the cursor) and removals. */
const opArb = (arrays: boolean): fc.Arbitrary<{ insert: [string, JsonObject] } | { remove: number }> =>
  fc.oneof(
    { weight: 3, arbitrary: fc.tuple(idArb, bodyArb(arrays)).map((insert) => ({ insert })) },
    { weight: 1, arbitrary: fc.nat().map((remove) => ({ remove })) },
  );
// Arrays in a quarter of the cases: an array on `p` makes its indexes multikey (the old path).
const caseArb = fc.integer({ min: 0, max: 3 }).chain((n) => {
  const arrays = n === 0;
  return fc.record({
    docs: fc.uniqueArray(fc.tuple(idArb, bodyArb(arrays)), { selector: ([id]) => id, maxLength: 60, size: 'max' }),
    indexes: indexesArb,
    sort: sortArb,
    filter: filterArb,
    limit: fc.integer({ min: 1, max: 5 }),
    between: fc.array(fc.array(opArb(arrays), { maxLength: 3 }), { maxLength: 12, size: 'max' }),
    dueEvery: fc.integer({ min: 1, max: 9 }),
    synchronous: fc.boolean(),
  });
});

function storeWith(docs: ReadonlyArray<[string, JsonObject]>, indexes: Array<Array<[string, 1 | -1]>>): { store: Store; next: () => number } {
  const store = new Store();
  let index = 1;
  for (const fields of indexes) store.apply({ type: 'createIndex', collection: COLL, fields, unique: false } as Command, index++);
  for (const [id, body] of docs) store.apply({ type: 'insert', collection: COLL, docs: [{ _id: id, ...body }] } as Command, index++);
  return { store, next: () => index++ };
}

/** Ends its slice every `dueEvery` units; `between` runs at each next(). */
class TestSlicer implements Slicer {
  private units = 0;
  constructor(
    readonly deadline: number,
    private readonly dueEvery: number,
    private readonly between: () => void = () => {},
  ) {}
  due(): boolean {
    return ++this.units % this.dueEvery === 0;
  }
  async next(): Promise<void> {
    this.between();
    await Promise.resolve();
  }
}

/** The page as today's semantics define it: all matches in the query's order, those after the
 * cursor, the first `limit`. */
function expectedPage(store: Store, filter: Filter, sort: SortSpec, after: CursorPosition | undefined, limit: number): Document[] {
  const keys = normalizeSort(sort);
  const all = store.find(COLL, filter, { sort }) as Document[];
  return (after === undefined ? all : all.filter((d) => isAfter(d, after, keys))).slice(0, limit);
}

function positionOf(doc: Document, keys: readonly SortKey[]): CursorPosition {
  return { values: keys.map((k) => sortValue(doc, k)), id: doc._id };
}

describe('pages after a cursor answer as a full sort and a slice', () => {
  test('page by page, with inserts and removals between pages, in slices', async () => {
    let seekPages = 0;
    let otherPages = 0;
    await fc.assert(
      fc.asyncProperty(caseArb, async (c) => {
        const { store, next } = storeWith(c.docs, c.indexes);
        const keys = normalizeSort(c.sort);
        const initial = new Set((store.find(COLL, c.filter) as Document[]).map((d) => d._id));
        const touched = new Set<string>();
        const behind = new Set<string>();
        const seen: string[] = [];
        let cursor: string | undefined;
        for (let page = 0; ; page++) {
          assert.ok(page < 200, 'pagination does not end');
          const after = cursor === undefined ? undefined : parseCursor(cursor, keys);
          const expected = expectedPage(store, c.filter, c.sort, after, c.limit);
          const got = await findPage(
            store,
            COLL,
            c.filter,
            { sort: c.sort, limit: c.limit },
            after,
            new TestSlicer(c.synchronous ? Infinity : -Infinity, c.dueEvery),
          );
          assert.deepEqual(
            got.docs.map((d) => d._id),
            expected.map((d) => d._id),
          );
          assert.deepEqual(got.docs, expected);
          assert.equal(got.explain.nReturned, got.docs.length);
          if (after !== undefined) {
            const target = store.readTarget(COLL, c.filter);
            const coll = target.coll();
            if (coll !== undefined && indexSeekFor(coll, target.compiled, keys) !== undefined) seekPages++;
            else otherPages++;
          }
          seen.push(...got.docs.map((d) => d._id as string));
          cursor = got.next;
          if (cursor === undefined) break;
          assert.equal(got.docs.length, c.limit);
          const last = positionOf(got.docs[got.docs.length - 1] as Document, keys);
          // Writes between pages: an insert behind the cursor is never seen.
          for (const op of c.between[page] ?? []) {
            if ('insert' in op) {
              const [id, body] = op.insert;
              if (store.get(COLL, id) !== undefined || touched.has(id)) continue;
              store.apply({ type: 'insert', collection: COLL, docs: [{ _id: id, ...body }] } as Command, next());
              touched.add(id);
              const doc = store.get(COLL, id) as Document;
              if (!isAfter(doc, last, keys)) behind.add(id);
            } else {
              const ids = (store.find(COLL, {}) as Document[]).map((d) => d._id as string);
              if (ids.length === 0) continue;
              const id = ids[op.remove % ids.length]!;
              store.apply({ type: 'remove', collection: COLL, filter: { _id: id }, multi: false }, next());
              touched.add(id);
            }
          }
        }
        assert.equal(new Set(seen).size, seen.length, 'a document came twice');
        for (const id of initial) if (!touched.has(id)) assert.ok(seen.includes(id), `${id}, present throughout, was skipped`);
        for (const id of behind) assert.ok(!seen.includes(id), `${id}, inserted behind the cursor, was seen`);
      }),
      { numRuns: 500 },
    );
    // Both paths ran: the index seek, and the old one (a multikey index, no index to use).
    assert.ok(seekPages > 100 && otherPages > 100, `pages by index seek: ${seekPages}, otherwise: ${otherPages}`);
  });

  test('inserts between the slices of one page: ordered, after the cursor, exact about the documents that stayed', async () => {
    await fc.assert(
      fc.asyncProperty(caseArb, fc.array(fc.tuple(idArb, bodyArb(false)), { maxLength: 20, size: 'max' }), async (c, inserts) => {
        const { store, next } = storeWith(c.docs, c.indexes);
        const keys = normalizeSort(c.sort);
        const all = store.find(COLL, c.filter, { sort: c.sort }) as Document[];
        if (all.length === 0) return;
        const after = positionOf(all[Math.floor(all.length / 3)]!, keys);
        const before = new Set(expectedPage(store, c.filter, c.sort, after, Infinity).map((d) => d._id));
        let i = 0;
        const insert = (): void => {
          const item = inserts[i++];
          if (item === undefined || store.get(COLL, item[0]) !== undefined) return;
          store.apply({ type: 'insert', collection: COLL, docs: [{ _id: item[0], ...item[1] }] } as Command, next());
        };
        const got = await findPage(store, COLL, c.filter, { sort: c.sort, limit: c.limit }, after, new TestSlicer(-Infinity, c.dueEvery, insert));
        const ids = got.docs.map((d) => d._id as string);
        assert.equal(new Set(ids).size, ids.length, 'a document came twice');
        for (const doc of got.docs) assert.ok(isAfter(doc as Document, after, keys), 'behind the cursor');
        for (let k = 1; k < got.docs.length; k++) {
          assert.ok(isAfter(got.docs[k] as Document, positionOf(got.docs[k - 1] as Document, keys), keys), 'out of order');
        }
        // Every document there before and after (nothing removes) up to the page's end is in it.
        const lastDoc = got.docs[got.docs.length - 1] as Document | undefined;
        const end = lastDoc === undefined || got.docs.length < c.limit ? undefined : positionOf(lastDoc, keys);
        for (const id of before) {
          const doc = store.get(COLL, id as string) as Document;
          if (end === undefined || !isAfter(doc, end, keys)) assert.ok(ids.includes(id as string), `${id as string} stayed and was skipped`);
        }
        if (got.docs.length === c.limit) assert.equal(got.next, cursorAfter(lastDoc!, keys));
        else assert.equal(got.next, undefined);
      }),
      { numRuns: 300 },
    );
  });
});
