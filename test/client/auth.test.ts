// The client's credentials against a real server with authentication on (an in-process
// server over an in-memory database, listening on a port), and, for answers a real server
// gives only under load (429) or at an exact moment (a token expiring in flight), against
// the fake server. Every request the server receives is recorded, to count logins.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { ForbiddenError, TooManyRequestsError, UnauthorizedError, connect, type ConnectOptions } from '../../src/client/index.ts';
import { startTestServer, type TestServer } from '../server/helpers.ts';
import { FakeNode } from './fake-server.ts';

const ROOT_PASSWORD = 'correct horse battery';
const FAST: ConnectOptions = { retries: 3, backoff: { delayMsInitial: 5, delayMsMax: 20 }, timeout: 5000 };

interface Seen {
  readonly line: string;
  readonly authorization: string | undefined;
  readonly xRequestedWith: string | undefined;
}

interface SecuredServer {
  readonly server: TestServer;
  readonly url: string;
  readonly seen: Seen[];
  logins(): number;
  close(): Promise<void>;
}

async function waitFor(check: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

async function startSecured(tokenTtlMs?: number): Promise<SecuredServer> {
  const server = await startTestServer({ auth: { rootPassword: ROOT_PASSWORD, ...(tokenTtlMs !== undefined ? { tokenTtlMs } : {}) } });
  await waitFor(() => server.db.store.auth.enabled, 'the auth bootstrap');
  const seen: Seen[] = [];
  // A second listener on the Node server: sees every request fastify gets, changes nothing.
  server.app.server.on('request', (req: IncomingMessage) => {
    const header = (name: string): string | undefined => {
      const value = req.headers[name];
      return Array.isArray(value) ? value.join(',') : value;
    };
    seen.push({ line: `${req.method} ${req.url}`, authorization: header('authorization'), xRequestedWith: header('x-requested-with') });
  });
  const url = await server.app.listen({ port: 0, host: '127.0.0.1' });
  return {
    server,
    url,
    seen,
    logins: () => seen.filter((s) => s.line === 'POST /auth/login').length,
    close: () => server.close(),
  };
}

/** Creates or changes a user, with a role over one collection (as root, over plain HTTP). */
async function addUser(s: SecuredServer, name: string, password: string, collection: string, actions: string[]): Promise<void> {
  const loginRes = await fetch(`${s.url}/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ user: 'root', password: ROOT_PASSWORD }),
  });
  const { token: rootToken } = (await loginRes.json()) as { token: string };
  const headers = { 'content-type': 'application/json', authorization: `Bearer ${rootToken}` };
  const role = await fetch(`${s.url}/auth/roles/${name}-role`, {
    method: 'PUT',
    headers,
    body: JSON.stringify({ permissions: [{ collection, actions }] }),
  });
  assert.ok(role.ok, await role.text());
  const user = await fetch(`${s.url}/auth/users/${name}`, { method: 'PUT', headers, body: JSON.stringify({ password, roles: [`${name}-role`] }) });
  assert.ok(user.ok, await user.text());
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  assert.fail('expected a rejection');
}

describe('client authentication against a real server', () => {
  let s: SecuredServer;

  before(async () => {
    s = await startSecured();
  });
  after(async () => {
    await s.close();
  });

  test('user and password: one login, then a write and a read carry the Bearer token', async () => {
    const before = s.seen.length;
    const client = connect(s.url, { ...FAST, auth: { user: 'root', password: ROOT_PASSWORD } });
    try {
      const doc = await client.collection('products').insert({ name: 'pear' });
      assert.equal((await client.collection('products').get(doc._id))?.name, 'pear');
      assert.equal((await client.status()).nodeId !== undefined, true);
      assert.equal((await client.status({ url: s.url })).nodeId !== undefined, true);
      const mine = s.seen.slice(before);
      assert.deepEqual(
        mine.map((r) => r.line.replace(/\/products\/.*/, '/products/:id')),
        ['POST /auth/login', 'POST /api/products', 'GET /api/products/:id', 'GET /cluster/status', 'GET /cluster/status'],
      );
      assert.equal(mine[0]!.authorization, undefined, 'the login carries no credentials');
      const bearer = mine[1]!.authorization;
      assert.match(bearer ?? '', /^Bearer cs1\./);
      for (const r of mine.slice(1)) assert.equal(r.authorization, bearer, r.line);
    } finally {
      await client.close();
    }
  });

  test('a wrong password is an UnauthorizedError after one login, and nothing else is sent', async () => {
    const before = s.seen.length;
    const client = connect(s.url, { ...FAST, auth: { user: 'root', password: 'not the password' } });
    try {
      const error = await rejection(client.collection('products').insert({ name: 'x' }));
      assert.ok(error instanceof UnauthorizedError, String(error));
      assert.equal(error.status, 401);
      assert.doesNotMatch(error.message, /not the password/);
      // Twenty more at once: they share one login, which fails for all of them.
      const errors = await Promise.all(Array.from({ length: 20 }, (_, i) => rejection(client.collection('products').get(`id${i}`))));
      for (const e of errors) assert.ok(e instanceof UnauthorizedError, String(e));
      const mine = s.seen.slice(before).map((r) => r.line);
      assert.deepEqual(mine, ['POST /auth/login', 'POST /auth/login'], 'one login per wave, no retry, no data request');
    } finally {
      await client.close();
    }
  });

  test('20 concurrent first requests share one login', async () => {
    const client = connect(s.url, { ...FAST, auth: { user: 'root', password: ROOT_PASSWORD } });
    const before = s.logins();
    try {
      const docs = await Promise.all(Array.from({ length: 20 }, (_, i) => client.collection('burst').insert({ i })));
      assert.equal(docs.length, 20);
      assert.equal(s.logins() - before, 1);
    } finally {
      await client.close();
    }
  });

  test('a user without write gets ForbiddenError, sent once (not retried); its reads work', async () => {
    const root = connect(s.url, { ...FAST, auth: { user: 'root', password: ROOT_PASSWORD } });
    await root.collection('catalog').insert({ _id: 'c1', v: 1 });
    await addUser(s, 'reader', 'reader-password', 'catalog', ['read']);
    const client = connect(s.url, { ...FAST, auth: { user: 'reader', password: 'reader-password' } });
    try {
      assert.equal((await client.collection('catalog').get('c1'))?.v, 1);
      const before = s.seen.length;
      for (const write of [
        () => client.collection('catalog').insert({ v: 2 }),
        () => client.collection('catalog').updateById('c1', { $inc: { v: 1 } }),
        () => client.transaction({ ops: [{ op: 'insert', collection: 'catalog', doc: { v: 3 } }] }),
      ]) {
        const error = await rejection(write());
        assert.ok(error instanceof ForbiddenError, String(error));
        assert.equal(error.status, 403);
      }
      assert.deepEqual(
        s.seen.slice(before).map((r) => r.line.split(' ')[0]),
        ['POST', 'PATCH', 'POST'],
        'each write sent once, no login again',
      );
      assert.ok((await rejection(client.status())) instanceof ForbiddenError, '/cluster/status needs root');
      assert.equal((await root.collection('catalog').get('c1'))?.v, 1, 'nothing written');
    } finally {
      await client.close();
      await root.close();
    }
  });

  test('a token revoked by a password change: a new login and the request sent once more, a $inc applied once', async () => {
    const root = connect(s.url, { ...FAST, auth: { user: 'root', password: ROOT_PASSWORD } });
    await addUser(s, 'writer', 'writer-password', 'counters', ['read', 'write']);
    const client = connect(s.url, { ...FAST, auth: { user: 'writer', password: 'writer-password' } });
    try {
      await client.collection('counters').insert({ _id: 'n', v: 0 });
      const loginsBefore = s.logins();
      // The same password again: a new password generation, so the tokens issued before are revoked.
      await addUser(s, 'writer', 'writer-password', 'counters', ['read', 'write']);
      const before = s.seen.length;
      const updated = await client.collection('counters').updateById('n', { $inc: { v: 1 } });
      assert.equal(updated.v, 1);
      const mine = s.seen.slice(before).map((r) => r.line);
      assert.deepEqual(mine, ['PATCH /api/counters/n', 'POST /auth/login', 'PATCH /api/counters/n']);
      assert.equal(s.logins() - loginsBefore, 1 + 1, "addUser's root login and the client's new login");
      assert.equal((await client.collection('counters').get('n'))?.v, 1, 'applied once');
    } finally {
      await client.close();
      await root.close();
    }
  });

  test('a token given by the caller is used as is; once revoked, UnauthorizedError and no login', async () => {
    const root = connect(s.url, { ...FAST, auth: { user: 'root', password: ROOT_PASSWORD } });
    await addUser(s, 'holder', 'holder-password', 'held', ['read', 'write']);
    const res = await fetch(`${s.url}/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ user: 'holder', password: 'holder-password' }),
    });
    const { token } = (await res.json()) as { token: string };
    const client = connect(s.url, { ...FAST, auth: { token } });
    try {
      await client.collection('held').insert({ _id: 'h' });
      await addUser(s, 'holder', 'holder-password-2', 'held', ['read', 'write']);
      const before = s.seen.length;
      const error = await rejection(client.collection('held').get('h'));
      assert.ok(error instanceof UnauthorizedError, String(error));
      assert.match(error.message, /revoked/);
      assert.deepEqual(
        s.seen.slice(before).map((r) => r.line),
        ['GET /api/held/h'],
      );
    } finally {
      await client.close();
      await root.close();
    }
  });

  test('options: { user, password } or { token }, checked at connect; the password is never in a message', () => {
    const bad: unknown[] = [
      { user: 'root', password: 'secret-pw', token: 't' },
      { user: '', password: 'secret-pw' },
      { user: 'root' },
      { token: '' },
      { token: 'a b' },
      null,
    ];
    for (const auth of bad) {
      assert.throws(
        () => connect(s.url, { auth: auth as ConnectOptions['auth'] }),
        (error: unknown) => error instanceof TypeError && !error.message.includes('secret-pw'),
        JSON.stringify(auth),
      );
    }
  });
});

