// Cursor pagination: pages in keyset order cover every document that stayed exactly once,
// whatever is inserted meanwhile (before or after the cursor), in _id order and in a sort
// order (with and without an index); Link rel="next" on GET; a forged or mismatched cursor is
// 400; a page after a cursor in an indexed order costs about what it returns (explain).
// Random pages against a full sort: pagination.property.test.ts.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { findPage } from '../../src/server/sliced-query.ts';
import type { Command } from '../../src/store/commands.ts';
import type { Filter } from '../../src/store/types.ts';
import { isAfter, parseCursor } from '../../src/store/cursor.ts';
import { normalizeSort } from '../../src/store/sort.ts';
import { Store } from '../../src/store/store.ts';
import { errorOf, send, startTestServer } from './helpers.ts';

test('GET pages follow Link rel=next; inserts meanwhile neither repeat nor skip a document', async () => {
  const s = await startTestServer();
  try {
    await send(
      s.app,
      'POST',
      '/api/c',
      Array.from({ length: 50 }, (_, i) => ({ _id: `d${String(i).padStart(3, '0')}`, n: i % 7 })),
    );
    const seen: string[] = [];
    let url: string | undefined = '/api/c?limit=7';
    for (let page = 0; url !== undefined; page++) {
      const res = await send(s.app, 'GET', url);
      assert.equal(res.statusCode, 200, res.body);
      seen.push(...(res.json() as Array<{ _id: string }>).map((d) => d._id));
      // Concurrent inserts: one before every cursor (never returned: behind), one far ahead (returned once).
      await send(s.app, 'POST', '/api/c', [{ _id: `a${page}` }, { _id: `z${page}` }]);
      url = /<([^>]+)>; rel="next"/.exec(String(res.headers['link'] ?? ''))?.[1];
      assert.ok(page < 40, 'pagination does not end');
    }
    const originals = seen.filter((id) => id.startsWith('d'));
    assert.equal(originals.length, 50);
    assert.equal(new Set(seen).size, seen.length, 'a document came twice');
    assert.ok(!seen.some((id) => id.startsWith('a')), 'a document inserted behind the cursor was returned');
    assert.ok(seen.some((id) => id.startsWith('z')));
  } finally {
    await s.close();
  }
});

test('POST _query pages in a sort order with Next-Cursor; a cursor is checked', async () => {
  const s = await startTestServer();
  try {
    await send(
      s.app,
      'POST',
      '/api/c',
      Array.from({ length: 30 }, (_, i) => ({ n: i % 4, i })),
    );
    const expected = (await send(s.app, 'POST', '/api/c/_query', { sort: { n: -1 } })).json() as Array<{ _id: string }>;
    const seen: string[] = [];
    let body: Record<string, unknown> = { sort: { n: -1 }, limit: 4, projection: { i: 1 } };
    for (;;) {
      const res = await send(s.app, 'POST', '/api/c/_query', body);
      assert.equal(res.statusCode, 200, res.body);
      seen.push(...(res.json() as Array<{ _id: string }>).map((d) => d._id));
      const next = res.headers['next-cursor'];
      if (typeof next !== 'string') break;
      body = { ...body, cursor: next };
    }
    assert.deepEqual(
      seen,
      expected.map((d) => d._id),
    );
    const first = await send(s.app, 'POST', '/api/c/_query', { sort: { n: -1 }, limit: 4 });
    const cursor = first.headers['next-cursor'] as string;
    for (const bad of [
      { sort: { n: 1 }, limit: 4, cursor },
      { sort: { n: -1 }, limit: 4, cursor: 'not!base64' },
      { sort: { n: -1 }, limit: 4, cursor: Buffer.from('{"v":1}').toString('base64url') },
      { sort: { n: -1 }, cursor },
      { sort: { n: -1 }, limit: 4, skip: 1, cursor },
    ]) {
      const res = await send(s.app, 'POST', '/api/c/_query', bad);
      assert.equal(res.statusCode, 400, JSON.stringify(bad));
      assert.equal(errorOf(res).code, 'BAD_REQUEST');
    }
  } finally {
    await s.close();
  }
});

/** A slicer whose slice never ends: the walk runs in one piece (its cost is what is measured). */
const oneSlice = { deadline: Infinity, due: (): boolean => false, next: (): Promise<void> => Promise.resolve() };

