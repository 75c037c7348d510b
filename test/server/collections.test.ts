// GET /api lists collections with their document counts (only those the user may read);
// DELETE /api/:collection drops one through the log (role root); with authentication on,
// /openapi.json and /docs stay open and name no collection.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { errorOf, send, startTestServer, type TestServer } from './helpers.ts';

const ROOT_PASSWORD = 'correct horse battery';

function basic(user: string, password: string): Record<string, string> {
  return { authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` };
}

async function startSecured(): Promise<TestServer> {
  const s = await startTestServer({ auth: { rootPassword: ROOT_PASSWORD } });
  const until = Date.now() + 5000;
  while (!s.db.store.auth.enabled) {
    if (Date.now() > until) throw new Error('timed out waiting for the auth bootstrap');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return s;
}

describe('collections', () => {
  test('GET /api lists every collection with its document count, sorted by name', async () => {
    const s = await startTestServer();
    try {
      assert.deepEqual((await send(s.app, 'GET', '/api')).json(), []);
      await send(s.app, 'POST', '/api/orders', [{ a: 1 }, { a: 2 }, { a: 3 }]);
      await send(s.app, 'POST', '/api/customers', { name: 'x' });
      await send(s.app, 'DELETE', `/api/orders/${(s.db.store.find('orders', { a: 3 })[0] as { _id: string })._id}`);
      assert.deepEqual((await send(s.app, 'GET', '/api')).json(), [
        { name: 'customers', count: 1 },
        { name: 'orders', count: 2 },
      ]);
      assert.equal((await send(s.app, 'GET', '/api?consistency=local')).statusCode, 200);
      assert.equal(errorOf(await send(s.app, 'GET', '/api?nope=1')).code, 'BAD_REQUEST');
    } finally {
      await s.close();
    }
  });

  test('DELETE /api/:collection drops the documents and indexes; a missing collection is 404', async () => {
    const s = await startTestServer();
    try {
      await send(s.app, 'POST', '/api/orders', [{ a: 1 }, { a: 2 }]);
      assert.equal((await send(s.app, 'POST', '/api/orders/_indexes', { fields: { a: 1 } })).statusCode, 201);
      const applied = s.db.store.lastApplied;
      const res = await send(s.app, 'DELETE', '/api/orders');
      assert.equal(res.statusCode, 204, res.body);
      // Through the log: one more entry applied.
      assert.ok(s.db.store.lastApplied > applied);
      assert.deepEqual((await send(s.app, 'GET', '/api')).json(), []);
      assert.deepEqual((await send(s.app, 'GET', '/api/orders')).json(), []);
      assert.deepEqual((await send(s.app, 'GET', '/api/orders/_indexes')).json(), []);
      const again = await send(s.app, 'DELETE', '/api/orders');
      assert.equal(again.statusCode, 404);
      assert.equal(errorOf(again).code, 'NOT_FOUND');
      assert.equal(errorOf(await send(s.app, 'DELETE', '/api/%24bad')).code, 'VALIDATION');
      // A new collection of the same name starts empty.
      await send(s.app, 'POST', '/api/orders', { a: 9 });
      assert.deepEqual((await send(s.app, 'GET', '/api')).json(), [{ name: 'orders', count: 1 }]);
    } finally {
      await s.close();
    }
  });

  test('with authentication: GET /api names only readable collections; DELETE needs root; the docs name none', async () => {
    const s = await startSecured();
    try {
      const root = basic('root', ROOT_PASSWORD);
      await send(s.app, 'POST', '/api/products', { a: 1 }, root);
      await send(s.app, 'POST', '/api/secrets', { a: 1 }, root);
      await send(s.app, 'PUT', '/auth/roles/products-writer', { permissions: [{ collection: 'products', actions: ['read', 'write'] }] }, root);
      assert.equal((await send(s.app, 'PUT', '/auth/users/alice', { password: 'alice-password', roles: ['products-writer'] }, root)).statusCode, 201);
      const alice = basic('alice', 'alice-password');

      assert.equal((await send(s.app, 'GET', '/api')).statusCode, 401);
      assert.deepEqual((await send(s.app, 'GET', '/api', undefined, alice)).json(), [{ name: 'products', count: 1 }]);
      assert.deepEqual((await send(s.app, 'GET', '/api', undefined, root)).json(), [
        { name: 'products', count: 1 },
        { name: 'secrets', count: 1 },
      ]);

      // Write access to the collection is not enough to drop it.
      const refused = await send(s.app, 'DELETE', '/api/products', undefined, alice);
      assert.equal(refused.statusCode, 403);
      assert.equal(errorOf(refused).code, 'FORBIDDEN');
      assert.equal((await send(s.app, 'DELETE', '/api/products')).statusCode, 401);
      assert.equal((await send(s.app, 'DELETE', '/api/products', undefined, root)).statusCode, 204);
      assert.deepEqual((await send(s.app, 'GET', '/api', undefined, alice)).json(), []);

      // The description is open and generic.
      const doc = await send(s.app, 'GET', '/openapi.json');
      assert.equal(doc.statusCode, 200);
      assert.doesNotMatch(doc.body, /secrets/);
      assert.equal((await send(s.app, 'GET', '/docs/')).statusCode, 200);
      assert.equal((await send(s.app, 'GET', '/docs/json')).statusCode, 200);
    } finally {
      await s.close();
    }
  });
});
