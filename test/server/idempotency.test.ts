// The Idempotency-Key header (issue #12, exactly-once writes): a retry with the same key and
// request gets the first result with `Idempotent-Replayed: true` and applies nothing; the
// same key on another request is 422; a bad key is 400; keys are scoped per user.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { LightMyRequestResponse } from 'fastify';
import { errorOf, send, startTestServer, type TestServer } from './helpers.ts';

const ROOT_PASSWORD = 'a root password for tests';

function keyed(key: string, more: Record<string, string> = {}): Record<string, string> {
  return { 'idempotency-key': key, ...more };
}

function replayed(res: LightMyRequestResponse): boolean {
  return res.headers['idempotent-replayed'] === 'true';
}

async function withServer(run: (s: TestServer) => Promise<void>, options: Parameters<typeof startTestServer>[0] = {}): Promise<void> {
  const s = await startTestServer(options);
  try {
    await run(s);
  } finally {
    await s.close();
  }
}

function basic(user: string, password: string): Record<string, string> {
  return { authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` };
}

describe('Idempotency-Key', () => {
  test('a retried insert (generated _id) returns the first result, replayed, and stores one document', () =>
    withServer(async (s) => {
      const first = await send(s.app, 'POST', '/api/items', { name: 'one' }, keyed('c1.1'));
      assert.equal(first.statusCode, 201, first.body);
      assert.equal(replayed(first), false);
      const again = await send(s.app, 'POST', '/api/items', { name: 'one' }, keyed('c1.1'));
      assert.equal(again.statusCode, 201);
      assert.equal(replayed(again), true);
      assert.deepEqual(again.json(), first.json());
      assert.equal(s.db.store.count('items'), 1);
      // Without a key, writes behave as before: a second insert is a second document.
      await send(s.app, 'POST', '/api/items', { name: 'one' });
      await send(s.app, 'POST', '/api/items', { name: 'one' });
      assert.equal(s.db.store.count('items'), 3);
    }));

  test('every answer to a keyed write says Idempotent-Replayed, false when it is not a replay; unkeyed answers do not', () =>
    withServer(async (s) => {
      const header = (res: LightMyRequestResponse): unknown => res.headers['idempotent-replayed'];
      assert.equal(header(await send(s.app, 'POST', '/api/items', { _id: 'a' }, keyed('f.1'))), 'false');
      assert.equal(header(await send(s.app, 'POST', '/api/items', { _id: 'a' }, keyed('f.2'))), 'false', 'a 409 first result');
      assert.equal(header(await send(s.app, 'POST', '/api/items', { _id: 'b' }, keyed('f.1'))), 'false', 'a 422');
      assert.equal(header(await send(s.app, 'PATCH', '/api/items/a', { $set: { x: 1 } }, keyed('f.3'))), 'false');
      assert.equal(header(await send(s.app, 'POST', '/api/items/_delete', { filter: {} }, keyed('f.4'))), 'false');
      assert.equal(
        header(await send(s.app, 'POST', '/api/_tx', { ops: [{ op: 'insert', collection: 'items', doc: { _id: 'c' } }] }, keyed('f.5'))),
        'false',
      );
      assert.equal(header(await send(s.app, 'POST', '/api/items', { _id: 'a' }, keyed('f.1'))), 'true');
      assert.equal(header(await send(s.app, 'POST', '/api/items', { _id: 'z' })), undefined);
    }));

  test('an array insert replays as an array', () =>
    withServer(async (s) => {
      const first = await send(s.app, 'POST', '/api/items', [{ a: 1 }, { a: 2 }], keyed('many'));
      const again = await send(s.app, 'POST', '/api/items', [{ a: 1 }, { a: 2 }], keyed('many'));
      assert.deepEqual(again.json(), first.json());
      assert.equal(s.db.store.count('items'), 2);
    }));

  test('the same key with another body, route or id is 422 IDEMPOTENCY_KEY_REUSED and applies nothing', () =>
    withServer(async (s) => {
      assert.equal((await send(s.app, 'POST', '/api/items', { n: 1 }, keyed('k'))).statusCode, 201);
      for (const [method, url, body] of [
        ['POST', '/api/items', { n: 2 }],
        ['POST', '/api/other', { n: 1 }],
        ['PUT', '/api/items/x', { n: 1 }],
      ] as const) {
        const res = await send(s.app, method, url, body, keyed('k'));
        assert.equal(res.statusCode, 422, `${method} ${url}: ${res.body}`);
        assert.equal(errorOf(res).code, 'IDEMPOTENCY_KEY_REUSED');
        assert.match(errorOf(res).message, /Idempotency-Key "k" was used for a different request/);
        assert.equal(replayed(res), false);
      }
      assert.equal(s.db.store.count('items'), 1);
      assert.equal(s.db.store.count('other'), 0);
    }));

  test('a bad header is 400 VALIDATION and nothing is written', () =>
    withServer(async (s) => {
      for (const bad of ['', 'has space', 'slash/no', 'é', 'x'.repeat(129)]) {
        const res = await send(s.app, 'POST', '/api/items', { n: 1 }, keyed(bad));
        assert.equal(res.statusCode, 400, JSON.stringify(bad));
        assert.equal(errorOf(res).code, 'VALIDATION');
        assert.match(errorOf(res).message, /Idempotency-Key/);
      }
      assert.equal((await send(s.app, 'POST', '/api/items', { n: 1 }, keyed('x'.repeat(128)))).statusCode, 201);
      assert.equal((await send(s.app, 'POST', '/api/items', { n: 1 }, keyed('A-z_0.9:x'))).statusCode, 201);
      assert.equal(s.db.store.count('items'), 2);
    }));

  test('Idempotency-Answered-Through drops the client’s records through it; a late retry of one is 410 and applies nothing', () =>
    withServer(async (s) => {
      const id = 'Q'.repeat(22);
      const through = (n: number): Record<string, string> => ({ 'idempotency-answered-through': String(n) });
      for (let seq = 1; seq <= 50; seq++) {
        const res = await send(s.app, 'POST', '/api/items', { _id: `i${seq}` }, keyed(`${id}.${seq}`, seq > 1 ? through(seq - 1) : {}));
        assert.equal(res.statusCode, 201, res.body);
      }
      assert.equal(s.db.store.sessions.size, 1, 'one record: the write not yet answered-through');
      const late = await send(s.app, 'POST', '/api/items', { _id: 'i7' }, keyed(`${id}.7`));
      assert.equal(late.statusCode, 410, late.body);
      assert.equal(errorOf(late).code, 'IDEMPOTENCY_KEY_EXPIRED');
      const retry = await send(s.app, 'POST', '/api/items', { _id: 'i50' }, keyed(`${id}.50`, through(49)));
      assert.equal(retry.statusCode, 201);
      assert.equal(replayed(retry), true);
      assert.equal(s.db.store.count('items'), 50);
    }));

  test('a bad Idempotency-Answered-Through is 400 VALIDATION and nothing is written', () =>
    withServer(async (s) => {
      const id = 'R'.repeat(22);
      const cases: Array<[Record<string, string>, RegExp]> = [
        [{ 'idempotency-answered-through': '1' }, /needs an Idempotency-Key of the client library's form/],
        [keyed('order.5', { 'idempotency-answered-through': '1' }), /needs an Idempotency-Key of the client library's form/],
        [keyed(`${id}.5`, { 'idempotency-answered-through': '5' }), /from 1 to 4/],
        [keyed(`${id}.5`, { 'idempotency-answered-through': '0' }), /from 1 to 4/],
        [keyed(`${id}.5`, { 'idempotency-answered-through': '-1' }), /from 1 to 4/],
        [keyed(`${id}.5`, { 'idempotency-answered-through': '2.5' }), /from 1 to 4/],
        [keyed(`${id}.5`, { 'idempotency-answered-through': '99999999999999999' }), /from 1 to 4/],
      ];
      for (const [headers, pattern] of cases) {
        const res = await send(s.app, 'POST', '/api/items', { n: 1 }, headers);
        assert.equal(res.statusCode, 400, JSON.stringify(headers));
        assert.equal(errorOf(res).code, 'VALIDATION');
        assert.match(errorOf(res).message, /Idempotency-Answered-Through/);
        assert.match(errorOf(res).message, pattern);
      }
      assert.equal(s.db.store.count('items'), 0);
      assert.equal((await send(s.app, 'POST', '/api/items', { n: 1 }, keyed(`${id}.5`, { 'idempotency-answered-through': '4' }))).statusCode, 201);
    }));

  test('a validation refusal records nothing: the key can be used once the request is fixed', () =>
    withServer(async (s) => {
      assert.equal((await send(s.app, 'POST', '/api/items', { $bad: 1 }, keyed('fix'))).statusCode, 400);
      const fixed = await send(s.app, 'POST', '/api/items', { good: 1 }, keyed('fix'));
      assert.equal(fixed.statusCode, 201);
      assert.equal(replayed(fixed), false);
    }));

  test('an error decided by the state machine is the first result too (409), replayed', () =>
    withServer(async (s) => {
      await send(s.app, 'POST', '/api/items', { _id: 'dup' });
      const first = await send(s.app, 'POST', '/api/items', { _id: 'dup', v: 2 }, keyed('d'));
      assert.equal(first.statusCode, 409);
      await send(s.app, 'DELETE', '/api/items/dup');
      const again = await send(s.app, 'POST', '/api/items', { _id: 'dup', v: 2 }, keyed('d'));
      assert.equal(again.statusCode, 409);
      assert.equal(replayed(again), true);
      assert.deepEqual(again.json(), first.json());
      assert.equal(s.db.store.count('items'), 0);
    }));

  test('PATCH $inc, PUT, DELETE, _update, _delete and _tx apply once per key', () =>
    withServer(async (s) => {
      await send(s.app, 'PUT', '/api/items/n', { v: 0 });
      for (let i = 0; i < 2; i++) {
        const res = await send(s.app, 'PATCH', '/api/items/n', { $inc: { v: 1 } }, keyed('p'));
        assert.equal(res.statusCode, 200);
        assert.equal(replayed(res), i === 1);
        assert.equal((res.json() as { v: number }).v, 1);
      }
      for (let i = 0; i < 2; i++) {
        const res = await send(s.app, 'POST', '/api/items/_update', { filter: {}, update: { $inc: { v: 10 } }, multi: true }, keyed('u'));
        assert.deepEqual(res.json(), { matched: 1, modified: 1 });
      }
      for (let i = 0; i < 2; i++) {
        const res = await send(
          s.app,
          'POST',
          '/api/_tx',
          { ops: [{ op: 'update', collection: 'items', filter: { _id: 'n' }, update: { $inc: { v: 100 } } }] },
          keyed('t'),
        );
        assert.equal(res.statusCode, 200, res.body);
        assert.equal(replayed(res), i === 1);
      }
      assert.equal(s.db.store.get('items', 'n')?.['v'], 111);
      // PUT with If-Match: the retry answers the first 200, not a 412 for the new _rev.
      const rev = s.db.store.get('items', 'n')!._rev;
      for (let i = 0; i < 2; i++) {
        const res = await send(s.app, 'PUT', '/api/items/n', { v: -1 }, keyed('r', { 'if-match': `"${rev}"` }));
        assert.equal(res.statusCode, 200, res.body);
        assert.equal(replayed(res), i === 1);
      }
      // DELETE: the retry answers the first 204 (not a 404).
      for (let i = 0; i < 2; i++) {
        const res = await send(s.app, 'DELETE', '/api/items/n', undefined, keyed('del'));
        assert.equal(res.statusCode, 204);
        assert.equal(replayed(res), i === 1);
      }
      await send(s.app, 'PUT', '/api/items/m', { v: 0 });
      const removed = await send(s.app, 'POST', '/api/items/_delete', { filter: {} }, keyed('dd'));
      await send(s.app, 'PUT', '/api/items/m2', { v: 0 });
      const removedAgain = await send(s.app, 'POST', '/api/items/_delete', { filter: {} }, keyed('dd'));
      assert.deepEqual(removedAgain.json(), removed.json());
      assert.equal(replayed(removedAgain), true);
      assert.equal(s.db.store.count('items'), 1, 'the second _delete removed nothing');
    }));

  test('PUT and DELETE _schema apply once per key; the same key with ?force=true is another request (422)', () =>
    withServer(async (s) => {
      const schema = { type: 'object', properties: { v: { type: 'number' } } };
      const first = await send(s.app, 'PUT', '/api/items/_schema', { schema }, keyed('s1'));
      assert.equal(first.statusCode, 200, first.body);
      assert.equal(replayed(first), false);
      const version = (first.json() as { version: number }).version;
      const again = await send(s.app, 'PUT', '/api/items/_schema', { schema }, keyed('s1'));
      assert.equal(again.statusCode, 200);
      assert.equal(replayed(again), true);
      assert.equal((again.json() as { version: number }).version, version, 'a replay sets no new model');
      const forced = await send(s.app, 'PUT', '/api/items/_schema?force=true', { schema }, keyed('s1'));
      assert.equal(forced.statusCode, 422, forced.body);
      assert.equal(errorOf(forced).code, 'IDEMPOTENCY_KEY_REUSED');
      for (let i = 0; i < 2; i++) {
        const dropped = await send(s.app, 'DELETE', '/api/items/_schema', undefined, keyed('s2'));
        assert.equal(dropped.statusCode, 204, dropped.body);
        assert.equal(replayed(dropped), i === 1);
      }
    }));

  test('a replay emits no change event', () =>
    withServer(async (s) => {
      const events: string[] = [];
      const unsubscribe = s.db.subscribe((change) => events.push(`${change.eventType} ${change.aggregateId}`));
      try {
        const first = await send(s.app, 'POST', '/api/items', { n: 1 }, keyed('ev'));
        await send(s.app, 'POST', '/api/items', { n: 1 }, keyed('ev'));
        await send(s.app, 'PUT', '/api/items/x', { n: 1 }, keyed('ev2'));
        await send(s.app, 'PUT', '/api/items/x', { n: 1 }, keyed('ev2'));
        assert.deepEqual(events, [`Created ${(first.json() as { _id: string })._id}`, 'Created x']);
      } finally {
        unsubscribe();
      }
    }));

  test('a retry that arrives while the first is in flight waits for it: one log entry', () =>
    withServer(async (s) => {
      await send(s.app, 'PUT', '/api/items/n', { v: 0 });
      const before = s.db.store.lastApplied;
      const [a, b] = await Promise.all([
        send(s.app, 'PATCH', '/api/items/n', { $inc: { v: 1 } }, keyed('same')),
        send(s.app, 'PATCH', '/api/items/n', { $inc: { v: 1 } }, keyed('same')),
      ]);
      assert.deepEqual(a.json(), b.json());
      assert.deepEqual([replayed(a), replayed(b)].sort(), [false, true]);
      assert.equal(s.db.store.get('items', 'n')?.['v'], 1);
      assert.equal(s.db.store.lastApplied - before, 1, 'the retry proposed no entry of its own');
    }));

  test('with authentication on, one user never gets another user’s result for the same key', () =>
    withServer(
      async (s) => {
        const until = Date.now() + 5000;
        while (!s.db.store.auth.enabled && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
        const root = basic('root', ROOT_PASSWORD);
        await send(s.app, 'PUT', '/auth/roles/w', { permissions: [{ collection: 'items', actions: ['read', 'write'] }] }, root);
        await send(s.app, 'PUT', '/auth/users/alice', { password: 'alice-password-1', roles: ['w'] }, root);
        await send(s.app, 'PUT', '/auth/users/bob', { password: 'bob-password-12', roles: ['w'] }, root);
        const alice = basic('alice', 'alice-password-1');
        const bob = basic('bob', 'bob-password-12');
        const a = await send(s.app, 'POST', '/api/items', { by: 'someone' }, keyed('shared', alice));
        const b = await send(s.app, 'POST', '/api/items', { by: 'someone' }, keyed('shared', bob));
        assert.equal(a.statusCode, 201, a.body);
        assert.equal(b.statusCode, 201, b.body);
        assert.equal(replayed(b), false);
        assert.notEqual((a.json() as { _id: string })._id, (b.json() as { _id: string })._id);
        const a2 = await send(s.app, 'POST', '/api/items', { by: 'someone' }, keyed('shared', alice));
        assert.equal(replayed(a2), true);
        assert.deepEqual(a2.json(), a.json());
        assert.equal(s.db.store.count('items'), 2);
      },
      { auth: { rootPassword: ROOT_PASSWORD } },
    ));
});
