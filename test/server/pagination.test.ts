// Cursor pagination: pages in keyset order cover every document that stayed exactly once,
// whatever is inserted meanwhile (before or after the cursor), in _id order and in a sort
// order; Link rel="next" on GET; a forged or mismatched cursor is 400.
import assert from 'node:assert/strict';
import { test } from 'node:test';
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
