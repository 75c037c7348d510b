import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { errorOf, send, startTestServer, type TestServer } from './helpers.ts';

describe('POST /api/_tx', () => {
  let s: TestServer;
  let revA = 0;
  before(async () => {
    s = await startTestServer();
    const res = await send(s.app, 'POST', '/api/accounts', [
      { _id: 'a', balance: 10 },
      { _id: 'b', balance: 0 },
      { _id: 'old', balance: 0 },
    ]);
    revA = res.json()[0]._rev;
  });
  after(async () => {
    await s.close();
  });

  const snapshot = (): unknown => s.db.store.find('accounts');

  test('applies every op kind atomically and returns one result per op', async () => {
    const res = await send(s.app, 'POST', '/api/_tx', {
      ops: [
        { op: 'insert', collection: 'accounts', doc: { _id: 'c', balance: 0 } },
        { op: 'update', collection: 'accounts', filter: { _id: 'a' }, update: { $inc: { balance: -5 } }, multi: false, upsert: false },
        { op: 'replace', collection: 'accounts', id: 'b', doc: { balance: 5 } },
        { op: 'remove', collection: 'accounts', filter: { _id: 'old' }, multi: false },
        { op: 'insert', collection: 'log', doc: { what: 'transfer' } },
      ],
      if: [
        { collection: 'accounts', id: 'a', rev: revA },
        { collection: 'accounts', id: 'c', exists: false },
        { collection: 'accounts', filter: { balance: { $lt: 0 } }, count: 0 },
      ],
    });
    assert.equal(res.statusCode, 200, res.body);
    const { results } = res.json();
    assert.equal(results.length, 5);
    assert.equal(results[0]._id, 'c');
    assert.deepEqual(results[1], { matched: 1, modified: 1 });
    assert.deepEqual(results[2], { _id: 'b', _rev: results[2]._rev, balance: 5 });
    assert.deepEqual(results[3], { removed: 1 });
    assert.equal(typeof results[4]._id, 'string', 'an insert without _id gets one');
    assert.equal(s.db.store.get('accounts', 'a')?.['balance'], 5);
    assert.equal(s.db.store.get('accounts', 'old'), undefined);
    assert.equal(s.db.store.count('log'), 1);
  });

  const failing: [string, object][] = [
    ['rev', { collection: 'accounts', id: 'a', rev: 1 }],
    ['rev 0 (absent)', { collection: 'accounts', id: 'a', rev: 0 }],
    ['exists: false', { collection: 'accounts', id: 'a', exists: false }],
    ['exists: true', { collection: 'accounts', id: 'zz', exists: true }],
    ['count', { collection: 'accounts', filter: { balance: { $gte: 0 } }, count: 99 }],
  ];
  for (const [kind, precondition] of failing) {
    test(`a failed ${kind} precondition is a 409 and applies nothing`, async () => {
      const before = snapshot();
      const res = await send(s.app, 'POST', '/api/_tx', {
        ops: [
          { op: 'insert', collection: 'accounts', doc: { _id: 'never' } },
          { op: 'update', collection: 'accounts', filter: {}, update: { $set: { touched: true } }, multi: true },
        ],
        if: [{ collection: 'accounts', id: 'b', exists: true }, precondition],
      });
      assert.equal(res.statusCode, 409, res.body);
      assert.match(errorOf(res).code, /^(CONFLICT|PRECONDITION_FAILED)$/);
      assert.deepEqual(snapshot(), before);
    });
  }

  test('a failing op rolls back the earlier ops (duplicate key: 409)', async () => {
    const before = snapshot();
    const res = await send(s.app, 'POST', '/api/_tx', {
      ops: [
        { op: 'update', collection: 'accounts', filter: { _id: 'a' }, update: { $set: { balance: 1000 } } },
        { op: 'insert', collection: 'accounts', doc: { _id: 'b' } },
      ],
    });
    assert.equal(res.statusCode, 409);
    assert.deepEqual(snapshot(), before);
  });

  test('malformed transactions are a 400 and apply nothing', async () => {
    const before = snapshot();
    const bad: unknown[] = [
      {},
      { ops: 'x' },
      { ops: [{ op: 'drop', collection: 'accounts' }] },
      { ops: [{ op: 'insert', collection: 'accounts', doc: { $x: 1 } }] },
      { ops: [{ op: 'insert', collection: 'accounts', doc: { _id: 'n' }, extra: 1 }] },
      { ops: [{ op: 'update', collection: 'accounts', filter: {}, update: { balance: 1 } }] },
      { ops: [{ op: 'replace', collection: 'accounts', id: 'a', doc: { _id: 'b' } }] },
      { ops: [{ op: 'remove', collection: '_x', filter: {} }] },
      { ops: [], if: [{ collection: 'accounts', id: 'a' }] },
      { ops: [], if: [{ collection: 'accounts', id: 'a', rev: -1 }] },
      { ops: [], if: 'x' },
      { ops: [], extra: true },
    ];
    for (const body of bad) {
      const res = await send(s.app, 'POST', '/api/_tx', body);
      assert.equal(res.statusCode, 400, JSON.stringify(body));
    }
    assert.deepEqual(snapshot(), before);
  });
});
