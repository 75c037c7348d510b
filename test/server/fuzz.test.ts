// Random and malformed HTTP requests: the server never answers 5xx, never
// crashes, always answers errors in the API's shape, and never changes the
// documents written before the fuzzing started.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { InjectOptions } from 'fastify';
import { startTestServer, type TestServer } from './helpers.ts';

interface FuzzRequest {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE' | 'HEAD' | 'OPTIONS';
  path: string;
  query: string;
  body?: string;
  headers: Record<string, string>;
}

const KEEP = 'keep';
const KEEP_IDS = Array.from({ length: 20 }, (_, i) => `k${i}`);

const printable = fc.string({ unit: fc.constantFrom(...' !"#$%&\'()*+,-./0123456789:;<=>?@AZaz[\\]^_`{|}~'.split('')), maxLength: 24 });
const segment = fc.oneof(
  fc.constantFrom('fz', 'fz2', '_x', '', '..', '%', 'a b', '_tx', '_changes', KEEP),
  fc.string({ unit: 'grapheme', maxLength: 20 }),
  printable,
);
const encoded = (s: string): string => encodeURIComponent(s);
const collection = segment.filter((s) => s !== KEEP);
const suffix = fc.constantFrom('_query', '_count', '_explain', '_update', '_delete', '_indexes', '_changes');

const path = fc.oneof(
  collection.map((c) => `/api/${encoded(c)}`),
  fc.tuple(collection, segment).map(([c, id]) => `/api/${encoded(c)}/${encoded(id)}`),
  fc.tuple(collection, suffix).map(([c, s]) => `/api/${encoded(c)}/${s}`),
  fc.tuple(collection, segment).map(([c, n]) => `/api/${encoded(c)}/_indexes/${encoded(n)}`),
  fc.constantFrom(
    '/api/_tx',
    '/cluster/status',
    '/cluster/members',
    '/cluster/members/2',
    '/cluster/members/x',
    '/cluster/transfer-leadership',
    '/cluster/snapshot',
    '/metrics',
    '/healthz',
    '/readyz',
    '/dashboard',
    '/',
    '/api',
    '/api/',
  ),
  // (no backslash or leading slash: light-my-request itself cannot parse those URLs)
  printable.map((s) => `/${s.replace(/[#?\s\\]/g, '').replace(/^\/+/, '')}`),
);

const jsonText = fc.oneof(
  fc.json({ maxDepth: 4 }),
  fc.constantFrom(
    '{"__proto__":{"x":1}}',
    '{"constructor":{"prototype":{"x":1}}}',
    '{"a":{"constructor":1}}',
    '{"$set":{"a":1}}',
    '{"filter":{},"update":{"$set":{"z":1}}}',
    '[]',
    'null',
    '{',
  ),
);
const queryPart = fc.tuple(
  fc.constantFrom('filter', 'sort', 'limit', 'skip', 'fields', 'consistency', 'since', 'x', '__proto__'),
  fc.oneof(jsonText, printable, fc.constantFrom('-1', '0', '10', '1e3', 'local', 'lease', 'linearizable', '{"_rev":{"$gt":0}}')),
);
const query = fc.array(queryPart, { maxLength: 3 }).map((parts) => parts.map(([k, v]) => `${k}=${encodeURIComponent(v)}`).join('&'));

const randomRequest: fc.Arbitrary<FuzzRequest> = fc
  .record({
    method: fc.constantFrom('GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS'),
    path,
    query,
    body: fc.option(fc.oneof(jsonText, fc.string({ maxLength: 40 })), { nil: undefined }),
    contentType: fc.constantFrom(
      'application/json',
      'application/json; charset=utf-8',
      'text/plain',
      'application/x-www-form-urlencoded',
      'weird/type',
      undefined,
    ),
    ifMatch: fc.option(
      fc.oneof(
        printable,
        fc.nat().map((n) => `"${n}"`),
      ),
      { nil: undefined },
    ),
  })
  .map(({ method, path, query, body, contentType, ifMatch }) => {
    const headers: Record<string, string> = {};
    if (contentType !== undefined && body !== undefined) headers['content-type'] = contentType;
    if (ifMatch !== undefined) headers['if-match'] = ifMatch;
    return { method, path, query, body: method === 'GET' || method === 'HEAD' ? undefined : body, headers };
  })
  // A valid GET of a change stream never ends: streams are tested over a socket elsewhere.
  .filter((r) => !(r.method === 'GET' && r.path.endsWith('/_changes')));