test('a page after a cursor in an indexed order examines about what it returns, not every match before it', async () => {
  const store = new Store();
  let index = 1;
  const apply = (command: Command): void => void store.apply(command, index++);
  apply({ type: 'createIndex', collection: 'single', fields: [['price', 1]], unique: false });
  // Fields after the sort's: each tie (here 2 documents) is taken whole.
  apply({
    type: 'createIndex',
    collection: 'compound',
    fields: [
      ['price', 1],
      ['name', 1],
    ],
    unique: false,
  });
  for (const collection of ['single', 'compound']) {
    const docs = Array.from({ length: 2000 }, (_, i) => ({
      _id: `d${String(i).padStart(4, '0')}`,
      price: i % 1000,
      name: `n${i % 7}`,
      r: i % 2 === 0 ? 'x' : 'y',
    }));
    apply({ type: 'insert', collection, docs });
  }
  const limit = 10;
  for (const collection of ['single', 'compound']) {
    for (const sort of [{ price: 1 }, { price: -1 }] as const) {
      for (const filter of [{}, { r: 'x' }] as Filter[]) {
        const label = `${collection} ${JSON.stringify(sort)} ${JSON.stringify(filter)}`;
        // The first page ends halfway: its cursor is 1,000 documents (500 matches) in.
        const first = await findPage(store, collection, filter, { sort, limit: Object.keys(filter).length === 0 ? 1000 : 500 }, undefined, oneSlice);
        const after = parseCursor(first.next, normalizeSort(sort));
        const second = await findPage(store, collection, filter, { sort, limit }, after, oneSlice);
        assert.equal(second.docs.length, limit, label);
        assert.deepEqual(
          second.docs,
          store
            .find(collection, filter, { sort })
            .filter((d) => isAfter(d, after, normalizeSort(sort)))
            .slice(0, limit),
          label,
        );
        assert.equal(second.explain.plan, 'index', label);
        assert.equal(second.explain.sort, 'index', label);
        // About `limit` documents, and as many the filter rejects on the way (every other
        // one); with fields after the sort's, the ties at both ends too (2 documents each).
        const bound = (Object.keys(filter).length === 0 ? limit : 2 * limit) + (collection === 'compound' ? 4 : 1);
        assert.ok(second.explain.docsExamined <= bound, `${label}: ${second.explain.docsExamined} documents examined for a page of ${limit}`);
        assert.ok(second.explain.keysExamined <= bound + 1, `${label}: ${second.explain.keysExamined} keys examined`);
      }
    }
  }
  // A multikey index does not give the order (an array sorts by its smallest or largest
  // element): the page selects from the matches after the cursor, as before.
  apply({ type: 'insert', collection: 'single', docs: [{ _id: 'array', price: [3, 900] }] });
  const first = await findPage(store, 'single', {}, { sort: { price: 1 }, limit: 1000 }, undefined, oneSlice);
  const after = parseCursor(first.next, normalizeSort({ price: 1 }));
  const second = await findPage(store, 'single', {}, { sort: { price: 1 }, limit }, after, oneSlice);
  assert.deepEqual(second.docs, store.find('single', {}, { sort: { price: 1 } }).slice(1000, 1000 + limit));
  assert.equal(second.explain.sort, 'memory');
});

test('GET pages in an indexed sort order, ascending and descending, while documents are inserted ahead of and behind the cursor', async () => {
  const s = await startTestServer();
  try {
    // Ties, missing fields and nulls among them.
    const originals = Array.from({ length: 40 }, (_, i) => {
      const doc: Record<string, unknown> = { _id: `d${String(i).padStart(3, '0')}`, r: i % 3 === 0 ? 'y' : 'x' };
      if (i % 10 === 5) doc['price'] = null;
      else if (i % 10 !== 0) doc['price'] = (i * 7) % 20;
      return doc;
    });
    for (const [dir, filter] of [
      [1, {}],
      [-1, { r: 'x' }],
    ] as const) {
      const coll = dir === 1 ? 'up' : 'down';
      assert.equal((await send(s.app, 'POST', `/api/${coll}/_indexes`, { fields: { price: 1 } })).statusCode, 201);
      assert.equal((await send(s.app, 'POST', `/api/${coll}`, originals)).statusCode, 201);
      const expected = originals.filter((d) => Object.keys(filter).length === 0 || d['r'] === 'x').map((d) => d['_id'] as string);
      // Lowest and highest: null sorts first, then numbers.
      const [first, last] = dir === 1 ? [null, 1000] : [1000, null];
      const seen: Array<{ _id: string; price?: number | null }> = [];
      let url: string | undefined =
        `/api/${coll}?sort=${encodeURIComponent(JSON.stringify({ price: dir }))}&filter=${encodeURIComponent(JSON.stringify(filter))}&limit=6`;
      for (let page = 0; url !== undefined; page++) {
        const res = await send(s.app, 'GET', url);
        assert.equal(res.statusCode, 200, res.body);
        const docs = res.json() as Array<{ _id: string; price?: number | null }>;
        seen.push(...docs);
        const price = docs[docs.length - 1]?.price ?? null;
        // Behind the cursor (never returned): before every document, and in the cursor's tie
        // with a smaller _id. Ahead (returned once): in its tie with a larger _id, and after all.
        const tag = String(page).padStart(2, '0');
        await send(s.app, 'POST', `/api/${coll}`, [
          { _id: `a${tag}b`, price: first, r: 'x' },
          { _id: `a${tag}t`, price, r: 'x' },
          { _id: `z${tag}t`, price, r: 'x' },
          { _id: `z${tag}e`, price: last, r: 'x' },
        ]);
        url = /<([^>]+)>; rel="next"/.exec(String(res.headers['link'] ?? ''))?.[1];
        assert.ok(page < 40, 'pagination does not end');
      }
      const ids = seen.map((d) => d._id);
      assert.equal(new Set(ids).size, ids.length, 'a document came twice');
      assert.deepEqual(ids.filter((id) => id.startsWith('d')).sort(), expected.sort(), 'every original once');
      assert.deepEqual(
        ids.filter((id) => id.startsWith('a')),
        [],
        'a document inserted behind the cursor was returned',
      );
      const ahead = ids.filter((id) => id.startsWith('z'));
      assert.ok(ahead.length > 10, `documents inserted ahead of the cursor are returned (${ahead.length})`);
      // One order over all the pages: the sort value, then _id.
      const rank = (v: number | null | undefined): number => (v === null || v === undefined ? -Infinity : v);
      for (let i = 1; i < seen.length; i++) {
        const a = seen[i - 1]!;
        const b = seen[i]!;
        const c = (rank(a.price) - rank(b.price)) * dir;
        assert.ok(c < 0 || (rank(a.price) === rank(b.price) && a._id < b._id), `out of order: ${a._id}, ${b._id}`);
      }
    }
  } finally {
    await s.close();
  }
});
