// Issue 14: each history (and audit) record names the authenticated user the write was
// proposed for, whether or not it carried an Idempotency-Key. The server takes the user from
// the request's credentials and puts it in the log entry (`user`); nothing in a body can set
// it. With authentication off, records have no `user` field at all.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { RaftEvent } from '../../src/store/raft-event.ts';
import type { AuditRecord } from '../../src/store/audit.ts';
import { errorOf, send, startTestServer, type TestServer } from './helpers.ts';

const ROOT_PASSWORD = 'correct horse battery';
type Headers = Record<string, string>;

async function waitFor(check: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

async function login(s: TestServer, user: string, password: string): Promise<Headers> {
  const res = await send(s.app, 'POST', '/auth/login', { user, password });
  assert.equal(res.statusCode, 200, res.body);
  return { authorization: `Bearer ${(res.json() as { token: string }).token}` };
}

function basic(user: string, password: string): Headers {
  return { authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` };
}

/** A server with authentication on, users alice and bob (read and write on `p` and `q`), and
 * `p` tracking history and audited. */
async function startWithUsers(): Promise<{ s: TestServer; root: Headers; alice: Headers; bob: Headers }> {
  const s = await startTestServer({ auth: { rootPassword: ROOT_PASSWORD } });
  await waitFor(() => s.db.store.auth.enabled, 'the auth bootstrap');
  const root = await login(s, 'root', ROOT_PASSWORD);
  const permissions = [
    { collection: 'p', actions: ['read', 'write'] },
    { collection: 'q', actions: ['read', 'write'] },
  ];
  assert.equal((await send(s.app, 'PUT', '/auth/roles/writer', { permissions }, root)).statusCode, 201);
  for (const name of ['alice', 'bob']) {
    const put = await send(s.app, 'PUT', `/auth/users/${name}`, { password: `${name}-password`, roles: ['writer'] }, root);
    assert.equal(put.statusCode, 201, put.body);
  }
  const schema = await send(s.app, 'PUT', '/api/p/_schema', { schema: { type: 'object' }, options: { trackHistory: true, audited: true } }, root);
  assert.equal(schema.statusCode, 200, schema.body);
  return { s, root, alice: await login(s, 'alice', 'alice-password'), bob: basic('bob', 'bob-password') };
}

async function history(s: TestServer, headers: Headers, id: string): Promise<RaftEvent[]> {
  const res = await send(s.app, 'GET', `/api/p/${id}/_history`, undefined, headers);
  assert.equal(res.statusCode, 200, res.body);
  return res.json() as RaftEvent[];
}

function users(records: readonly RaftEvent[]): [string, string | undefined][] {
  return records.map((r) => [r.eventType, r.user]);
}

describe('the user in history and audit records, with authentication on', () => {
  test('plain writes (no Idempotency-Key): alice inserts, bob updates, alice deletes', async () => {
    const { s, alice, bob } = await startWithUsers();
    try {
      assert.equal((await send(s.app, 'POST', '/api/p', { _id: 'a', n: 1 }, alice)).statusCode, 201);
      assert.equal((await send(s.app, 'PATCH', '/api/p/a', { $inc: { n: 1 } }, bob)).statusCode, 200);
      assert.equal((await send(s.app, 'DELETE', '/api/p/a', undefined, alice)).statusCode, 204);
      const records = await history(s, bob, 'a');
      assert.deepEqual(users(records), [
        ['Created', 'alice'],
        ['Updated', 'bob'],
        ['Deleted', 'alice'],
      ]);
      // The audit chain holds the same records, user included (and stays verifiable).
      const audit = (await send(s.app, 'GET', '/api/p/_audit', undefined, alice)).json() as AuditRecord[];
      assert.deepEqual(
        audit.map((r) => [r.event.aggregateId, r.event.eventType, r.event.user]),
        [
          ['a', 'Created', 'alice'],
          ['a', 'Updated', 'bob'],
          ['a', 'Deleted', 'alice'],
        ],
      );
      const verified = (await send(s.app, 'GET', '/api/p/_audit?verify=true', undefined, alice)).json();
      assert.equal(verified.ok, true);
      assert.equal(verified.checked, 3);
      assert.deepEqual(verified.head, { hash: audit.at(-1)!.hash, eventId: audit.at(-1)!.event.eventId });
    } finally {
      await s.close();
    }
  });

  test('PUT, a transaction, update and delete by filter, a bulk insert and concurrent inserts each record their user', async () => {
    const { s, alice, bob } = await startWithUsers();
    try {
      assert.equal((await send(s.app, 'PUT', '/api/p/b', { n: 1 }, bob)).statusCode, 201);
      const tx = await send(
        s.app,
        'POST',
        '/api/_tx',
        {
          ops: [
            { op: 'update', collection: 'p', filter: { _id: 'b' }, update: { $set: { tx: true } } },
            { op: 'insert', collection: 'p', doc: { _id: 'c' } },
            { op: 'insert', collection: 'q', doc: { _id: 'c' } },
          ],
        },
        alice,
      );
      assert.equal(tx.statusCode, 200, tx.body);
      const updated = await send(
        s.app,
        'POST',
        '/api/p/_update',
        { filter: { _id: { $in: ['b', 'c'] } }, update: { $set: { u: 1 } }, multi: true },
        bob,
      );
      assert.deepEqual(updated.json(), { matched: 2, modified: 2 });
      assert.deepEqual((await send(s.app, 'POST', '/api/p/_delete', { filter: { _id: 'c' } }, alice)).json(), { removed: 1 });
      assert.deepEqual(users(await history(s, alice, 'b')), [
        ['Created', 'bob'],
        ['Updated', 'alice'],
        ['Updated', 'bob'],
      ]);
      assert.deepEqual(users(await history(s, alice, 'c')), [
        ['Created', 'alice'],
        ['Updated', 'bob'],
        ['Deleted', 'alice'],
      ]);

      // Several documents at once, and inserts of two users at the same time (the node may
      // propose them as one batch entry: each insert keeps its own user).
      assert.equal((await send(s.app, 'POST', '/api/p', [{ _id: 'd1' }, { _id: 'd2' }], alice)).statusCode, 201);
      const both = await Promise.all(Array.from({ length: 8 }, (_, i) => send(s.app, 'POST', '/api/p', { _id: `e${i}` }, i % 2 === 0 ? alice : bob)));
      assert.deepEqual(
        both.map((r) => r.statusCode),
        Array.from({ length: 8 }, () => 201),
      );
      assert.deepEqual(users(await history(s, bob, 'd2')), [['Created', 'alice']]);
      for (let i = 0; i < 8; i++) assert.deepEqual(users(await history(s, bob, `e${i}`)), [['Created', i % 2 === 0 ? 'alice' : 'bob']], `e${i}`);
    } finally {
      await s.close();
    }
  });

  test('a keyed write records its user too, and a replay records nothing more', async () => {
    const { s, alice } = await startWithUsers();
    try {
      const keyed = { ...alice, 'idempotency-key': 'k-1' };
      assert.equal((await send(s.app, 'POST', '/api/p', { _id: 'k' }, keyed)).statusCode, 201);
      const again = await send(s.app, 'POST', '/api/p', { _id: 'k' }, keyed);
      assert.equal(again.headers['idempotent-replayed'], 'true');
      assert.deepEqual(users(await history(s, alice, 'k')), [['Created', 'alice']]);
    } finally {
      await s.close();
    }
  });

  test('a client cannot name the user: a `user` in a document is data, in a request body or a transaction op it is refused', async () => {
    const { s, alice } = await startWithUsers();
    try {
      assert.equal((await send(s.app, 'POST', '/api/p', { _id: 'f', user: 'mallory' }, alice)).statusCode, 201);
      assert.equal((await send(s.app, 'PUT', '/api/p/f', { user: 'mallory', n: 2 }, alice)).statusCode, 200);
      const records = await history(s, alice, 'f');
      assert.deepEqual(users(records), [
        ['Created', 'alice'],
        ['Replaced', 'alice'],
      ]);
      assert.equal(records[1]!.data?.['user'], 'mallory', 'kept as a field of the document');

      const refused = [
        await send(s.app, 'POST', '/api/p/_update', { filter: { _id: 'f' }, update: { $set: { n: 3 } }, user: 'mallory' }, alice),
        await send(s.app, 'POST', '/api/p/_delete', { filter: { _id: 'f' }, user: 'mallory' }, alice),
        await send(s.app, 'POST', '/api/_tx', { ops: [{ op: 'remove', collection: 'p', filter: { _id: 'f' }, user: 'mallory' }] }, alice),
        await send(s.app, 'POST', '/api/_tx', { ops: [{ op: 'remove', collection: 'p', filter: { _id: 'f' } }], user: 'mallory' }, alice),
        // As JSON text: in an object literal, `__proto__` would set the prototype, not a key.
        await send(
          s.app,
          'POST',
          '/api/_tx',
          '{"ops":[{"op":"remove","collection":"p","filter":{"_id":"f"},"__proto__":{"user":"mallory"}}]}',
          alice,
        ),
        await send(s.app, 'POST', '/api/p', '{"_id":"g","__proto__":{"user":"mallory"}}', alice),
      ];
      for (const res of refused) assert.equal(res.statusCode, 400, res.body);
      assert.equal(errorOf(refused[2]!).code, 'VALIDATION');
      assert.equal((await history(s, alice, 'f')).length, 2, 'nothing more was written');
    } finally {
      await s.close();
    }
  });
});

describe('the user in history records, with authentication off', () => {
  test('records have no `user` field', async () => {
    const s = await startTestServer();
    try {
      assert.equal(
        (await send(s.app, 'PUT', '/api/p/_schema', { schema: { type: 'object' }, options: { trackHistory: true, audited: true } })).statusCode,
        200,
      );
      assert.equal((await send(s.app, 'POST', '/api/p', { _id: 'a', user: 'mallory' })).statusCode, 201);
      assert.equal((await send(s.app, 'PATCH', '/api/p/a', { $set: { n: 1 } }, { 'idempotency-key': 'k' })).statusCode, 200);
      assert.equal((await send(s.app, 'POST', '/api/_tx', { ops: [{ op: 'remove', collection: 'p', filter: { _id: 'a' } }] })).statusCode, 200);
      const records = (await send(s.app, 'GET', '/api/p/a/_history')).json() as RaftEvent[];
      assert.deepEqual(
        records.map((r) => [r.eventType, Object.hasOwn(r, 'user')]),
        [
          ['Created', false],
          ['Updated', false],
          ['Deleted', false],
        ],
      );
      const audit = (await send(s.app, 'GET', '/api/p/_audit')).json() as AuditRecord[];
      assert.ok(audit.every((r) => !Object.hasOwn(r.event, 'user')));
    } finally {
      await s.close();
    }
  });
});
