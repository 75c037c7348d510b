// RemoteCollection.findPage() and pages() (issue #14) against a real server on 127.0.0.1:
// keyset pages over `POST /api/:collection/_query` with `cursor`, the next one taken from
// the reply's `Next-Cursor`; writes between pages shift nothing; the cursors are the
// embedded API's (one's cursor continues the other's walk); bad cursors are BadRequestErrors.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  BadRequestError,
  connect,
  type Client,
  type Document,
  type FindPageOptions,
  type Page,
  type RemoteCollection,
  type RemoteStoreError,
} from '../../src/client/index.ts';
import { byRank, DOCS, idsOf, LIMIT, walkPages } from '../page-fixtures.ts';
import { startTestServer, type TestServer } from '../server/helpers.ts';

describe('client findPage and pages against a real server', () => {
  let server: TestServer;
  let client: Client;
  let fresh = 0;
  const seeded = async (): Promise<RemoteCollection> => {
    const coll = client.collection(`c${fresh++}`);
    await coll.insertMany(DOCS);
    await coll.createIndex({ rank: 1 });
    return coll;
  };

  /** Pages until the last one; `between(n, page)` runs after page n. */
  const walk = (coll: RemoteCollection, options: FindPageOptions, between?: (n: number, page: Page) => Promise<void>): Promise<Page[]> =>
    walkPages((cursor) => coll.findPage({}, { ...options, ...(cursor !== undefined ? { cursor } : {}) }), options.limit, between);

  before(async () => {
    server = await startTestServer();
    const url = await server.app.listen({ port: 0, host: '127.0.0.1' });
    client = connect(url, { backoff: { delayMsInitial: 10, delayMsMax: 50 } });
  });
  after(async () => {
    await client.close();
    await server.close();
  });

  test('_id order and indexed sorts: every document once, in order; next absent on the last page', async () => {
    const coll = await seeded();
    const pages = await walk(coll, { limit: LIMIT });
    assert.deepEqual(
      pages.map((p) => p.docs.length),
      [10, 10, 5],
    );
    assert.ok(!('next' in pages[2]!));
    assert.deepEqual(
      idsOf(pages),
      DOCS.map((d) => d._id),
    );
    for (const dir of [1, -1] as const) {
      const sorted = await walk(coll, { limit: LIMIT, sort: { rank: dir }, consistency: 'lease' });
      assert.deepEqual(
        idsOf(sorted),
        [...DOCS].sort(byRank(dir)).map((d) => d._id),
        `rank ${dir}`,
      );
    }
    const projected = await coll.findPage({ rank: { $gte: 4 } }, { limit: 3, sort: { score: 1 }, projection: { score: 1 } });
    assert.deepEqual(
      projected.docs,
      DOCS.filter((d) => d.rank >= 4)
        .sort((a, b) => a.score - b.score)
        .slice(0, 3)
        .map((d) => ({ _id: d._id, score: d.score })),
    );
  });

  for (const dir of [undefined, 1, -1] as const) {
    test(`inserts and removals between pages shift nothing (${dir === undefined ? '_id order' : `rank ${dir}`})`, async () => {
      const coll = await seeded();
      const initial = new Set(DOCS.map((d) => d._id));
      const seenSoFar = new Set<string>();
      const behind: string[] = [];
      const ahead: string[] = [];
      const removed: string[] = [];
      const options: FindPageOptions = dir === undefined ? { limit: LIMIT } : { limit: LIMIT, sort: { rank: dir } };
      const pages = await walk(coll, options, async (n, page) => {
        for (const doc of page.docs) seenSoFar.add(doc._id);
        const early = { _id: `${page.docs[0]!._id}-b${n}`, rank: dir === -1 ? 100 : -1 };
        const late = { _id: `zz-a${n}`, rank: dir === -1 ? -1 : 100 };
        await coll.insertMany([early, late]);
        behind.push(early._id);
        ahead.push(late._id);
        const all = await coll.find({}, dir === undefined ? {} : { sort: { rank: dir } });
        const unseen = all.find((d) => initial.has(d._id) && !seenSoFar.has(d._id));
        if (unseen !== undefined) {
          await coll.remove(unseen._id);
          removed.push(unseen._id);
        }
      });
      const seen = idsOf(pages);
      assert.equal(new Set(seen).size, seen.length, `no document twice: ${seen.join(' ')}`);
      for (const doc of DOCS) if (!removed.includes(doc._id)) assert.ok(seen.includes(doc._id), `${doc._id} is seen`);
      for (const x of [...removed, ...behind]) assert.ok(!seen.includes(x), `${x} (removed ahead, or inserted behind) is not seen`);
      for (const x of ahead) assert.ok(seen.includes(x), `${x} inserted ahead is seen`);
      assert.ok(behind.length >= 2 && removed.length >= 1, 'writes happened between pages');
    });
  }

  test('pages(): for await over every page, resumable from a next; stops on break', async () => {
    const coll = await seeded();
    const all: Page<Document>[] = [];
    for await (const page of coll.pages({}, { limit: LIMIT, sort: { rank: -1 } })) all.push(page);
    assert.deepEqual(
      all.map((p) => p.docs.length),
      [10, 10, 5],
    );
    assert.deepEqual(
      idsOf(all),
      [...DOCS].sort(byRank(-1)).map((d) => d._id),
    );
    const rest: Page[] = [];
    for await (const page of coll.pages({}, { limit: LIMIT, sort: { rank: -1 }, cursor: all[0]!.next! })) rest.push(page);
    assert.deepEqual(idsOf(rest), idsOf(all.slice(1)));
    let n = 0;
    for await (const page of coll.pages({ rank: { $lt: 100 } }, { limit: 2 })) {
      assert.equal(page.docs.length, 2);
      if (++n === 3) break;
    }
    assert.equal(n, 3);
    // Exactly one full page: a next, then an empty last page.
    const ten = client.collection(`c${fresh++}`);
    await ten.insertMany(DOCS.slice(0, LIMIT));
    const twoPages: Page[] = [];
    for await (const page of ten.pages({}, { limit: LIMIT })) twoPages.push(page);
    assert.deepEqual(
      twoPages.map((p) => p.docs.length),
      [10, 0],
    );
  });

  test('the cursors are those of the embedded API: one continues the walk of the other', async () => {
    const coll = await seeded();
    const embedded = server.db.collection(coll.name);
    const first = embedded.findPage({}, { limit: LIMIT, sort: { rank: 1 } });
    const second = await coll.findPage({}, { limit: LIMIT, sort: { rank: 1 }, cursor: first.next! });
    const third = embedded.findPage({}, { limit: LIMIT, sort: { rank: 1 }, cursor: second.next! });
    assert.deepEqual(
      idsOf([first, second, third]),
      [...DOCS].sort(byRank(1)).map((d) => d._id),
    );
    assert.equal(second.next, embedded.findPage({}, { limit: LIMIT, sort: { rank: 1 }, cursor: first.next! }).next);
  });

  test('bad cursors: BadRequestError (400 BAD_REQUEST)', async () => {
    const coll = await seeded();
    const { next } = await coll.findPage({}, { limit: LIMIT, sort: { rank: 1 } });
    assert.ok(next !== undefined);
    const refused = async (options: FindPageOptions, words: RegExp): Promise<void> => {
      await assert.rejects(
        coll.findPage({}, options),
        (e: unknown) => e instanceof BadRequestError && e.code === 'BAD_REQUEST' && (e as RemoteStoreError).status === 400 && words.test(e.message),
        JSON.stringify(options),
      );
    };
    await refused({ limit: LIMIT, cursor: 'not a cursor!' }, /not base64url/);
    await refused({ limit: LIMIT, cursor: Buffer.from('[1]', 'utf8').toString('base64url') }, /undecodable/);
    await refused({ limit: LIMIT, cursor: next }, /another sort/);
    await refused({ limit: LIMIT, sort: { rank: -1 }, cursor: next }, /another sort/);
    await refused({ limit: 0, sort: { rank: 1 }, cursor: next }, /needs a limit/);
    assert.equal((await coll.findPage({}, { limit: LIMIT, sort: { rank: 1 }, cursor: next })).docs.length, LIMIT);
  });
});
