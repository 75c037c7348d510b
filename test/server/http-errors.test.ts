// Fastify's own failures (bad JSON, media type, body size, unknown routes) and
// prototype pollution attempts all answer in the API's error shape, and write nothing.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ALL_ERROR_CODES, ERROR_CODES } from '../../src/store/error-codes.ts';
import { StoreError } from '../../src/store/errors.ts';
import { errorOf, send, startScriptedServer, startTestServer, type TestServer } from './helpers.ts';

describe('request errors', () => {
  let s: TestServer;
  before(async () => {
    s = await startTestServer({ bodyLimit: 1024 });
  });
  after(async () => {
    await s.close();
  });

  test('invalid JSON is a 400 BAD_REQUEST', async () => {
    for (const body of ['{bad', '{"a":1', '', '[1,]']) {
      const res = await send(s.app, 'POST', '/api/c', body, { 'content-type': 'application/json' });
      assert.equal(res.statusCode, 400, JSON.stringify(body));
      assert.equal(errorOf(res).code, 'BAD_REQUEST');
      assert.match(errorOf(res).message, body === '' ? /^body: empty/ : /^body: not valid JSON \(.+\)$/);
    }
    assert.equal(s.db.store.count('c'), 0);
  });

  test('a body that is not application/json is a 415 in the error shape', async () => {
    for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'application/octet-stream', 'multipart/form-data; boundary=x']) {
      const res = await send(s.app, 'POST', '/api/c', 'a=1', { 'content-type': type });
      assert.equal(res.statusCode, 415, type);
      assert.equal(errorOf(res).code, 'BAD_REQUEST');
      assert.match(errorOf(res).message, /application\/json/);
    }
    assert.equal(s.db.store.count('c'), 0);
  });

  test('a body over the limit is a 413 PAYLOAD_TOO_LARGE', async () => {
    const res = await send(s.app, 'POST', '/api/c', { big: 'x'.repeat(2000) });
    assert.equal(res.statusCode, 413);
    assert.equal(errorOf(res).code, 'PAYLOAD_TOO_LARGE');
    assert.equal(s.db.store.count('c'), 0);
  });

  test('__proto__ and constructor.prototype bodies are refused by the parser (400 VALIDATION naming the key), nothing written', async () => {
    const bodies = [
      '{"__proto__":{"polluted":1}}',
      '{"a":{"__proto__":{"polluted":1}}}',
      '[{"_id":"x","__proto__":{"polluted":1}}]',
      '{"constructor":{"prototype":{"polluted":1}}}',
    ];
    for (const body of bodies) {
      for (const [method, url] of [
        ['POST', '/api/c'],
        ['PUT', '/api/c/x'],
        ['PATCH', '/api/c/x'],
        ['POST', '/api/_tx'],
      ] as const) {
        const res = await send(s.app, method, url, body, { 'content-type': 'application/json' });
        assert.equal(res.statusCode, 400, `${method} ${url} ${body}`);
        assert.equal(errorOf(res).code, 'VALIDATION');
        assert.match(errorOf(res).message, /^body: key "(__proto__|constructor|prototype)" is not allowed$/);
      }
    }
    assert.equal(({} as Record<string, unknown>)['polluted'], undefined);
    assert.equal(s.db.store.count('c'), 0);
  });

  test('forbidden keys nested in documents are refused by the store validator (400 VALIDATION)', async () => {
    const docs: object[] = [
      { a: { constructor: 1 } },
      { a: [{ prototype: 1 }] },
      { constructor: 'x' },
      { a: { b: { $c: 1 } } },
      { $top: 1 },
      { a: [[{ $x: 1 }]] },
    ];
    for (const doc of docs) {
      const post = await send(s.app, 'POST', '/api/c', doc);
      assert.equal(post.statusCode, 400, JSON.stringify(doc));
      assert.equal(errorOf(post).code, 'VALIDATION');
      const put = await send(s.app, 'PUT', '/api/c/x', doc);
      assert.equal(put.statusCode, 400, JSON.stringify(doc));
      const tx = await send(s.app, 'POST', '/api/_tx', { ops: [{ op: 'insert', collection: 'c', doc }] });
      assert.equal(tx.statusCode, 400, JSON.stringify(doc));
    }
    assert.equal(s.db.store.count('c'), 0);
  });

  test('unknown routes and methods are 404 NOT_FOUND; a bad URL encoding is a 400', async () => {
    for (const [method, url] of [
      ['GET', '/nope'],
      ['POST', '/api'],
      ['PUT', '/api/c'],
      ['GET', '/api/c/x/y'],
    ] as const) {
      const res = await send(s.app, method, url);
      assert.equal(res.statusCode, 404, `${method} ${url}`);
      assert.equal(errorOf(res).code, 'NOT_FOUND');
    }
    const bad = await send(s.app, 'GET', '/api/c/%E0%A4%A');
    assert.equal(bad.statusCode, 400);
    assert.equal(errorOf(bad).code, 'BAD_REQUEST');
  });

  test('GET /dashboard is a clear 404 without dashboard HTML', async () => {
    const res = await send(s.app, 'GET', '/dashboard');
    assert.equal(res.statusCode, 404);
    assert.match(errorOf(res).message, /dashboard/);
  });
});

