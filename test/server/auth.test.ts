import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { get as httpGet, request as httpRequest, type IncomingMessage } from 'node:http';
import { join } from 'node:path';
import { open } from '../../src/index.ts';
import { EmbeddedBackend } from '../../src/node/embedded-backend.ts';
import { createServer } from '../../src/server/index.ts';
import { HASHES_IN_FLIGHT_MAX, HASHES_QUEUED_MAX, PasswordHasher } from '../../src/server/auth/password.ts';
import { ROUTE_ACCESS } from '../../src/server/auth/route-access.ts';
import { signToken, verifyToken } from '../../src/server/auth/tokens.ts';
import { StoreError } from '../../src/store/errors.ts';
import { Store } from '../../src/store/store.ts';
import { encodeSnapshotData, snapshotParts } from '../../src/store/snapshot.ts';
import { errorOf, send, startScriptedServer, startTestServer, type TestServer } from './helpers.ts';

const ROOT_PASSWORD = 'correct horse battery';

async function waitFor(check: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

async function startSecured(tokenTtlMs?: number): Promise<TestServer> {
  const s = await startTestServer({ auth: { rootPassword: ROOT_PASSWORD, ...(tokenTtlMs !== undefined ? { tokenTtlMs } : {}) } });
  await waitFor(() => s.db.store.auth.enabled, 'the auth bootstrap');
  return s;
}

function basic(user: string, password: string): Record<string, string> {
  return { authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` };
}

async function login(s: TestServer, user: string, password: string): Promise<Record<string, string>> {
  const res = await send(s.app, 'POST', '/auth/login', { user, password });
  assert.equal(res.statusCode, 200, res.body);
  const body = res.json() as { token: string; expiresAt: string };
  assert.ok(Date.parse(body.expiresAt) > Date.now());
  return { authorization: `Bearer ${body.token}` };
}

describe('authentication off (no root password, none bootstrapped)', () => {
  test('every route answers as before; user management says how to turn authentication on', async () => {
    const s = await startTestServer();
    try {
      assert.equal((await send(s.app, 'POST', '/api/p', { a: 1 })).statusCode, 201);
      assert.equal((await send(s.app, 'GET', '/cluster/status')).statusCode, 200);
      assert.deepEqual((await send(s.app, 'GET', '/auth/whoami')).json(), { user: null, authentication: false });
      const put = await send(s.app, 'PUT', '/auth/users/alice', { password: 'alice-password', roles: [] });
      assert.equal(put.statusCode, 409);
      assert.match(errorOf(put).message, /--root-password-file/);
      assert.equal((await send(s.app, 'POST', '/auth/login', { user: 'root', password: 'whatever-it-is' })).statusCode, 401);
    } finally {
      await s.close();
    }
  });
});

describe('authentication on', () => {
  test('no or wrong credentials: 401 in the API shape with WWW-Authenticate; probes and the login stay open', async () => {
    const s = await startSecured();
    try {
      for (const [method, url] of [
        ['GET', '/api/p'],
        ['POST', '/api/p/_query'],
        ['GET', '/cluster/status'],
        ['POST', '/cluster/members'],
        ['GET', '/metrics'],
        ['GET', '/auth/users'],
        ['GET', '/no/such/route'],
      ] as const) {
        const res = await send(s.app, method, url);
        assert.equal(res.statusCode, 401, `${method} ${url}`);
        assert.equal(errorOf(res).code, 'UNAUTHORIZED');
        assert.match(String(res.headers['www-authenticate']), /^Bearer realm="collection-store", Basic/);
      }
      const fromScript = await send(s.app, 'GET', '/api/p', undefined, { 'x-requested-with': 'XMLHttpRequest' });
      assert.equal(fromScript.headers['www-authenticate'], 'Bearer realm="collection-store"', 'no Basic challenge: no browser dialog');
      assert.equal((await send(s.app, 'GET', '/healthz')).statusCode, 200);
      assert.equal((await send(s.app, 'GET', '/readyz')).statusCode, 200);
      assert.notEqual((await send(s.app, 'GET', '/dashboard')).statusCode, 401);
      const wrong = await send(s.app, 'POST', '/auth/login', { user: 'root', password: 'not the password' });
      assert.equal(wrong.statusCode, 401);
      const unknown = await send(s.app, 'POST', '/auth/login', { user: 'nobody', password: 'not the password' });
      assert.equal(errorOf(unknown).message, errorOf(wrong).message, 'an unknown user and a wrong password answer alike');
      for (const header of ['Bearer nonsense', 'Bearer cs1.e30.AAAA', 'Digest x', basic('root', 'wrong password').authorization!, 'Basic !!!']) {
        const res = await send(s.app, 'GET', '/api/p', undefined, { authorization: header });
        assert.equal(res.statusCode, 401, header);
      }
    } finally {
      await s.close();
    }
  });

  test('root: a token from /auth/login and HTTP Basic both work, on data and on /cluster', async () => {
    const s = await startSecured();
    try {
      const root = await login(s, 'root', ROOT_PASSWORD);
      assert.equal((await send(s.app, 'POST', '/api/p', { a: 1 }, root)).statusCode, 201);
      assert.equal((await send(s.app, 'GET', '/api/p', undefined, basic('root', ROOT_PASSWORD))).json().length, 1);
      assert.equal((await send(s.app, 'GET', '/cluster/status', undefined, root)).statusCode, 200);
      assert.equal((await send(s.app, 'GET', '/metrics', undefined, root)).statusCode, 200);
      const me = (await send(s.app, 'GET', '/auth/whoami', undefined, root)).json();
      assert.equal(me.user, 'root');
      assert.equal(me.root, true);
    } finally {
      await s.close();
    }
  });

  test('roles bound users to their collections and actions; /cluster and /auth need root; transactions need every collection', async () => {
    const s = await startSecured();
    try {
      const root = await login(s, 'root', ROOT_PASSWORD);
      const role = await send(s.app, 'PUT', '/auth/roles/products-reader', { permissions: [{ collection: 'products', actions: ['read'] }] }, root);
      assert.equal(role.statusCode, 201, role.body);
      assert.equal(
        (await send(s.app, 'PUT', '/auth/roles/orders-writer', { permissions: [{ collection: 'orders', actions: ['read', 'write'] }] }, root))
          .statusCode,
        201,
      );
      assert.equal((await send(s.app, 'PUT', '/auth/users/alice', { password: 'alice-password', roles: ['products-reader'] }, root)).statusCode, 201);
      assert.equal((await send(s.app, 'POST', '/api/products', { _id: 'p1', price: 3 }, root)).statusCode, 201);
      const alice = await login(s, 'alice', 'alice-password');

      assert.equal((await send(s.app, 'GET', '/api/products/p1', undefined, alice)).statusCode, 200);
      assert.equal((await send(s.app, 'POST', '/api/products/_query', { filter: {} }, alice)).statusCode, 200);
      for (const [method, url, body] of [
        ['POST', '/api/products', { price: 1 }],
        ['PATCH', '/api/products/p1', { $set: { price: 1 } }],
        ['DELETE', '/api/products/p1', undefined],
        ['POST', '/api/products/_indexes', { fields: ['price'] }],
        ['GET', '/api/orders', undefined],
        ['GET', '/cluster/status', undefined],
        ['POST', '/cluster/transfer-leadership', {}],
        ['GET', '/auth/users', undefined],
        ['PUT', '/auth/users/alice', { roles: ['orders-writer'] }],
        ['POST', '/api/_tx', { ops: [{ op: 'insert', collection: 'products', doc: { a: 1 } }] }],
      ] as const) {
        const res = await send(s.app, method, url, body, alice);
        assert.equal(res.statusCode, 403, `${method} ${url}: ${res.body}`);
        assert.equal(errorOf(res).code, 'FORBIDDEN');
      }

      // Roles are looked up live: granting one takes effect on the next request, same token.
      assert.equal((await send(s.app, 'PUT', '/auth/users/alice', { roles: ['products-reader', 'orders-writer'] }, root)).statusCode, 200);
      assert.equal((await send(s.app, 'POST', '/api/orders', { _id: 'o1' }, alice)).statusCode, 201);
      // A transaction writing orders with a precondition on products: both allowed now ...
      const tx = { ops: [{ op: 'insert', collection: 'orders', doc: { _id: 'o2' } }], if: [{ collection: 'products', id: 'p1', exists: true }] };
      assert.equal((await send(s.app, 'POST', '/api/_tx', tx, alice)).statusCode, 200);
      // ... but one that also writes products is refused whole, and nothing is written.
      const mixed = {
        ops: [
          { op: 'insert', collection: 'orders', doc: { _id: 'o3' } },
          { op: 'insert', collection: 'products', doc: { _id: 'p9' } },
        ],
      };
      assert.equal((await send(s.app, 'POST', '/api/_tx', mixed, alice)).statusCode, 403);
      assert.equal(s.db.store.get('orders', 'o3'), undefined);
      // A precondition on a collection alice may not read is refused too.
      const peek = { ops: [{ op: 'insert', collection: 'orders', doc: { _id: 'o4' } }], if: [{ collection: 'secrets', id: 's', exists: true }] };
      assert.equal((await send(s.app, 'POST', '/api/_tx', peek, alice)).statusCode, 403);

      const users = (await send(s.app, 'GET', '/auth/users', undefined, root)).json();
      assert.deepEqual(users, {
        users: [
          { name: 'alice', roles: ['products-reader', 'orders-writer'] },
          { name: 'root', roles: ['root'] },
        ],
      });
      assert.doesNotMatch(JSON.stringify(users), /scrypt/);
      const roles = (await send(s.app, 'GET', '/auth/roles', undefined, root)).json();
      assert.deepEqual(
        roles.roles.map((r: { name: string }) => r.name),
        ['orders-writer', 'products-reader', 'root'],
      );
      // A role still held cannot go; root cannot be removed or demoted.
      assert.equal((await send(s.app, 'DELETE', '/auth/roles/orders-writer', undefined, root)).statusCode, 409);
      assert.equal((await send(s.app, 'DELETE', '/auth/users/root', undefined, root)).statusCode, 409);
      assert.equal((await send(s.app, 'PUT', '/auth/users/root', { roles: [] }, root)).statusCode, 409);
      assert.equal((await send(s.app, 'PUT', '/auth/roles/root', { permissions: [] }, root)).statusCode, 409);
      assert.equal((await send(s.app, 'PUT', '/auth/users/bob', { password: 'bob-password', roles: ['no-such-role'] }, root)).statusCode, 404);
      assert.equal((await send(s.app, 'PUT', '/auth/users/bob', { password: 'short', roles: [] }, root)).statusCode, 400);
      assert.equal((await send(s.app, 'PUT', '/auth/users/bob', { roles: [] }, root)).statusCode, 400, 'a new user needs a password');
      assert.equal((await send(s.app, 'PUT', '/auth/roles/bad', { permissions: [{ collection: 'x', actions: ['delete'] }] }, root)).statusCode, 400);
    } finally {
      await s.close();
    }
  });

  test('a password change or a removal revokes the tokens issued before; an expired or forged token is refused', async () => {
    const s = await startSecured(1000);
    try {
      const root = await login(s, 'root', ROOT_PASSWORD);
      await send(s.app, 'PUT', '/auth/users/carol', { password: 'carol-password-1', roles: ['root'] }, root);
      const before = await login(s, 'carol', 'carol-password-1');
      assert.equal((await send(s.app, 'GET', '/api/x', undefined, before)).statusCode, 200);
      assert.equal((await send(s.app, 'PUT', '/auth/users/carol', { password: 'carol-password-2', roles: ['root'] }, root)).statusCode, 200);
      const revoked = await send(s.app, 'GET', '/api/x', undefined, before);
      assert.equal(revoked.statusCode, 401);
      assert.match(errorOf(revoked).message, /revoked/);
      assert.equal((await send(s.app, 'GET', '/api/x', undefined, basic('carol', 'carol-password-1'))).statusCode, 401);
      const after = await login(s, 'carol', 'carol-password-2');
      assert.equal((await send(s.app, 'GET', '/api/x', undefined, after)).statusCode, 200);
      assert.equal((await send(s.app, 'DELETE', '/auth/users/carol', undefined, root)).statusCode, 200);
      assert.equal((await send(s.app, 'GET', '/api/x', undefined, after)).statusCode, 401);
      // A user removed and created again with the same name and password: the first one's
      // token stays revoked (generations are log indexes, never reused).
      await send(s.app, 'PUT', '/auth/users/dave', { password: 'dave-password', roles: ['root'] }, root);
      const firstDave = await login(s, 'dave', 'dave-password');
      assert.equal((await send(s.app, 'DELETE', '/auth/users/dave', undefined, root)).statusCode, 200);
      assert.equal((await send(s.app, 'PUT', '/auth/users/dave', { password: 'dave-password', roles: ['root'] }, root)).statusCode, 201);
      assert.equal((await send(s.app, 'GET', '/api/x', undefined, firstDave)).statusCode, 401, 'a token of the removed user');
      assert.equal((await send(s.app, 'GET', '/api/x', undefined, await login(s, 'dave', 'dave-password'))).statusCode, 200);

      const key = s.db.store.auth.tokenKey!;
      const rootGeneration = s.db.store.auth.user('root')!.generation;
      const expired = signToken(key, { user: 'root', generation: rootGeneration, expiresAtMs: Date.now() - 1 });
      const res = await send(s.app, 'GET', '/api/x', undefined, { authorization: `Bearer ${expired}` });
      assert.equal(res.statusCode, 401);
      assert.match(errorOf(res).message, /expired/);
      const forged = signToken('ab'.repeat(32), { user: 'root', generation: rootGeneration, expiresAtMs: Date.now() + 60_000 });
      assert.equal((await send(s.app, 'GET', '/api/x', undefined, { authorization: `Bearer ${forged}` })).statusCode, 401);
      // The server's own TTL: a token issued now stops working after it (1 s here).
      await new Promise((resolve) => setTimeout(resolve, 1100));
      assert.equal((await send(s.app, 'GET', '/api/x', undefined, root)).statusCode, 401);
    } finally {
      await s.close();
    }
  });

  test('a change stream ends once its user may no longer read the collection', async () => {
    const s = await startSecured();
    try {
      const root = await login(s, 'root', ROOT_PASSWORD);
      await send(s.app, 'PUT', '/auth/roles/feed-reader', { permissions: [{ collection: 'feed', actions: ['read'] }] }, root);
      await send(s.app, 'PUT', '/auth/users/erin', { password: 'erin-password', roles: ['feed-reader'] }, root);
      const erin = await login(s, 'erin', 'erin-password');
      const base = await s.app.listen({ port: 0, host: '127.0.0.1' });
      const response = await new Promise<IncomingMessage>((resolve, reject) => {
        httpGet(`${base}/api/feed/_changes`, { headers: erin }, resolve).on('error', reject);
      });
      assert.equal(response.statusCode, 200);
      let text = '';
      const ended = new Promise<void>((resolve) => {
        response.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
        response.on('close', resolve);
      });
      await send(s.app, 'POST', '/api/feed', { _id: 'f1' }, root);
      await waitFor(() => text.includes('"f1"'), 'the first event');
      await send(s.app, 'PUT', '/auth/users/erin', { roles: [] }, root);
      await send(s.app, 'POST', '/api/feed', { _id: 'f2' }, root);
      const timedOut = new Promise<never>((_, reject) => setTimeout(() => reject(new Error('the stream did not end')), 3000).unref());
      await Promise.race([ended, timedOut]);
      assert.ok(!text.includes('"f2"'), 'no event after the right was withdrawn');
    } finally {
      await s.close();
    }
  });

  test('rights are checked again once the body has arrived: a role withdrawn meanwhile refuses the request', async () => {
    const s = await startSecured();
    try {
      const root = await login(s, 'root', ROOT_PASSWORD);
      await send(s.app, 'PUT', '/auth/roles/w', { permissions: [{ collection: 'w', actions: ['read', 'write'] }] }, root);
      await send(s.app, 'PUT', '/auth/users/gina', { password: 'gina-password', roles: ['w'] }, root);
      const gina = await login(s, 'gina', 'gina-password');
      const base = await s.app.listen({ port: 0, host: '127.0.0.1' });
      // Headers now, body later: the role goes in between.
      const url = new URL(`${base}/api/w`);
      const answer = new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = httpRequest(
          {
            host: url.hostname,
            port: url.port,
            path: url.pathname,
            method: 'POST',
            headers: { ...gina, 'content-type': 'application/json', 'content-length': '11' },
          },
          (res) => {
            let body = '';
            res.on('data', (c: Buffer) => (body += c.toString()));
            res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
          },
        );
        req.on('error', reject);
        req.flushHeaders();
        setTimeout(() => {
          void send(s.app, 'PUT', '/auth/users/gina', { roles: [] }, root).then(() => req.end('{"_id":"x"}'));
        }, 100);
      });
      const { status, body } = await answer;
      assert.equal(status, 403, body);
      assert.equal(s.db.store.get('w', 'x'), undefined, 'nothing written');
    } finally {
      await s.close();
    }
  });

  test('a stream or a request admitted while authentication was off ends, or is refused, once it is on', async () => {
    const s = await startTestServer();
    try {
      const base = await s.app.listen({ port: 0, host: '127.0.0.1' });
      const response = await new Promise<IncomingMessage>((resolve, reject) => {
        httpGet(`${base}/api/feed/_changes`, resolve).on('error', reject);
      });
      assert.equal(response.statusCode, 200);
      const ended = new Promise<void>((resolve) => response.on('close', resolve).resume());
      // Authentication turned on in the running cluster (the bootstrap another node proposed).
      await s.db.execute({ type: 'auth', op: 'bootstrap', rootPasswordHash: 'scrypt$16384$8$1$AAAA$BBBB', tokenKey: 'ef'.repeat(32) });
      await s.db.collection('feed').insert({ _id: 'f1' });
      const timedOut = new Promise<never>((_, reject) => setTimeout(() => reject(new Error('the stream did not end')), 3000).unref());
      await Promise.race([ended, timedOut]);
      assert.equal((await send(s.app, 'GET', '/api/feed')).statusCode, 401);
    } finally {
      await s.close();
    }
  });

  test('a node that has not caught up since it started waits for a linearizable barrier before it judges a request, or answers 503', async () => {
    const s = await startScriptedServer();
    try {
      s.scripted.barrierError = new StoreError('READ_TIMEOUT', 'no quorum confirmed the read in time');
      for (const [method, url, body] of [
        ['GET', '/api/p?consistency=local', undefined],
        ['POST', '/api/p', { a: 1 }],
        ['PUT', '/auth/users/evil', { password: 'evil-password', roles: ['root'] }],
      ] as const) {
        const res = await send(s.app, method, url, body);
        assert.equal(res.statusCode, 503, `${method} ${url}`);
        assert.equal(errorOf(res).code, 'READ_TIMEOUT');
      }
      assert.equal(s.scripted.executeCalls, 0, 'nothing forwarded');
      assert.equal((await send(s.app, 'GET', '/healthz')).statusCode, 200, 'probes stay open');
      assert.equal((await send(s.app, 'GET', '/cluster/status')).statusCode, 200, 'the status stays readable');
      s.scripted.barrierError = null;
      assert.equal((await send(s.app, 'GET', '/api/p?consistency=local')).statusCode, 200);
    } finally {
      await s.close();
    }
  });

  test('a change of users or roles applies only for a user holding root at that index, whatever the node that proposed it believed', async () => {
    const s = await startSecured();
    try {
      const root = await login(s, 'root', ROOT_PASSWORD);
      await send(s.app, 'PUT', '/auth/users/hank', { password: 'hank-password', roles: [] }, root);
      const hash = s.db.store.auth.user('hank')!.passwordHash;
      for (const by of [undefined, 'hank', 'nobody']) {
        const result = await s.db.execute({
          type: 'auth',
          op: 'putUser',
          name: 'evil',
          passwordHash: hash,
          roles: ['root'],
          ...(by !== undefined ? { by } : {}),
        });
        assert.equal(result.ok, false, String(by));
        assert.equal(!result.ok && result.error.code, 'FORBIDDEN', String(by));
      }
      assert.equal(s.db.store.auth.user('evil'), undefined);
      const ok = await s.db.execute({ type: 'auth', op: 'putUser', by: 'root', name: 'evil', passwordHash: hash, roles: [] });
      assert.equal(ok.ok, true);
    } finally {
      await s.close();
    }
  });

  test('a node that has seen authentication on requires it from its next start, before its state says so', async () => {
    let written = 0;
    const s = await startTestServer({ auth: { enabledMarker: { present: true, write: () => void written++ } } });
    try {
      assert.equal(s.db.store.auth.enabled, false);
      assert.equal((await send(s.app, 'GET', '/api/p')).statusCode, 401);
    } finally {
      await s.close();
    }
    const fresh = await startTestServer({ auth: { enabledMarker: { present: false, write: () => void written++ } } });
    try {
      assert.equal((await send(fresh.app, 'GET', '/api/p')).statusCode, 200);
      await fresh.db.execute({ type: 'auth', op: 'bootstrap', rootPasswordHash: 'scrypt$16384$8$1$AAAA$BBBB', tokenKey: 'ef'.repeat(32) });
      assert.equal((await send(fresh.app, 'GET', '/api/p')).statusCode, 401);
      assert.equal(written, 1, 'recorded once, when first seen');
    } finally {
      await fresh.close();
    }
  });

  test('every route of the server has an access rule, and a route without one cannot be added', async () => {
    const s = await startSecured();
    try {
      assert.throws(() => s.app.get('/unlisted', async () => ({})), /ROUTE_ACCESS/);
      const listed = Object.keys(ROUTE_ACCESS);
      // Every rule names a route the server really has (a stale rule would hide a typo).
      for (const key of listed) {
        const [method, url] = key.split(' ') as [string, string];
        const present = s.app.hasRoute({ method: method as 'GET', url });
        // The fault-injection route exists only with start --enable-fault-injection.
        if (key === 'POST /cluster/fault-injection') assert.equal(present, false, key);
        else assert.ok(present, key);
      }
    } finally {
      await s.close();
    }
  });
});

/** A route of ROUTE_ACCESS as a request: its parameters filled in. */
function requestOf(key: string): { method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE'; path: string; body: unknown } {
  const [method, url] = key.split(' ') as ['GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', string];
  const path = url.replace(':collection', 'products').replace(':id', 'p1').replace(':name', 'made-by-a-refused-request').replace('*', 'x');
  const body =
    method === 'GET' || method === 'DELETE'
      ? undefined
      : key === 'POST /api/_tx'
        ? { ops: [{ op: 'insert', collection: 'products', doc: { a: 1 } }] }
        : {};
  return { method, path, body };
}

describe('every route of ROUTE_ACCESS, as its rule says', () => {
  test('401 without credentials, 403 to a user who lacks the right, on every route the table names; nothing is done', async () => {
    const s = await startSecured();
    try {
      const root = await login(s, 'root', ROOT_PASSWORD);
      const put = async (path: string, body: unknown): Promise<void> => {
        const res = await send(s.app, 'PUT', path, body, root);
        assert.equal(res.statusCode, 201, `${path}: ${res.body}`);
      };
      // Every right on every collection, but not root; reading only; nothing at all.
      await put('/auth/roles/everything', { permissions: [{ collection: '*', actions: ['read', 'write'] }] });
      await put('/auth/roles/reader', { permissions: [{ collection: '*', actions: ['read'] }] });
      await put('/auth/users/ann', { password: 'ann-password-1', roles: ['everything'] });
      await put('/auth/users/rex', { password: 'rex-password-1', roles: ['reader'] });
      await put('/auth/users/nob', { password: 'nob-password-1', roles: [] });
      const ann = await login(s, 'ann', 'ann-password-1');
      const rex = await login(s, 'rex', 'rex-password-1');
      const nob = await login(s, 'nob', 'nob-password-1');
      const stateBefore = JSON.stringify([s.db.store.auth.users(), s.db.store.auth.roles(), s.db.store.lastApplied]);

      const checked: string[] = [];
      for (const [key, access] of Object.entries(ROUTE_ACCESS)) {
        // Registered only with start --enable-fault-injection: here it is an unknown path.
        if (key === 'POST /cluster/fault-injection' || access.kind === 'open') continue;
        const { method, path, body } = requestOf(key);
        const anonymous = await send(s.app, method, path, body);
        assert.equal(anonymous.statusCode, 401, `${key} without credentials: ${anonymous.body}`);
        assert.equal(errorOf(anonymous).code, 'UNAUTHORIZED', key);
        // Who lacks the right: anyone but root for root's routes; a reader for writes; a user
        // with no role for reads and transactions. An authenticated route refuses nobody.
        const lacking = access.kind === 'root' ? ann : access.kind === 'collection' && access.action === 'write' ? rex : nob;
        // A change stream that is let in stays open: that it lets a user in is tested with the streams.
        if (access.kind === 'authenticated' && key.endsWith('/_changes')) {
          checked.push(key);
          continue;
        }
        const refused = await send(s.app, method, path, body, lacking);
        if (access.kind === 'authenticated') {
          assert.ok(
            refused.statusCode !== 401 && refused.statusCode !== 403,
            `${key} for a user with no role: ${refused.statusCode} ${refused.body}`,
          );
        } else {
          assert.equal(refused.statusCode, 403, `${key} for a user without the right: ${refused.body}`);
          assert.equal(errorOf(refused).code, 'FORBIDDEN', key);
        }
        checked.push(key);
      }
      // Administration is root's alone: every /cluster route (members added, removed and
      // moved, the leadership moved, snapshots, backups, status), every /auth route but the
      // login and whoami, and dropping a collection.
      const administration = checked.filter((key) => /^\w+ \/(cluster|auth)\//.test(key) && key !== 'GET /auth/whoami' && key !== 'POST /auth/login');
      for (const key of [...administration, 'DELETE /api/:collection']) assert.equal(ROUTE_ACCESS[key]?.kind, 'root', key);
      for (const key of ['PATCH /cluster/members/:id', 'POST /cluster/transfer', 'POST /cluster/snapshot', 'GET /cluster/backup']) {
        assert.ok(administration.includes(key), key);
      }
      assert.equal(
        JSON.stringify([s.db.store.auth.users(), s.db.store.auth.roles(), s.db.store.lastApplied]),
        stateBefore,
        'a refused request changed nothing',
      );
    } finally {
      await s.close();
    }
  });
});

describe('auth state and its parts', () => {
  test('users and roles survive a snapshot (encoded whole or in parts); passwords never reach the log', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cs-auth-'));
    try {
      const db = await open({ dir });
      const backend = new EmbeddedBackend(db, 'http://127.0.0.1:0');
      const app = await createServer({ backend, auth: { rootPassword: ROOT_PASSWORD } });
      await waitFor(() => db.store.auth.enabled, 'the auth bootstrap');
      const root = basic('root', ROOT_PASSWORD);
      await send(app, 'PUT', '/auth/roles/r', { permissions: [{ collection: '*', actions: ['read'] }] }, root);
      await send(app, 'PUT', '/auth/users/dave', { password: 'dave-secret-password', roles: ['r'] }, root);
      const data = db.store.captureSnapshot();
      // Version 3 since entries carry the log's time (the session table of issue #12), with auth inside.
      assert.equal(data.version, 3);
      assert.ok(data.auth !== undefined);
      const whole = encodeSnapshotData(data);
      const fromParts = Store.restoreSnapshot(Buffer.concat([...snapshotParts(data)]));
      const restored = Store.restoreSnapshot(whole);
      assert.deepEqual(fromParts.auth.toSnapshot(), restored.auth.toSnapshot());
      assert.deepEqual(restored.auth.users(), db.store.auth.users());
      assert.deepEqual(restored.auth.roles(), db.store.auth.roles());
      assert.equal(restored.auth.tokenKey, db.store.auth.tokenKey);
      assert.ok(restored.auth.allows(restored.auth.user('dave')!, 'anything', 'read'));
      assert.ok(!restored.auth.allows(restored.auth.user('dave')!, 'anything', 'write'));
      await app.close();
      await db.close();
      for (const file of await readdir(dir, { recursive: true })) {
        const bytes = await readFile(join(dir, file)).catch(() => Buffer.alloc(0));
        assert.equal(bytes.indexOf('dave-secret-password'), -1, file);
        assert.equal(bytes.indexOf(ROOT_PASSWORD), -1, file);
      }
      // Reopened: the users come back from the log.
      const again = await open({ dir });
      assert.equal(again.store.auth.user('dave')?.roles[0], 'r');
      await again.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('tokens: one spelling only (padding or standard base64 refused)', () => {
    const key = 'cd'.repeat(32);
    const token = signToken(key, { user: 'u', generation: 3, expiresAtMs: 1e15 });
    const [prefix, payload, mac] = token.split('.') as [string, string, string];
    const standard = Buffer.from(mac, 'base64url').toString('base64');
    assert.equal(verifyToken(key, `${prefix}.${payload}.${standard}`), null);
    assert.equal(verifyToken(key, `${prefix}.${payload}=.${mac}`), null);
    assert.equal(verifyToken(key, `${token}=`), null);
    assert.notEqual(verifyToken(key, token), null);
  });

  test('tokens: a changed byte anywhere is refused', () => {
    const key = 'cd'.repeat(32);
    const token = signToken(key, { user: 'u', generation: 3, expiresAtMs: 1e15 });
    assert.deepEqual(verifyToken(key, token), { user: 'u', generation: 3, expiresAtMs: 1e15 });
    for (let i = 0; i < token.length; i++) {
      const c = token[i] === 'A' ? 'B' : 'A';
      const changed = token.slice(0, i) + c + token.slice(i + 1);
      if (changed !== token)
        assert.equal(verifyToken(key, changed)?.generation === 3 && changed !== token ? 'accepted' : 'refused', 'refused', `byte ${i}`);
    }
  });

  test('password checks are bounded: past the queue, TOO_MANY_REQUESTS at once', async () => {
    const hasher = new PasswordHasher();
    const stored = await hasher.hash('some password');
    const attempts = Array.from({ length: HASHES_IN_FLIGHT_MAX + HASHES_QUEUED_MAX + 5 }, () => hasher.verify('wrong password', stored));
    const results = await Promise.allSettled(attempts);
    const refused = results.filter((r) => r.status === 'rejected');
    assert.equal(refused.length, 5);
    for (const r of refused) assert.equal(((r as PromiseRejectedResult).reason as StoreError).code, 'TOO_MANY_REQUESTS');
    assert.ok(results.filter((r) => r.status === 'fulfilled').every((r) => (r as PromiseFulfilledResult<boolean>).value === false));
    assert.equal(await hasher.verify('some password', stored), true);
  });
});