/** A JSON value with a forbidden key planted somewhere inside. */
const poisoned = fc
  .tuple(
    fc.dictionary(fc.string({ maxLength: 6 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 4 }),
    fc.constantFrom('__proto__', 'constructor', 'prototype', '$x', '$set'),
    fc.nat(3),
  )
  .map(([obj, bad, depth]) => {
    // Built as text: an object literal's "__proto__" would set the prototype, not a key.
    let inner = `{${JSON.stringify(bad)}:1}`;
    for (let i = 0; i < depth; i++) inner = `{"n${i}":${i % 2 === 0 ? `[${inner}]` : inner}}`;
    const rest = JSON.stringify(obj).slice(1, -1);
    return `{${rest}${rest === '' ? '' : ','}"p":${inner}}`;
  })
  .chain((text) => fc.constantFrom(text, text.replace(/^\{/, `{"${'$'}bad":1,`), text.replace('"p":', '"constructor":')));

/** Requests against the protected collection that must all be refused (or only read). */
const keepRequest: fc.Arbitrary<FuzzRequest> = fc.oneof(
  fc
    .tuple(poisoned, fc.constantFrom(...KEEP_IDS))
    .map(([body, id]) => ({ method: 'PUT' as const, path: `/api/${KEEP}/${id}`, query: '', body, headers: { 'content-type': 'application/json' } })),
  poisoned.map((body) => ({ method: 'POST' as const, path: `/api/${KEEP}`, query: '', body, headers: { 'content-type': 'application/json' } })),
  poisoned.map((body) => ({
    method: 'POST' as const,
    path: `/api/${KEEP}`,
    query: '',
    body: `[{"ok":1},${body}]`,
    headers: { 'content-type': 'application/json' },
  })),
  fc
    .tuple(
      fc.constantFrom(...KEEP_IDS),
      fc.constantFrom(
        '{"n":1}',
        '{"$set":{"_rev":1}}',
        '{"$set":{"_id":"other"}}',
        '{"$bogus":{"a":1}}',
        '{}',
        '{"$inc":{"n":"x"}}',
        '{"$set":{"a.__proto__.b":1}}',
      ),
    )
    .map(([id, body]) => ({
      method: 'PATCH' as const,
      path: `/api/${KEEP}/${id}`,
      query: '',
      body,
      headers: { 'content-type': 'application/json' },
    })),
  fc
    .tuple(
      fc.constantFrom(...KEEP_IDS),
      fc.oneof(
        printable.filter((s) => !/^\s*(W\/)?"?\d+"?\s*$/.test(s)),
        fc.constantFrom('"999999"', '999999', 'W/"0"'),
      ),
    )
    .map(([id, ifMatch]) => ({
      method: 'DELETE' as const,
      path: `/api/${KEEP}/${id}`,
      query: '',
      headers: { 'if-match': ifMatch },
    })),
  fc.tuple(fc.constantFrom(...KEEP_IDS), fc.constantFrom('"999999"', '"0"')).map(([id, ifMatch]) => ({
    method: 'PUT' as const,
    path: `/api/${KEEP}/${id}`,
    query: '',
    body: '{"replaced":true}',
    headers: { 'content-type': 'application/json', 'if-match': ifMatch },
  })),
  fc.constantFrom('_update', '_delete').chain((op) =>
    fc
      .constantFrom(
        '{"filter":{"$bad":1},"update":{"$set":{"a":1}}}',
        '{"filter":{},"update":{"a":1}}',
        '{"filter":{"a":{"$regex":"("}}}',
        '{"filter":[]}',
        '{"multi":true}',
      )
      .map((body) => ({
        method: 'POST' as const,
        path: `/api/${KEEP}/${op}`,
        query: '',
        body,
        headers: { 'content-type': 'application/json' },
      })),
  ),
  // A transaction that would wipe the collection, but whose precondition fails.
  fc.constantFrom(...KEEP_IDS).map((id) => ({
    method: 'POST' as const,
    path: '/api/_tx',
    query: '',
    body: `{"ops":[{"op":"remove","collection":"${KEEP}","filter":{}},{"op":"replace","collection":"${KEEP}","id":"${id}","doc":{"x":1}}],"if":[{"collection":"${KEEP}","id":"no-such-id","exists":true}]}`,
    headers: { 'content-type': 'application/json' },
  })),
  poisoned.map((doc) => ({
    method: 'POST' as const,
    path: '/api/_tx',
    query: '',
    body: `{"ops":[{"op":"remove","collection":"${KEEP}","filter":{}},{"op":"insert","collection":"${KEEP}","doc":${doc}}]}`,
    headers: { 'content-type': 'application/json' },
  })),
  fc
    .tuple(query, fc.constantFrom('', '/_indexes', '/k3'))
    .map(([q, sub]): FuzzRequest => ({ method: 'GET', path: `/api/${KEEP}${sub}`, query: q, headers: {} })),
  fc.constantFrom('/_query', '/_count', '/_explain').map((sub): FuzzRequest => ({
    method: 'POST',
    path: `/api/${KEEP}${sub}`,
    query: '',
    body: sub === '/_count' ? '{"filter":{"n":{"$gte":3}}}' : '{"filter":{"n":{"$gte":3}},"limit":5}',
    headers: { 'content-type': 'application/json' },
  })),
  fc.constantFrom<FuzzRequest>(
    {
      method: 'POST' as const,
      path: `/api/${KEEP}/_indexes`,
      query: '',
      body: '{"fields":{"tag":1},"unique":true}',
      headers: { 'content-type': 'application/json' },
    },
    {
      method: 'POST' as const,
      path: `/api/${KEEP}/_indexes`,
      query: '',
      body: '{"fields":{"n":1},"unique":false,"name":"n_unique"}',
      headers: { 'content-type': 'application/json' },
    },
    { method: 'DELETE' as const, path: `/api/${KEEP}/_indexes/nope`, query: '', headers: {} },
  ),
);

// Plausible requests: real operators over a few paths, so the store's query and
// update code (not only the validators) meets odd values.
const FIELD_PATHS = ['a', 'b', 'a.b', 'arr', 'arr.0', 'arr.x', 'n', '_id', 'deep.x.y'];
const fieldPath = fc.constantFrom(...FIELD_PATHS);
const smallJson = fc.jsonValue({ maxDepth: 2 });
const condition = fc.oneof(
  smallJson,
  fc.record({ op: fc.constantFrom('$eq', '$ne', '$gt', '$gte', '$lt', '$lte'), v: smallJson }).map(({ op, v }) => ({ [op]: v })),
  fc.record({ op: fc.constantFrom('$in', '$nin', '$all'), v: fc.array(smallJson, { maxLength: 3 }) }).map(({ op, v }) => ({ [op]: v })),
  fc.constantFrom(
    { $exists: true },
    { $exists: false },
    { $size: 0 },
    { $size: 2 },
    { $mod: [2, 0] },
    { $mod: [0, 1] },
    { $type: 'string' },
    { $type: 'nope' },
  ),
  fc.constantFrom({ $regex: '^a' }, { $regex: 'a', $options: 'i' }, { $regex: '(' }, { $regex: 'a', $options: 'g' }),
  fc.record({ f: fieldPath, v: smallJson }).map(({ f, v }) => ({ $elemMatch: { [f]: v } })),
  fc.record({ v: smallJson }).map(({ v }) => ({ $not: { $eq: v } })),
);
const filterArb: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  filter: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.dictionary(fieldPath, condition, { maxKeys: 3 }),
    fc
      .record({ op: fc.constantFrom('$and', '$or', '$nor'), subs: fc.array(tie('filter'), { maxLength: 2 }) })
      .map(({ op, subs }) => ({ [op]: subs })),
  ),
})).filter;
const updateArb = fc
  .array(
    fc.record({
      op: fc.constantFrom('$set', '$unset', '$inc', '$mul', '$min', '$max', '$push', '$pull', '$addToSet', '$rename', '$pop', '$pullAll'),
      f: fieldPath,
      v: fc.oneof(
        smallJson,
        fc.constantFrom(1, -1, 'a.c', 'b', [1, 2], { $each: [1, 2] }, { $each: [3], $slice: -1, $sort: 1, $position: 0 }, { $gt: 1 }),
      ),
    }),
    { minLength: 1, maxLength: 3 },
  )
  .map((parts) => {
    const spec: Record<string, Record<string, unknown>> = {};
    for (const { op, f, v } of parts) (spec[op] ??= {})[f] = v;
    return spec;
  });
