// Indexes declared in a model over HTTP (issue #14, docs/models.md `indexes`): PUT _schema
// creates them with the model (GET _indexes lists them, queries use them, a unique one refuses
// a duplicate); a model whose index conflicts with the documents is refused whole (no model,
// no index); a retry under the same Idempotency-Key creates nothing twice.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { errorOf, send, startTestServer } from './helpers.ts';

const MODEL = {
  schema: { type: 'object', required: ['sku'], properties: { sku: { type: 'string' }, price: { type: 'number' } } },
  options: {
    indexes: [
      { fields: [['sku', 1]], unique: true, name: 'by_sku' },
      { fields: [['price', -1]], name: 'by_price' },
    ],
  },
};

test('PUT _schema creates the declared indexes; queries use them; a unique one refuses a duplicate', async () => {
  const s = await startTestServer();
  try {
    await send(s.app, 'POST', '/api/products', [
      { _id: 'a', sku: 'A-1', price: 3 },
      { _id: 'b', sku: 'B-1', price: 5 },
    ]);
    const put = await send(s.app, 'PUT', '/api/products/_schema', MODEL, { 'idempotency-key': 'model-1' });
    assert.equal(put.statusCode, 200, put.body);
    const again = await send(s.app, 'PUT', '/api/products/_schema', MODEL, { 'idempotency-key': 'model-1' });
    assert.equal(again.headers['idempotent-replayed'], 'true');
    const indexes = (await send(s.app, 'GET', '/api/products/_indexes')).json() as Array<{ name: string; fields: unknown; unique: boolean }>;
    assert.deepEqual(indexes.map((i) => [i.name, i.fields, i.unique]).sort(), [
      ['by_price', [['price', -1]], false],
      ['by_sku', [['sku', 1]], true],
    ]);
    const plan = (await send(s.app, 'POST', '/api/products/_explain', { filter: { sku: 'B-1' } })).json() as { plan: string; index?: string };
    assert.equal(plan.plan, 'index');
    assert.equal(plan.index, 'by_sku');
    const duplicate = await send(s.app, 'POST', '/api/products', { _id: 'c', sku: 'A-1', price: 1 });
    assert.equal(duplicate.statusCode, 409, duplicate.body);
    assert.match(errorOf(duplicate).message, /by_sku|sku/);
  } finally {
    await s.close();
  }
});

test('a model whose unique index the documents break is refused whole: no model, no index', async () => {
  const s = await startTestServer();
  try {
    await send(s.app, 'POST', '/api/products', [
      { _id: 'a', sku: 'SAME', price: 3 },
      { _id: 'b', sku: 'SAME', price: 5 },
    ]);
    const put = await send(s.app, 'PUT', '/api/products/_schema', MODEL);
    assert.equal(put.statusCode, 409, put.body);
    assert.equal((await send(s.app, 'GET', '/api/products/_schema')).statusCode, 404);
    assert.deepEqual((await send(s.app, 'GET', '/api/products/_indexes')).json(), []);
  } finally {
    await s.close();
  }
});