describe('token renewal against a real server (tokens of 1 s)', () => {
  test('a request 1.2 s after the first still succeeds, after a second login', async () => {
    const s = await startSecured(1000);
    const client = connect(s.url, { ...FAST, auth: { user: 'root', password: ROOT_PASSWORD } });
    try {
      await client.collection('r').insert({ _id: 'a', v: 1 });
      assert.equal(s.logins(), 1);
      await new Promise((resolve) => setTimeout(resolve, 1200));
      const before = s.seen.length;
      assert.equal((await client.collection('r').get('a'))?.v, 1);
      assert.equal(s.logins(), 2);
      // Renewed before sending (80% of the lifetime had passed), not after a 401.
      assert.deepEqual(
        s.seen.slice(before).map((r) => r.line),
        ['POST /auth/login', 'GET /api/r/a'],
      );
    } finally {
      await client.close();
      await s.close();
    }
  });
});

describe('client authentication against the fake server', () => {
  let node: FakeNode;

  before(async () => {
    node = await FakeNode.start();
  });
  after(async () => {
    await node.close();
  });

  const loginReply = (token: string, lifetimeMs = 3_600_000): { status: number; body: unknown } => ({
    status: 200,
    body: { token, expiresAt: new Date(Date.now() + lifetimeMs).toISOString() },
  });

  test('a 401 "token expired" in flight: one new login, the $inc sent once more with the new token and applied once', async () => {
    node.requests.length = 0;
    node.inject({ method: 'POST', path: '/auth/login', action: { kind: 'reply', ...loginReply('tok-1') } });
    node.inject({ method: 'POST', path: '/auth/login', action: { kind: 'reply', ...loginReply('tok-2') } });
    const client = connect(node.url, { ...FAST, auth: { user: 'u', password: 'password-1' } });
    try {
      await client.collection('c').insert({ _id: 'x', v: 0 });
      node.inject({
        method: 'PATCH',
        path: '/api/c/x',
        action: { kind: 'reply', status: 401, body: { error: { code: 'UNAUTHORIZED', message: 'token expired: log in again' } } },
      });
      const updated = await client.collection('c').updateById('x', { $inc: { v: 1 } });
      assert.equal(updated.v, 1);
      assert.deepEqual(node.lines(), ['POST /auth/login', 'POST /api/c', 'PATCH /api/c/x', 'POST /auth/login', 'PATCH /api/c/x']);
      assert.deepEqual(
        node.requests.map((r) => r.headers.authorization),
        [undefined, 'Bearer tok-1', 'Bearer tok-1', undefined, 'Bearer tok-2'],
      );
      assert.deepEqual(node.requests[0]!.body, { user: 'u', password: 'password-1' });
    } finally {
      await client.close();
    }
  });

  test('a second 401 after the new login is an UnauthorizedError: one resend only', async () => {
    node.requests.length = 0;
    node.inject({ method: 'POST', path: '/auth/login', times: 2, action: { kind: 'reply', ...loginReply('tok') } });
    const refused = { kind: 'reply', status: 401, body: { error: { code: 'UNAUTHORIZED', message: 'token revoked: log in again' } } } as const;
    node.inject({ method: 'GET', path: '/api/c/y', times: 10, action: refused });
    const client = connect(node.url, { ...FAST, auth: { user: 'u', password: 'password-1' } });
    try {
      const error = await rejection(client.collection('c').get('y'));
      assert.ok(error instanceof UnauthorizedError, String(error));
      assert.deepEqual(node.lines(), ['POST /auth/login', 'GET /api/c/y', 'POST /auth/login', 'GET /api/c/y']);
    } finally {
      await client.close();
      node.faults.length = 0;
    }
  });

  test('429 TOO_MANY_REQUESTS is retried after a backoff, for the login and for a write not safe to repeat', async () => {
    node.requests.length = 0;
    const busy = { kind: 'reply', status: 429, body: { error: { code: 'TOO_MANY_REQUESTS', message: 'too many password checks' } } } as const;
    node.inject({ method: 'POST', path: '/auth/login', times: 2, action: busy });
    node.inject({ method: 'POST', path: '/auth/login', action: { kind: 'reply', ...loginReply('tok') } });
    const client = connect(node.url, { ...FAST, auth: { user: 'u', password: 'password-1' } });
    try {
      await client.collection('c').insert({ _id: 'z', v: 0 });
      node.inject({ method: 'PATCH', path: '/api/c/z', action: busy });
      assert.equal((await client.collection('c').updateById('z', { $inc: { v: 5 } })).v, 5);
      assert.deepEqual(node.lines(), ['POST /auth/login', 'POST /auth/login', 'POST /auth/login', 'POST /api/c', 'PATCH /api/c/z', 'PATCH /api/c/z']);
      // Past the retries: the error itself.
      node.inject({ method: 'GET', path: '/api/c/z', times: 10, action: busy });
      const error = await rejection(client.collection('c').get('z'));
      assert.ok(error instanceof TooManyRequestsError, String(error));
      assert.equal(node.lines().filter((l) => l === 'GET /api/c/z').length, 1 + (FAST.retries ?? 0));
    } finally {
      await client.close();
      node.faults.length = 0;
    }
  });

  test('a token whose lifetime is 80% gone is renewed before the next request', async () => {
    node.requests.length = 0;
    node.inject({ method: 'POST', path: '/auth/login', action: { kind: 'reply', ...loginReply('short', 250) } });
    node.inject({ method: 'POST', path: '/auth/login', action: { kind: 'reply', ...loginReply('long') } });
    const client = connect(node.url, { ...FAST, auth: { user: 'u', password: 'password-1' } });
    try {
      await client.collection('c').insert({ _id: 'r1' });
      await client.collection('c').get('r1'); // within the first 80%: the same token
      await new Promise((resolve) => setTimeout(resolve, 230));
      await client.collection('c').get('r1');
      assert.deepEqual(
        node.requests.map((r) => `${r.method} ${r.path} ${r.headers.authorization ?? '-'}`),
        ['POST /auth/login -', 'POST /api/c Bearer short', 'GET /api/c/r1 Bearer short', 'POST /auth/login -', 'GET /api/c/r1 Bearer long'],
      );
    } finally {
      await client.close();
    }
  });
});