const docArb = fc.record(
  {
    a: smallJson,
    b: smallJson,
    arr: fc.array(smallJson, { maxLength: 3 }),
    n: fc.oneof(fc.integer(), fc.double()),
    deep: fc.record({ x: fc.record({ y: smallJson }) }),
  },
  { requiredKeys: [] },
);
const json = (v: unknown): string => JSON.stringify(v);
const plausibleRequest: fc.Arbitrary<FuzzRequest> = fc.oneof(
  fc
    .record({
      filter: filterArb,
      sort: fc.option(fc.dictionary(fieldPath, fc.constantFrom(1, -1), { maxKeys: 2 }), { nil: undefined }),
      limit: fc.option(fc.nat(5), { nil: undefined }),
    })
    .map((body) => ({
      method: 'POST' as const,
      path: '/api/fz/_query',
      query: '',
      body: json(body),
      headers: { 'content-type': 'application/json' },
    })),
  filterArb.map((filter) => ({
    method: 'POST' as const,
    path: '/api/fz/_count',
    query: '',
    body: json({ filter }),
    headers: { 'content-type': 'application/json' },
  })),
  filterArb.map((filter) => ({
    method: 'GET' as const,
    path: '/api/fz',
    query: `filter=${encodeURIComponent(json(filter))}&sort=${encodeURIComponent('{"a":1}')}`,
    headers: {},
  })),
  fc.record({ filter: filterArb, update: updateArb, multi: fc.boolean(), upsert: fc.boolean() }).map((body) => ({
    method: 'POST' as const,
    path: '/api/fz/_update',
    query: '',
    body: json(body),
    headers: { 'content-type': 'application/json' },
  })),
  fc.tuple(fc.constantFrom('f0', 'f1', 'f2', 'f3'), updateArb).map(([id, update]) => ({
    method: 'PATCH' as const,
    path: `/api/fz/${id}`,
    query: '',
    body: json(update),
    headers: { 'content-type': 'application/json' },
  })),
  fc.tuple(fc.constantFrom('f0', 'f1', 'f2', 'f3'), docArb).map(([id, doc]) => ({
    method: 'PUT' as const,
    path: `/api/fz/${id}`,
    query: '',
    body: json(doc),
    headers: { 'content-type': 'application/json' },
  })),
  docArb.map((doc) => ({ method: 'POST' as const, path: '/api/fz', query: '', body: json(doc), headers: { 'content-type': 'application/json' } })),
  fc.record({ fields: fc.dictionary(fieldPath, fc.constantFrom(1, -1), { minKeys: 1, maxKeys: 2 }), unique: fc.boolean() }).map((body) => ({
    method: 'POST' as const,
    path: '/api/fz/_indexes',
    query: '',
    body: json(body),
    headers: { 'content-type': 'application/json' },
  })),
  filterArb.map((filter) => ({
    method: 'POST' as const,
    path: '/api/fz/_delete',
    query: '',
    body: json({ filter, multi: false }),
    headers: { 'content-type': 'application/json' },
  })),
);

