import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { errorOf, send, startTestServer, type TestServer } from './helpers.ts';

describe('document routes', () => {
  let s: TestServer;
  before(async () => {
    s = await startTestServer();
  });
  after(async () => {
    await s.close();
  });

  test('POST inserts one document (id given or generated) with 201 and the stored form', async () => {
    const one = await send(s.app, 'POST', '/api/people', { _id: 'ann', age: 30 });
    assert.equal(one.statusCode, 201);
    const doc = one.json();
    assert.equal(doc._id, 'ann');
    assert.equal(doc.age, 30);
    assert.ok(Number.isSafeInteger(doc._rev) && doc._rev > 0);
    const gen = await send(s.app, 'POST', '/api/people', { age: 1 });
    assert.equal(gen.statusCode, 201);
    assert.equal(typeof gen.json()._id, 'string');
    assert.ok(gen.json()._id.length > 0);
    assert.deepEqual(s.db.store.get('people', gen.json()._id), gen.json());
  });

  test('POST an array inserts all documents atomically, or none on a duplicate (409)', async () => {
    const many = await send(s.app, 'POST', '/api/batch', [{ _id: 'a' }, { _id: 'b', x: [1, 2] }]);
    assert.equal(many.statusCode, 201);
    assert.deepEqual(
      many.json().map((d: { _id: string }) => d._id),
      ['a', 'b'],
    );
    const dup = await send(s.app, 'POST', '/api/batch', [{ _id: 'c' }, { _id: 'a' }]);
    assert.equal(dup.statusCode, 409);
    assert.equal(errorOf(dup).code, 'CONFLICT');
    assert.equal(s.db.store.get('batch', 'c'), undefined, 'nothing of a failed batch is applied');
    const dupOne = await send(s.app, 'POST', '/api/batch', { _id: 'b' });
    assert.equal(dupOne.statusCode, 409);
  });

  test('POST refuses invalid bodies with 400', async () => {
    for (const body of [[], 42, 'null', [1], { _id: 5 }, { $set: 1 }, { a: { $b: 1 } }, { a: [{ b: { constructor: 1 } }] }]) {
      const res = await send(s.app, 'POST', '/api/bad', body);
      assert.equal(res.statusCode, 400, `body ${JSON.stringify(body)}`);
      assert.match(errorOf(res).code, /^(VALIDATION|BAD_REQUEST)$/);
      assert.doesNotMatch(errorOf(res).message, /^:/, 'the message names where the error is');
    }
    assert.equal(errorOf(await send(s.app, 'POST', '/api/bad', 42)).message, '(body): a document must be a JSON object');
    assert.equal(s.db.store.count('bad'), 0);
    const badName = await send(s.app, 'POST', '/api/_bad', { a: 1 });
    assert.equal(badName.statusCode, 400);
  });

  test('GET returns the document with an ETag of its _rev, 404 when absent', async () => {
    const created = (await send(s.app, 'POST', '/api/get', { _id: 'x/y z', v: 1 })).json();
    const res = await send(s.app, 'GET', `/api/get/${encodeURIComponent('x/y z')}`);
    assert.equal(res.statusCode, 200);
    assert.deepEqual(res.json(), created);
    assert.equal(res.headers.etag, `"${created._rev}"`);
    for (const c of ['linearizable', 'lease', 'local']) {
      assert.equal((await send(s.app, 'GET', `/api/get/${encodeURIComponent('x/y z')}?consistency=${c}`)).statusCode, 200);
    }
    const missing = await send(s.app, 'GET', '/api/get/nope');
    assert.equal(missing.statusCode, 404);
    assert.equal(errorOf(missing).code, 'NOT_FOUND');
    assert.equal((await send(s.app, 'GET', '/api/get/nope?consistency=strong')).statusCode, 400);
    assert.equal((await send(s.app, 'GET', '/api/get/nope?bogus=1')).statusCode, 400);
  });

  test('PUT creates (201) then replaces (200), with ETag; _id must match the path', async () => {
    const created = await send(s.app, 'PUT', '/api/put/p1', { a: 1 });
    assert.equal(created.statusCode, 201);
    assert.equal(created.json()._id, 'p1');
    assert.equal(created.headers.etag, `"${created.json()._rev}"`);
    const replaced = await send(s.app, 'PUT', '/api/put/p1', { _id: 'p1', b: 2 });
    assert.equal(replaced.statusCode, 200);
    assert.deepEqual(replaced.json(), { _id: 'p1', _rev: replaced.json()._rev, b: 2 });
    assert.ok(replaced.json()._rev > created.json()._rev);
    const mismatch = await send(s.app, 'PUT', '/api/put/p1', { _id: 'other', b: 3 });
    assert.equal(mismatch.statusCode, 400);
    assert.equal(s.db.store.get('put', 'p1')?.['b'], 2);
    assert.equal((await send(s.app, 'PUT', '/api/put/p1', [1])).statusCode, 400);
  });

  test('PUT with If-Match is a compare-and-set: 412 on a stale _rev, and every header form works', async () => {
    const v1 = (await send(s.app, 'PUT', '/api/cas/d', { n: 1 })).json();
    const stale = await send(s.app, 'PUT', '/api/cas/d', { n: 99 }, { 'if-match': `"${v1._rev + 1000}"` });
    assert.equal(stale.statusCode, 412);
    assert.equal(errorOf(stale).code, 'PRECONDITION_FAILED');
    assert.equal(s.db.store.get('cas', 'd')?.['n'], 1);
    let rev = v1._rev as number;
    for (const form of [(r: number) => `"${r}"`, (r: number) => `${r}`, (r: number) => `W/"${r}"`]) {
      const res = await send(s.app, 'PUT', '/api/cas/d', { n: rev }, { 'if-match': form(rev) });
      assert.equal(res.statusCode, 200, form(rev));
      rev = res.json()._rev;
    }
    // If-Match "0": create only if absent.
    assert.equal((await send(s.app, 'PUT', '/api/cas/new', { n: 1 }, { 'if-match': '"0"' })).statusCode, 201);
    assert.equal((await send(s.app, 'PUT', '/api/cas/new', { n: 2 }, { 'if-match': '"0"' })).statusCode, 412);
    for (const garbage of ['abc', '"1', '-1', '*', '"1", "2"', '1.5', '']) {
      const res = await send(s.app, 'PUT', '/api/cas/d', { n: -1 }, { 'if-match': garbage });
      assert.equal(res.statusCode, 400, `If-Match ${garbage}`);
    }
    assert.equal(s.db.store.get('cas', 'd')?._rev, rev);
  });

  test('PATCH applies update operators; 404 when absent; 412 on a stale If-Match; 400 on bad operators', async () => {
    const v1 = (await send(s.app, 'POST', '/api/patch', { _id: 'q', n: 1, tags: [] })).json();
    const res = await send(s.app, 'PATCH', '/api/patch/q', { $inc: { n: 2 }, $push: { tags: 'x' }, $set: { 'a.b': true } });
    assert.equal(res.statusCode, 200);
    assert.deepEqual(res.json(), { _id: 'q', _rev: res.json()._rev, n: 3, tags: ['x'], a: { b: true } });
    assert.equal(res.headers.etag, `"${res.json()._rev}"`);
    const stale = await send(s.app, 'PATCH', '/api/patch/q', { $inc: { n: 1 } }, { 'if-match': String(v1._rev) });
    assert.equal(stale.statusCode, 412);
    const fresh = await send(s.app, 'PATCH', '/api/patch/q', { $inc: { n: 1 } }, { 'if-match': `"${res.json()._rev}"` });
    assert.equal(fresh.statusCode, 200);
    assert.equal(fresh.json().n, 4);
    assert.equal((await send(s.app, 'PATCH', '/api/patch/none', { $set: { a: 1 } })).statusCode, 404);
    for (const bad of [{ n: 5 }, { $where: 'x' }, { $set: { _rev: 1 } }, {}, { $inc: { n: 'x' } }, { $set: { '__proto__.x': 1 } }]) {
      const r = await send(s.app, 'PATCH', '/api/patch/q', bad);
      assert.equal(r.statusCode, 400, JSON.stringify(bad));
    }
    assert.equal(s.db.store.get('patch', 'q')?.['n'], 4);
  });

  test('DELETE removes (204), 404 when absent, 412 on a stale If-Match', async () => {
    const doc = (await send(s.app, 'POST', '/api/del', { _id: 'd1' })).json();
    const stale = await send(s.app, 'DELETE', '/api/del/d1', undefined, { 'if-match': `"${doc._rev + 1}"` });
    assert.equal(stale.statusCode, 412);
    assert.notEqual(s.db.store.get('del', 'd1'), undefined);
    const ok = await send(s.app, 'DELETE', '/api/del/d1', undefined, { 'if-match': `"${doc._rev}"` });
    assert.equal(ok.statusCode, 204);
    assert.equal(ok.body, '');
    assert.equal(s.db.store.get('del', 'd1'), undefined);
    assert.equal((await send(s.app, 'DELETE', '/api/del/d1')).statusCode, 404);
  });
});
