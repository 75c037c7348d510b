// Over HTTP, the sliced reads answer what the store answers: a response over
// RESPONSE_BUFFER_CHARS is streamed (chunked, no Content-Length) and is the same JSON text
// as JSON.stringify of store.find; a smaller one has its Content-Length; a wide `$or` that
// may not finish within one slice, its count and its explain agree with the store's; and
// large bodies sent together are all parsed (each at its own turn).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { RESPONSE_BUFFER_CHARS } from '../../src/server/json-response.ts';
import { send, startTestServer, type TestServer } from './helpers.ts';

const DOCS = 3000;
const PAD = 'x'.repeat(1000);

describe('sliced reads over HTTP', () => {
  let s: TestServer;
  before(async () => {
    s = await startTestServer();
    for (let from = 0; from < DOCS; from += 500) {
      const docs = Array.from({ length: 500 }, (_, k) => ({
        _id: `d${String(from + k).padStart(5, '0')}`,
        n: from + k,
        g: (from + k) % 7,
        pad: PAD,
      }));
      assert.equal((await send(s.app, 'POST', '/api/big', docs)).statusCode, 201);
    }
  });
  after(async () => {
    await s.close();
  });

  test('a response over RESPONSE_BUFFER_CHARS is streamed, the same text as JSON.stringify of the store`s answer', async () => {
    const res = await send(s.app, 'POST', '/api/big/_query', { sort: { g: 1, n: -1 } });
    assert.equal(res.statusCode, 200);
    assert.ok(res.payload.length > RESPONSE_BUFFER_CHARS, 'the answer is larger than what is sent whole');
    assert.equal(res.headers['content-length'], undefined, 'streamed');
    assert.match(String(res.headers['content-type']), /^application\/json/);
    assert.equal(res.payload, JSON.stringify(s.db.collection('big').find({}, { sort: { g: 1, n: -1 } })));
  });

  test('a small response is sent whole, with its Content-Length, and projections apply', async () => {
    const res = await send(s.app, 'GET', `/api/big?filter=${encodeURIComponent('{"g":3}')}&limit=5&skip=2&fields=n`);
    assert.equal(res.statusCode, 200);
    assert.equal(res.headers['content-length'], String(Buffer.byteLength(res.payload)));
    assert.deepEqual(res.json(), s.backend.store.find('big', { g: 3 }, { limit: 5, skip: 2, projection: { n: 1 } }));
  });

  test('a 1,024-branch $or (longer than a slice) answers as the store does: find, count, explain', async () => {
    const filter = { $or: Array.from({ length: 1024 }, (_, i) => ({ n: i * 3 })) };
    const found = await send(s.app, 'POST', '/api/big/_query', { filter, sort: { n: -1 }, limit: 10, skip: 3 });
    assert.deepEqual(found.json(), s.backend.store.find('big', filter, { sort: { n: -1 }, limit: 10, skip: 3 }));
    const count = await send(s.app, 'POST', '/api/big/_count', { filter });
    assert.deepEqual(count.json(), { count: 1000 });
    const explain = await send(s.app, 'POST', '/api/big/_explain', { filter, limit: 10 });
    assert.equal(explain.json().nReturned, 10);
    assert.equal(explain.json().plan, s.backend.store.explain('big', filter, { limit: 10 }).plan);
  });

  test('large bodies sent together are all parsed and applied', async () => {
    const bodies = Array.from({ length: 6 }, (_, i) => ({ _id: `body${i}`, s: 'y'.repeat(200_000) }));
    const results = await Promise.all(bodies.map((b) => send(s.app, 'POST', '/api/bodies', b)));
    assert.deepEqual(
      results.map((r) => r.statusCode),
      bodies.map(() => 201),
    );
    assert.equal(s.backend.store.count('bodies'), 6);
  });
});