describe('HTTP fuzzing', () => {
  let s: TestServer;
  let before_: string;
  before(async () => {
    s = await startTestServer({ bodyLimit: 64 * 1024 });
    const docs = KEEP_IDS.map((id, i) => ({ _id: id, n: i, tag: i % 3, nested: { a: [i, { b: `v${i}` }] } }));
    assert.equal((await s.app.inject({ method: 'POST', url: `/api/${KEEP}`, payload: docs })).statusCode, 201);
    const idx = await s.app.inject({ method: 'POST', url: `/api/${KEEP}/_indexes`, payload: { fields: { n: 1 }, unique: true, name: 'n_unique' } });
    assert.equal(idx.statusCode, 201);
    before_ = JSON.stringify({ docs: s.db.store.find(KEEP), indexes: s.db.store.indexes(KEEP) });
  });
  after(async () => {
    await s.close();
  });

  async function check(r: FuzzRequest): Promise<number> {
    const url = `${r.path}${r.query === '' ? '' : `?${r.query}`}`;
    const options: InjectOptions = { method: r.method, url, headers: r.headers };
    if (r.body !== undefined) options.payload = r.body;
    const res = await s.app.inject(options);
    assert.ok(res.statusCode < 500, `${r.method} ${url} ${JSON.stringify(r.headers)} ${r.body ?? ''} → ${res.statusCode} ${res.body}`);
    if (res.statusCode >= 400 && r.method !== 'HEAD') {
      const body = res.json() as { error?: { code?: unknown; message?: unknown } };
      assert.equal(typeof body.error?.code, 'string', `error shape: ${res.body}`);
      assert.equal(typeof body.error?.message, 'string', `error shape: ${res.body}`);
    }
    return res.statusCode;
  }

  test('random requests never produce a 5xx and errors keep their shape', async () => {
    await fc.assert(
      fc.asyncProperty(randomRequest, async (r) => {
        await check(r);
      }),
      { numRuns: 600 },
    );
    assert.equal(JSON.stringify({ docs: s.db.store.find(KEEP), indexes: s.db.store.indexes(KEEP) }), before_);
  });

  test('plausible queries and updates with odd values never produce a 5xx', async () => {
    await fc.assert(
      fc.asyncProperty(plausibleRequest, async (r) => {
        await check(r);
      }),
      { numRuns: 500 },
    );
    assert.equal(JSON.stringify({ docs: s.db.store.find(KEEP), indexes: s.db.store.indexes(KEEP) }), before_);
  });

  test('malformed writes to existing documents are refused and change nothing', async () => {
    await fc.assert(
      fc.asyncProperty(keepRequest, async (r) => {
        const status = await check(r);
        const isRead = r.method === 'GET' || /\/(_query|_count|_explain)$/.test(r.path);
        if (!isRead) assert.ok(status >= 400, `${r.method} ${r.path} ${r.body ?? ''} was accepted (${status})`);
        assert.equal(JSON.stringify({ docs: s.db.store.find(KEEP), indexes: s.db.store.indexes(KEEP) }), before_);
      }),
      { numRuns: 400 },
    );
  });
});
