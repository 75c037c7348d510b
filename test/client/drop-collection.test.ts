// Dropping a collection from the client library (`client.collection(name).drop()`, over
// `DELETE /api/:collection`) and embedded (`db.collection(name).drop()`), issue #14: documents
// and indexes go, the model stays, change streams see `Dropped`, a second drop is NOT_FOUND
// (client) or false (embedded); the client sends its Idempotency-Key, which the route takes
// (a keyed retry is answered with the first result); with authentication on, only root may.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, ForbiddenError, NotFoundError, type Client } from '../../src/client/index.ts';
import { open, type Database } from '../../src/index.ts';
import { startTestServer, send, type TestServer } from '../server/helpers.ts';

const ROOT_PASSWORD = 'correct horse battery';

describe('drop a collection: the client against a real server', () => {
  let server: TestServer;
  let client: Client;
  let url: string;

  before(async () => {
    server = await startTestServer();
    url = await server.app.listen({ port: 0, host: '127.0.0.1' });
    client = connect(url, { retries: 0 });
  });
  after(async () => {
    await client.close();
    await server.close();
  });

  test('drop() removes the documents and indexes, keeps the model; a second drop is NOT_FOUND', async () => {
    const c = client.collection('fruit');
    await c.insertMany([{ name: 'pear' }, { name: 'fig' }]);
    await c.createIndex({ name: 1 });
    const schema = await send(server.app, 'PUT', '/api/fruit/_schema', { schema: { type: 'object' } });
    assert.equal(schema.statusCode, 200, schema.body);
    await client.collection('other').insert({ x: 1 });

    await c.drop();
    assert.deepEqual(await c.find({}), []);
    assert.deepEqual(await c.indexes(), []);
    assert.equal(server.db.store.collections().includes('fruit'), false);
    assert.equal(server.db.store.count('other'), 1, 'other collections stay');
    assert.notEqual(server.db.store.model('fruit'), undefined, 'the model stays');
    await assert.rejects(c.drop(), NotFoundError);
    await assert.rejects(client.collection('never').drop(), NotFoundError);
  });

  test('a keyed DELETE /api/:collection is applied once: its retry replays the first answer', async () => {
    await client.collection('keyed').insert({ a: 1 });
    const headers = { 'idempotency-key': 'drop-1' };
    const first = await send(server.app, 'DELETE', '/api/keyed', undefined, headers);
    assert.equal(first.statusCode, 204, first.body);
    await client.collection('keyed').insert({ a: 2 });
    const retry = await send(server.app, 'DELETE', '/api/keyed', undefined, headers);
    assert.equal(retry.statusCode, 204, retry.body);
    assert.equal(retry.headers['idempotent-replayed'], 'true');
    assert.equal(server.db.store.count('keyed'), 1, 'the retry dropped nothing');
  });
});

describe('drop a collection: the client needs root when authentication is on', () => {
  let server: TestServer;
  let url: string;

  before(async () => {
    server = await startTestServer({ auth: { rootPassword: ROOT_PASSWORD } });
    const until = Date.now() + 5000;
    while (!server.db.store.auth.enabled && Date.now() < until) await new Promise((resolve) => setTimeout(resolve, 10));
    url = await server.app.listen({ port: 0, host: '127.0.0.1' });
  });
  after(async () => server.close());

  test('a writer of the collection is refused (403), root drops it', async () => {
    const root = connect(url, { retries: 0, auth: { user: 'root', password: ROOT_PASSWORD } });
    try {
      await root.collection('orders').insert({ n: 1 });
      const login = await fetch(`${url}/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ user: 'root', password: ROOT_PASSWORD }),
      });
      const { token } = (await login.json()) as { token: string };
      const headers = { 'content-type': 'application/json', authorization: `Bearer ${token}` };
      const role = await fetch(`${url}/auth/roles/writer`, {
        method: 'PUT',
        headers,
        body: JSON.stringify({ permissions: [{ collection: 'orders', actions: ['read', 'write'] }] }),
      });
      assert.ok(role.ok, await role.text());
      const user = await fetch(`${url}/auth/users/w`, {
        method: 'PUT',
        headers,
        body: JSON.stringify({ password: 'writer password', roles: ['writer'] }),
      });
      assert.ok(user.ok, await user.text());

      const writer = connect(url, { retries: 0, auth: { user: 'w', password: 'writer password' } });
      try {
        await assert.rejects(writer.collection('orders').drop(), ForbiddenError);
      } finally {
        await writer.close();
      }
      assert.equal(server.db.store.count('orders'), 1);
      await root.collection('orders').drop();
      assert.equal(server.db.store.collections().includes('orders'), false);
    } finally {
      await root.close();
    }
  });
});

describe('drop a collection: embedded', () => {
  let db: Database;
  before(async () => {
    db = await open({ memory: true });
  });
  after(async () => db.close());

  test('collection.drop() removes documents and indexes, keeps the model, streams Dropped; false when absent', async () => {
    const c = db.collection('fruit');
    await c.setSchema({ type: 'object' });
    // A generator runs from its first next(): this one watches from before the inserts.
    const events = c.watch();
    const first = events.next();
    await c.insertMany([{ name: 'pear' }, { name: 'fig' }]);
    await c.createIndex({ name: 1 });
    assert.equal(await c.drop(), true);
    assert.equal(c.count(), 0);
    assert.deepEqual(c.indexes(), []);
    assert.equal(db.store.collections().includes('fruit'), false);
    assert.notEqual(c.getSchema(), undefined, 'the model stays');
    const seen: string[] = [];
    for (let next = await first; !next.done; next = await events.next()) {
      seen.push(next.value.eventType);
      if (next.value.eventType === 'Dropped') break;
    }
    await events.return();
    assert.deepEqual(seen, ['Created', 'Created', 'Dropped']);
    assert.equal(await c.drop(), false);
    // The handle stays usable: a write creates the collection again.
    await c.insert({ name: 'kiwi' });
    assert.equal(c.count(), 1);
  });
});
