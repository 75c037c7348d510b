import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { errorOf, send, startTestServer, type TestServer } from './helpers.ts';

describe('index routes', () => {
  let s: TestServer;
  before(async () => {
    s = await startTestServer();
    await send(s.app, 'POST', '/api/ix', [
      { _id: '1', a: 1, b: { c: 'x' } },
      { _id: '2', a: 1, b: { c: 'y' } },
    ]);
  });
  after(async () => {
    await s.close();
  });

  test('create (both field shapes), list, use, drop', async () => {
    const first = await send(s.app, 'POST', '/api/ix/_indexes', { fields: { a: 1, 'b.c': -1 } });
    assert.equal(first.statusCode, 201);
    assert.deepEqual(first.json(), {
      name: first.json().name,
      fields: [
        ['a', 1],
        ['b.c', -1],
      ],
      unique: false,
    });
    const second = await send(s.app, 'POST', '/api/ix/_indexes', { fields: [['b.c', 1]], unique: true, name: 'by_c' });
    assert.equal(second.statusCode, 201);
    assert.deepEqual(second.json(), { name: 'by_c', fields: [['b.c', 1]], unique: true });
    const list = await send(s.app, 'GET', '/api/ix/_indexes');
    assert.equal(list.statusCode, 200);
    assert.deepEqual(
      list.json().map((i: { name: string }) => i.name),
      [first.json().name, 'by_c'],
    );
    const plan = await send(s.app, 'POST', '/api/ix/_explain', { filter: { 'b.c': 'y' } });
    assert.equal(plan.json().plan, 'index');
    const dup = await send(s.app, 'POST', '/api/ix', { _id: '3', b: { c: 'x' } });
    assert.equal(dup.statusCode, 409, 'the unique index refuses a duplicate');
    const dropped = await send(s.app, 'DELETE', '/api/ix/_indexes/by_c');
    assert.equal(dropped.statusCode, 204);
    assert.equal((await send(s.app, 'GET', '/api/ix/_indexes')).json().length, 1);
    const again = await send(s.app, 'DELETE', '/api/ix/_indexes/by_c');
    assert.equal(again.statusCode, 404);
    assert.equal(errorOf(again).code, 'NOT_FOUND');
    assert.deepEqual((await send(s.app, 'GET', '/api/none/_indexes')).json(), []);
  });

  test('a unique index over duplicate values fails with 409 and is not created', async () => {
    const res = await send(s.app, 'POST', '/api/ix/_indexes', { fields: { a: 1 }, unique: true, name: 'a_unique' });
    assert.equal(res.statusCode, 409);
    assert.equal(errorOf(res).code, 'CONFLICT');
    assert.ok(!s.db.store.indexes('ix').some((i) => i.name === 'a_unique'));
  });

  test('malformed index requests are a 400', async () => {
    for (const body of [
      {},
      { fields: 'a' },
      { fields: {} },
      { fields: { a: 2 } },
      { fields: [['a']] },
      { fields: { $a: 1 } },
      { fields: { a: 1 }, unique: 'yes' },
      { fields: { a: 1 }, name: '' },
      { fields: { a: 1 }, name: '$x' },
      { fields: { a: 1 }, other: 1 },
    ]) {
      const res = await send(s.app, 'POST', '/api/ix/_indexes', body);
      assert.equal(res.statusCode, 400, JSON.stringify(body));
    }
    assert.equal((await send(s.app, 'POST', '/api/ix/_indexes', { fields: { a: 1 }, name: '_id_' })).statusCode, 400);
  });
});
