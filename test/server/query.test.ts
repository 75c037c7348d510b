import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { errorOf, send, startTestServer, type TestServer } from './helpers.ts';

const q = (v: unknown): string => encodeURIComponent(JSON.stringify(v));

describe('query routes', () => {
  let s: TestServer;
  before(async () => {
    s = await startTestServer();
    const docs = Array.from({ length: 10 }, (_, i) => ({ _id: `d${i}`, n: i, even: i % 2 === 0, nested: { v: 10 - i } }));
    assert.equal((await send(s.app, 'POST', '/api/items', docs)).statusCode, 201);
  });
  after(async () => {
    await s.close();
  });

  test('GET lists with filter, sort, limit, skip and fields', async () => {
    const all = await send(s.app, 'GET', '/api/items');
    assert.equal(all.statusCode, 200);
    assert.equal(all.json().length, 10);
    const res = await send(s.app, 'GET', `/api/items?filter=${q({ even: true })}&sort=${q({ n: -1 })}&limit=2&skip=1&fields=n,nested.v`);
    assert.equal(res.statusCode, 200);
    assert.deepEqual(res.json(), [
      { _id: 'd6', n: 6, nested: { v: 4 } },
      { _id: 'd4', n: 4, nested: { v: 6 } },
    ]);
    const empty = await send(s.app, 'GET', '/api/nothing-here?consistency=local');
    assert.deepEqual(empty.json(), []);
  });

  test('GET refuses malformed query parameters with 400', async () => {
    const bad = [
      'filter={bad',
      `filter=${q([1])}`,
      `filter=${q({ $where: 'x' })}`,
      `filter=${encodeURIComponent('{"__proto__":{"n":1}}')}`,
      `filter=${encodeURIComponent('{"a":{"constructor":{"prototype":1}}}')}`,
      `sort=${q({ n: 2 })}`,
      'limit=-1',
      'limit=1.5',
      'limit=abc',
      'limit=100001',
      'skip=-3',
      'fields=a,,b',
      'consistency=eventual',
      'limit=1&limit=2',
      'unknown=1',
    ];
    for (const query of bad) {
      const res = await send(s.app, 'GET', `/api/items?${query}`);
      assert.equal(res.statusCode, 400, query);
      assert.match(errorOf(res).code, /^(BAD_REQUEST|VALIDATION)$/);
    }
  });

  test('POST _query takes the options in the body', async () => {
    const res = await send(s.app, 'POST', '/api/items/_query', {
      filter: { n: { $gte: 7 } },
      sort: { n: 1 },
      limit: 2,
      projection: { n: 1 },
      consistency: 'lease',
    });
    assert.equal(res.statusCode, 200);
    assert.deepEqual(res.json(), [
      { _id: 'd7', n: 7 },
      { _id: 'd8', n: 8 },
    ]);
    assert.equal((await send(s.app, 'POST', '/api/items/_query')).json().length, 10, 'no body: everything');
    for (const body of [
      { filter: 1 },
      { limit: -1 },
      { limit: 1e6 },
      { skip: 0.5 },
      { extra: 1 },
      [],
      { projection: { a: 1, b: 0 } },
      { consistency: 'x' },
    ]) {
      assert.equal((await send(s.app, 'POST', '/api/items/_query', body)).statusCode, 400, JSON.stringify(body));
    }
  });

  test('POST _count and _explain', async () => {
    const count = await send(s.app, 'POST', '/api/items/_count', { filter: { even: false } });
    assert.equal(count.statusCode, 200);
    assert.deepEqual(count.json(), { count: 5 });
    assert.deepEqual((await send(s.app, 'POST', '/api/items/_count')).json(), { count: 10 });
    const explain = await send(s.app, 'POST', '/api/items/_explain', { filter: { _id: 'd3' } });
    assert.equal(explain.statusCode, 200);
    assert.equal(explain.json().plan, 'id');
    assert.equal(explain.json().nReturned, 1);
    assert.equal((await send(s.app, 'POST', '/api/items/_count', { filter: { $bad: 1 } })).statusCode, 400);
    assert.equal((await send(s.app, 'POST', '/api/items/_explain', { projection: {} })).statusCode, 400);
  });

  test('POST _update updates one or many, and upserts with a generated id', async () => {
    const one = await send(s.app, 'POST', '/api/items/_update', { filter: { even: true }, update: { $set: { tagged: 1 } } });
    assert.deepEqual(one.json(), { matched: 1, modified: 1 });
    assert.equal(s.db.store.get('items', 'd0')?.['tagged'], 1);
    assert.equal(s.db.store.get('items', 'd2')?.['tagged'], undefined);
    const many = await send(s.app, 'POST', '/api/items/_update', { filter: { even: true }, update: { $set: { tagged: 2 } }, multi: true });
    assert.deepEqual(many.json(), { matched: 5, modified: 5 });
    const up = await send(s.app, 'POST', '/api/items/_update', { filter: { n: 100 }, update: { $set: { new: true } }, upsert: true });
    assert.equal(up.statusCode, 200);
    const { upsertedId } = up.json();
    assert.equal(typeof upsertedId, 'string');
    assert.deepEqual(s.db.store.get('items', upsertedId)?.['n'], 100);
    for (const body of [
      { filter: {} },
      { update: { $set: { a: 1 } } },
      { filter: {}, update: { a: 1 } },
      { filter: {}, update: { $set: { a: 1 } }, multi: 'yes' },
    ]) {
      assert.equal((await send(s.app, 'POST', '/api/items/_update', body)).statusCode, 400, JSON.stringify(body));
    }
  });

  test('POST _update that breaks a unique index is a 409', async () => {
    assert.equal(
      (
        await send(s.app, 'POST', '/api/uniq', [
          { _id: 'a', k: 1 },
          { _id: 'b', k: 2 },
        ])
      ).statusCode,
      201,
    );
    assert.equal((await send(s.app, 'POST', '/api/uniq/_indexes', { fields: { k: 1 }, unique: true })).statusCode, 201);
    const res = await send(s.app, 'POST', '/api/uniq/_update', { filter: { _id: 'b' }, update: { $set: { k: 1 } } });
    assert.equal(res.statusCode, 409);
    assert.equal(s.db.store.get('uniq', 'b')?.['k'], 2);
  });

  test('POST _delete removes every match by default, one with multi:false', async () => {
    assert.equal((await send(s.app, 'POST', '/api/gone', [{ x: 1 }, { x: 1 }, { x: 1 }, { x: 2 }])).statusCode, 201);
    assert.deepEqual((await send(s.app, 'POST', '/api/gone/_delete', { filter: { x: 1 }, multi: false })).json(), { removed: 1 });
    assert.deepEqual((await send(s.app, 'POST', '/api/gone/_delete', { filter: { x: 1 } })).json(), { removed: 2 });
    assert.equal(s.db.store.count('gone'), 1);
    assert.equal((await send(s.app, 'POST', '/api/gone/_delete', {})).statusCode, 400, 'a filter is required');
    assert.equal((await send(s.app, 'POST', '/api/gone/_delete')).statusCode, 400);
    assert.equal(s.db.store.count('gone'), 1);
  });
});
