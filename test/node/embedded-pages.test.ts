// collection.findPage() and pages() in the embedded database (issue #14): keyset pages with
// the HTTP API's cursor (store/cursor.ts), in _id order and in the order of an index (both
// directions, ties across pages), with a projection and without an index to use; writes
// between pages shift nothing (every document there from the start is seen once, none
// inserted behind the cursor is seen, those inserted ahead are); bad cursors are
// BadRequestErrors, as over HTTP.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { byRank, DOCS, idsOf, LIMIT, walkPages } from '../page-fixtures.ts';
import { open, BadRequestError, type Database, type Document, type EmbeddedCollection, type FindPageOptions, type Page } from '../../src/index.ts';

/** Pages until the last one; `between(n, page)` runs after page n (writes between pages). */
function walk(
  coll: EmbeddedCollection,
  options: FindPageOptions,
  between?: (n: number, page: Page<Document>) => Promise<void>,
): Promise<Array<Page<Document>>> {
  return walkPages(
    (cursor) => coll.findPage({}, { ...options, ...(cursor !== undefined ? { cursor } : {}), projection: undefined }),
    options.limit,
    between,
  );
}

describe('embedded findPage', () => {
  let db: Database;
  let fresh = 0;
  /** A new collection holding DOCS, with an index on rank. */
  const seeded = async (): Promise<EmbeddedCollection> => {
    const coll = db.collection(`c${fresh++}`);
    await coll.insertMany(DOCS);
    await coll.createIndex({ rank: 1 });
    return coll;
  };

  before(async () => {
    db = await open({ memory: true });
  });
  after(async () => {
    await db.close();
  });

  test('_id order: 10, 10, 5; next absent on the last page only; synchronous', async () => {
    const coll = await seeded();
    const first = coll.findPage({}, { limit: LIMIT });
    assert.ok(!(first instanceof Promise), 'findPage is synchronous');
    assert.deepEqual(
      first.docs.map((d) => d._id),
      DOCS.slice(0, 10).map((d) => d._id),
    );
    assert.equal(typeof first.next, 'string');
    const pages = await walk(coll, { limit: LIMIT });
    assert.deepEqual(
      pages.map((p) => p.docs.length),
      [10, 10, 5],
    );
    assert.equal(pages[2]!.next, undefined);
    assert.ok(!('next' in pages[2]!), 'next is absent, not undefined, on the last page');
    assert.deepEqual(
      idsOf(pages),
      DOCS.map((d) => d._id),
    );
    // Descending _id.
    const down = await walk(coll, { limit: LIMIT, sort: { _id: -1 } });
    assert.deepEqual(idsOf(down), DOCS.map((d) => d._id).reverse());
    // A collection of exactly two pages: the second is full and has a next; the third is empty.
    const exact = db.collection(`c${fresh++}`);
    await exact.insertMany(DOCS.slice(0, 20));
    const two = await walk(exact, { limit: LIMIT });
    assert.deepEqual(
      two.map((p) => p.docs.length),
      [10, 10, 0],
    );
  });

  for (const dir of [1, -1] as const) {
    test(`indexed sort {rank: ${dir}}: the sort's order, ties by _id across pages`, async () => {
      const coll = await seeded();
      assert.equal(coll.explain({}, { sort: { rank: dir }, limit: LIMIT }).plan, 'index');
      const pages = await walk(coll, { limit: LIMIT, sort: { rank: dir } });
      assert.deepEqual(
        idsOf(pages),
        [...DOCS].sort(byRank(dir)).map((d) => d._id),
      );
    });
  }

  test('unindexed sort, filter and projection', async () => {
    const coll = await seeded();
    const filter = { rank: { $ne: 3 } };
    const expected = DOCS.filter((d) => d.rank !== 3).sort((a, b) => b.score - a.score);
    const seen: string[] = [];
    let cursor: string | undefined;
    for (let n = 0; n < 20; n++) {
      const page = coll.findPage(filter, { limit: 4, sort: { score: -1 }, projection: { score: 1 }, ...(cursor !== undefined ? { cursor } : {}) });
      for (const doc of page.docs) {
        assert.deepEqual(Object.keys(doc).sort(), ['_id', 'score'], 'projected');
        seen.push(doc['_id'] as string);
      }
      if (page.next === undefined) break;
      cursor = page.next;
    }
    assert.deepEqual(
      seen,
      expected.map((d) => d._id),
    );
  });

  const SORTS: Array<Record<string, 1 | -1> | undefined> = [undefined, { rank: 1 }, { rank: -1 }, { score: 1 }];
  for (const sort of SORTS) {
    test(`inserts and removals between pages shift nothing (sort ${JSON.stringify(sort)})`, async () => {
      const coll = await seeded();
      const behind: string[] = [];
      const ahead: string[] = [];
      const removed: string[] = [];
      const keys = sort === undefined ? [] : (Object.entries(sort) as Array<[string, 1 | -1]>);
      const options: FindPageOptions = sort === undefined ? { limit: LIMIT } : { limit: LIMIT, sort };
      const initial = new Set(DOCS.map((d) => d._id));
      const seenSoFar = new Set<string>();
      const down = keys[0]?.[1] === -1;
      const pages = await walk(coll, options, async (n, page) => {
        for (const doc of page.docs) seenSoFar.add(doc._id);
        // Behind the cursor: an _id just after the page's first one, and a sort value before
        // every other; ahead: an _id and a sort value after every other.
        const early = { _id: `${page.docs[0]!._id}-b${n}`, rank: down ? 100 : -1, score: down ? 100 : -1 };
        const late = { _id: `zz-a${n}`, rank: down ? -1 : 100, score: down ? -1 : 100 };
        await coll.insertMany([early, late]);
        behind.push(early._id);
        ahead.push(late._id);
        // A document there from the start and not yet seen, removed: it is not seen either.
        const unseen = coll.find({}, sort === undefined ? {} : { sort }).find((d) => initial.has(d._id) && !seenSoFar.has(d._id));
        if (unseen !== undefined) {
          await coll.remove(unseen._id);
          removed.push(unseen._id);
        }
      });
      const seen = idsOf(pages);
      assert.equal(new Set(seen).size, seen.length, `no document twice: ${seen.join(' ')}`);
      for (const doc of DOCS) {
        if (!removed.includes(doc._id)) assert.ok(seen.includes(doc._id), `${doc._id} (there from the start) is seen`);
      }
      for (const x of removed) assert.ok(!seen.includes(x), `${x} removed ahead of the cursor is not seen`);
      for (const x of behind) assert.ok(!seen.includes(x), `${x} inserted behind the cursor is not seen`);
      for (const x of ahead) assert.ok(seen.includes(x), `${x} inserted ahead of the cursor is seen`);
      assert.ok(behind.length >= 2 && removed.length >= 1, 'writes happened between pages');
    });
  }

  test('pages() follows the cursors to the last page, and resumes from a next', async () => {
    const coll = await seeded();
    const all = [...coll.pages({}, { limit: LIMIT, sort: { rank: 1 } })];
    assert.deepEqual(
      all.map((p) => p.docs.length),
      [10, 10, 5],
    );
    assert.deepEqual(
      idsOf(all),
      [...DOCS].sort(byRank(1)).map((d) => d._id),
    );
    const rest = [...coll.pages({}, { limit: LIMIT, sort: { rank: 1 }, cursor: all[0]!.next! })];
    assert.deepEqual(idsOf(rest), idsOf(all.slice(1)));
  });

  test('bad cursors: BadRequestError (BAD_REQUEST), as over HTTP', async () => {
    const coll = await seeded();
    const { next } = coll.findPage({}, { limit: LIMIT, sort: { rank: 1 } });
    assert.ok(next !== undefined);
    const refused = (options: FindPageOptions, words: RegExp): void => {
      assert.throws(
        () => coll.findPage({}, options),
        (e: unknown) => e instanceof BadRequestError && e.code === 'BAD_REQUEST' && words.test(e.message),
        JSON.stringify(options),
      );
    };
    refused({ limit: LIMIT, cursor: 'not a cursor!' }, /not base64url/);
    refused({ limit: LIMIT, cursor: Buffer.from('{"v":1', 'utf8').toString('base64url') }, /undecodable/);
    refused({ limit: LIMIT, cursor: '' }, /non-empty string/);
    refused({ limit: LIMIT, cursor: next }, /another sort/); // made for {rank: 1}, asked without a sort
    refused({ limit: LIMIT, sort: { rank: -1 }, cursor: next }, /another sort/);
    refused({ limit: 0, sort: { rank: 1 }, cursor: next }, /needs a limit/);
    refused({ sort: { rank: 1 }, cursor: next } as unknown as FindPageOptions, /needs a limit/);
    refused({ limit: LIMIT, sort: { rank: 1 }, cursor: next, skip: 1 } as unknown as FindPageOptions, /skip/);
    // The same cursor with its own sort is fine.
    assert.equal(coll.findPage({}, { limit: LIMIT, sort: { rank: 1 }, cursor: next }).docs.length, LIMIT);
  });
});