describe('cluster-related errors and probes', () => {
  test('NO_LEADER and COMMIT_UNKNOWN from the backend are 503s carrying the leader URL', async () => {
    const s = await startScriptedServer();
    try {
      // The node caught up once (before that, every request waits on its first barrier).
      assert.equal((await send(s.app, 'GET', '/api/c')).statusCode, 200);
      s.scripted.barrierError = new StoreError('NO_LEADER', 'no leader');
      const read = await send(s.app, 'GET', '/api/c/x');
      assert.equal(read.statusCode, 503);
      assert.deepEqual(errorOf(read), { code: 'NO_LEADER', message: 'no leader', leader: 'http://10.0.0.2:8080' });
      s.scripted.executeError = new StoreError('COMMIT_UNKNOWN', 'timed out');
      const write = await send(s.app, 'POST', '/api/c', { a: 1 });
      assert.equal(write.statusCode, 503);
      assert.equal(errorOf(write).code, 'COMMIT_UNKNOWN');
      assert.equal(errorOf(write).leader, 'http://10.0.0.2:8080');
      s.scripted.leader = null;
      const unknown = await send(s.app, 'POST', '/api/c', { a: 1 });
      assert.equal(unknown.statusCode, 503);
      assert.equal(errorOf(unknown).leader, undefined);
      // Other errors never carry it.
      s.scripted.executeError = null;
      assert.equal(errorOf(await send(s.app, 'POST', '/api/c', { $a: 1 })).leader, undefined);
    } finally {
      await s.close();
    }
  });

  test('every code of the table leaves with its status; codes a client may retry carry the leader URL (but TOO_MANY_REQUESTS)', async () => {
    const s = await startScriptedServer();
    try {
      for (const code of ALL_ERROR_CODES) {
        s.scripted.executeError = new StoreError(code, `backend says ${code}`);
        const res = await send(s.app, 'POST', '/api/c', { a: 1 });
        assert.equal(res.statusCode, ERROR_CODES[code].status, code);
        assert.deepEqual(errorOf(res), {
          code,
          message: `backend says ${code}`,
          // TOO_MANY_REQUESTS is answered to strangers too (before authentication): no hint.
          ...(ERROR_CODES[code].retry !== 'no' && code !== 'TOO_MANY_REQUESTS' ? { leader: 'http://10.0.0.2:8080' } : {}),
        });
      }
      // The one route exception: a failed precondition of a transaction is a 409.
      s.scripted.executeError = new StoreError('PRECONDITION_FAILED', 'changed');
      const tx = await send(s.app, 'POST', '/api/_tx', { ops: [{ op: 'insert', collection: 'c', doc: { a: 1 } }] });
      assert.equal(tx.statusCode, 409);
      assert.equal(errorOf(tx).code, 'PRECONDITION_FAILED');
    } finally {
      await s.close();
    }
  });

  test('a non-store error is a 500 INTERNAL without internals in the message', async () => {
    const s = await startScriptedServer();
    try {
      s.scripted.executeError = new Error('secret internal detail');
      const res = await send(s.app, 'POST', '/api/c', { a: 1 });
      assert.equal(res.statusCode, 500);
      assert.equal(errorOf(res).code, 'INTERNAL');
      assert.doesNotMatch(res.body, /secret/);
    } finally {
      await s.close();
    }
  });

  test('/healthz is always 200; /readyz is 200 when ready, else 503', async () => {
    const s = await startScriptedServer();
    try {
      assert.deepEqual((await send(s.app, 'GET', '/healthz')).json(), { ok: true });
      assert.equal((await send(s.app, 'GET', '/readyz')).statusCode, 200);
      s.scripted.ready = false;
      const lagging = await send(s.app, 'GET', '/readyz');
      assert.equal(lagging.statusCode, 503);
      assert.match(errorOf(lagging).message, /behind commit index/);
      assert.equal(errorOf(lagging).code, 'NOT_CAUGHT_UP');
      s.scripted.ready = true;
      s.scripted.leader = null;
      const leaderless = await send(s.app, 'GET', '/readyz');
      assert.equal(leaderless.statusCode, 503);
      assert.equal(errorOf(leaderless).code, 'NO_LEADER');
      assert.equal((await send(s.app, 'GET', '/healthz')).statusCode, 200);
    } finally {
      await s.close();
    }
  });
});
