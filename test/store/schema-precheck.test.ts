// Validation before proposing (issue #14): a write whose document fails its collection's model
// is refused with 400 VALIDATION_FAILED and no log entry is proposed (the log's last index
// does not move), over HTTP (inserts, replaces, updates, transactions, keyed writes) and
// embedded (insert, replace, update, db.transaction()); a failed If-Match still answers 412; and a node whose
// model is behind asks a linearizable read point before refusing (src/server/model-precheck.ts).
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import assert from 'node:assert/strict';
import { open } from '../../src/node/embedded-database.ts';
import { refuseInvalidDocuments } from '../../src/server/model-precheck.ts';
import { Store } from '../../src/store/store.ts';
import { MAX_BATCH_DOCS, WRITE_DOCS_CHANGED_MAX, type Command } from '../../src/store/commands.ts';
import type { JsonObject } from '../../src/store/types.ts';
import { errorOf, send, startTestServer, type TestServer } from '../server/helpers.ts';

const PRODUCT: JsonObject = {
  type: 'object',
  properties: {
    name: { type: 'string', minLength: 1 },
    price: { type: 'number', minimum: 0.01 },
    stock: { type: 'integer', minimum: 0, default: 0 },
  },
  required: ['name', 'price'],
};

describe('HTTP: an invalid document proposes no log entry', () => {
  let server: TestServer;
  const lastIndex = (): number => server.db.info().lastLogIndex;

  before(async () => {
    server = await startTestServer();
    const set = await send(server.app, 'PUT', '/api/products/_schema', { schema: PRODUCT });
    assert.equal(set.statusCode, 200, set.body);
    const pen = await send(server.app, 'PUT', '/api/products/pen', { name: 'Pen', price: '1.5' });
    assert.equal(pen.statusCode, 201, pen.body);
    assert.deepEqual(pen.json(), { _id: 'pen', _rev: pen.json<{ _rev: number }>()._rev, name: 'Pen', price: 1.5, stock: 0 });
  });
  after(async () => server?.close());

  const refusals: [string, string, string, unknown, Record<string, string>?][] = [
    ['insert', 'POST', '/api/products', { name: '', price: 0 }],
    [
      'insert of many',
      'POST',
      '/api/products',
      [
        { name: 'A', price: 1 },
        { name: 'B', price: -1 },
      ],
    ],
    ['replace', 'PUT', '/api/products/pen', { name: 'Pen', price: 'free' }],
    ['replace creating', 'PUT', '/api/products/new', { price: 2 }],
    ['update', 'PATCH', '/api/products/pen', { $set: { price: -3 } }],
    ['update that unsets a required field', 'PATCH', '/api/products/pen', { $unset: { name: '' } }],
    [
      'transaction',
      'POST',
      '/api/_tx',
      {
        ops: [
          { op: 'insert', collection: 'other', doc: { x: 1 } },
          { op: 'insert', collection: 'products', doc: { name: 'T' } },
        ],
      },
    ],
    ['keyed insert', 'POST', '/api/products', { name: 'K', price: 0 }, { 'idempotency-key': 'precheck-1' }],
  ];
  for (const [what, method, url, body, headers] of refusals) {
    test(`${what}: 400 VALIDATION_FAILED, the log's last index unchanged`, async () => {
      const before = lastIndex();
      const res = await send(server.app, method as 'POST', url, body, headers);
      assert.equal(res.statusCode, 400, res.body);
      const error = errorOf(res);
      assert.equal(error.code, 'VALIDATION_FAILED');
      assert.match(error.message, /\/(name|price)|required/);
      assert.equal(lastIndex(), before, 'no entry proposed');
      assert.equal(server.db.store.get('products', 'pen')?.['price'], 1.5, 'nothing written');
    });
  }

  test('the failing paths and rules are all named, and the transaction names its op', async () => {
    const res = await send(server.app, 'POST', '/api/products', { name: '', price: 0 });
    assert.match(errorOf(res).message, /\/name .*minLength.*\/price .*minimum/);
    const tx = await send(server.app, 'POST', '/api/_tx', {
      ops: [{ op: 'replace', collection: 'products', id: 'pen', doc: { name: 'P', price: 0 } }],
    });
    assert.match(errorOf(tx).message, /^transaction op 0: .*\/price/);
  });

  test('a failed If-Match is still 412 (apply answers it before validating), and proposes nothing either way', async () => {
    const res = await send(server.app, 'PATCH', '/api/products/pen', { $set: { price: -1 } }, { 'if-match': '"999"' });
    assert.equal(res.statusCode, 412, res.body);
  });

  test('valid writes are proposed and stored with defaults and coercion, as apply made them', async () => {
    const before = lastIndex();
    const res = await send(server.app, 'POST', '/api/products', { name: 'Ink', price: '2' });
    assert.equal(res.statusCode, 201, res.body);
    assert.deepEqual({ ...res.json<JsonObject>(), _id: 'x', _rev: 0 }, { _id: 'x', _rev: 0, name: 'Ink', price: 2, stock: 0 });
    assert.ok(lastIndex() > before);
    const patched = await send(server.app, 'PATCH', '/api/products/pen', { $set: { stock: '7' } });
    assert.equal(patched.statusCode, 200, patched.body);
    assert.equal(patched.json<JsonObject>()['stock'], 7);
  });

  test('a keyed write whose key already has a result replays it, even when the document now fails', async () => {
    const headers = { 'idempotency-key': 'precheck-2' };
    const first = await send(server.app, 'PUT', '/api/products/cup', { name: 'Cup', price: 3 }, headers);
    assert.equal(first.statusCode, 201, first.body);
    // A stricter model: the recorded key's retry still answers its first result.
    const strict = await send(
      server.app,
      'PUT',
      '/api/products/_schema',
      { schema: { ...PRODUCT, properties: { ...(PRODUCT['properties'] as JsonObject), price: { type: 'number', minimum: 5 } } }, options: {} },
      {},
    );
    assert.equal(strict.statusCode, 400, 'existing documents fail the stricter schema');
    const forced = await send(server.app, 'PUT', '/api/products/_schema?force=true', {
      schema: { ...PRODUCT, properties: { ...(PRODUCT['properties'] as JsonObject), price: { type: 'number', minimum: 5 } } },
    });
    assert.equal(forced.statusCode, 200, forced.body);
    const retry = await send(server.app, 'PUT', '/api/products/cup', { name: 'Cup', price: 3 }, headers);
    assert.equal(retry.statusCode, 201, retry.body);
    assert.equal(retry.headers['idempotent-replayed'], 'true');
    const other = await send(server.app, 'PUT', '/api/products/mug', { name: 'Mug', price: 3 }, { 'idempotency-key': 'precheck-3' });
    assert.equal(other.statusCode, 400, other.body);
    assert.equal(other.headers['idempotent-replayed'], 'false');
  });
});

describe('embedded: an invalid document proposes no log entry', () => {
  test('insert, replace, update and upsert are refused before proposing', async () => {
    const db = await open({ memory: true });
    try {
      const products = db.collection('products', { schema: PRODUCT });
      const pen = await products.insert({ name: 'Pen', price: '1.5' });
      assert.equal(pen['stock'], 0);
      const before = db.info().lastLogIndex;
      const attempts: [string, () => Promise<unknown>][] = [
        ['insert', () => products.insert({ name: 'X', price: 0 })],
        ['replace', () => products.replace(pen._id, { name: 'Pen', price: -1 })],
        ['update', () => products.update({ _id: pen._id }, { $inc: { stock: -1 } })],
        ['update of many', () => products.update({}, { $set: { name: '' } }, { multi: true })],
        ['upsert', () => products.update({ _id: 'new' }, { $set: { price: 1 } }, { upsert: true })],
        [
          'transaction',
          () =>
            db.transaction((tx) => {
              const inTx = tx.collection('products');
              inTx.insert({ name: 'Fine', price: 2 });
              inTx.insert({ name: 'Free', price: 0 });
            }),
        ],
      ];
      for (const [what, attempt] of attempts) {
        await assert.rejects(attempt(), (e: Error & { code?: string }) => e.code === 'VALIDATION_FAILED', what);
        assert.equal(db.info().lastLogIndex, before, `${what}: no entry proposed`);
      }
      assert.deepEqual(products.get(pen._id), pen, 'nothing written');
      await products.update({ _id: pen._id }, { $inc: { stock: 2 } });
      assert.equal(db.info().lastLogIndex, before + 1);
      assert.equal(products.get(pen._id)?.['stock'], 2);
    } finally {
      await db.close();
    }
  });
});

describe('embedded: an update over WRITE_DOCS_CHANGED_MAX proposes no log entry', () => {
  test('refused with VALIDATION before proposing, as apply would refuse it; one at the limit is made', async () => {
    const db = await open({ memory: true });
    try {
      const products = db.collection('products', { schema: PRODUCT });
      const docs = Array.from({ length: WRITE_DOCS_CHANGED_MAX + 1 }, (_, i) => ({ name: `P${i}`, price: 1, n: i }));
      for (let i = 0; i < docs.length; i += MAX_BATCH_DOCS) await products.insertMany(docs.slice(i, i + MAX_BATCH_DOCS));
      const before = db.info().lastLogIndex;
      await assert.rejects(
        products.update({}, { $inc: { stock: 1 } }, { multi: true }),
        (e: Error & { code?: string }) => e.code === 'VALIDATION' && /WRITE_DOCS_CHANGED_MAX/.test(e.message),
      );
      assert.equal(db.info().lastLogIndex, before, 'no entry proposed');
      assert.equal(products.count({ stock: 1 }), 0, 'nothing changed');
      const done = await products.update({ n: { $lt: WRITE_DOCS_CHANGED_MAX } }, { $inc: { stock: 1 } }, { multi: true });
      assert.equal(db.info().lastLogIndex, before + 1);
      assert.equal(products.count({ stock: 1 }), WRITE_DOCS_CHANGED_MAX, JSON.stringify(done));
    } finally {
      await db.close();
    }
  });
});

describe('a node whose model is behind asks a read point before refusing', () => {
  const insert: Command = { type: 'insert', collection: 'products', docs: [{ _id: 'a', name: 'A', price: 3 }] };

  function storeWith(minimum: number): Store {
    const store = new Store();
    const schema = { ...PRODUCT, properties: { ...(PRODUCT['properties'] as JsonObject), price: { type: 'number', minimum } } };
    const result = store.apply({ type: 'setSchema', collection: 'products', schema, options: {}, force: false }, 1);
    assert.ok(result.ok);
    return store;
  }

  /** A backend whose store is `stale` until its read barrier, `fresh` after. */
  function laggingBackend(stale: Store, fresh: Store): { store: Store; barriers: number; readBarrier(): Promise<void> } {
    const backend = {
      store: stale,
      barriers: 0,
      async readBarrier(): Promise<void> {
        backend.barriers++;
        backend.store = fresh;
      },
    };
    return backend;
  }

  test('stale model refuses, the read point accepts: the write goes on (proposed)', async () => {
    const backend = laggingBackend(storeWith(5), storeWith(0.01));
    await refuseInvalidDocuments(backend, insert, undefined);
    assert.equal(backend.barriers, 1);
  });

  test('refused at the read point too: VALIDATION_FAILED', async () => {
    const backend = laggingBackend(storeWith(5), storeWith(4));
    await assert.rejects(refuseInvalidDocuments(backend, insert, undefined), (e: Error & { code?: string }) => e.code === 'VALIDATION_FAILED');
    assert.equal(backend.barriers, 1);
  });

  test('a valid write costs no read point', async () => {
    const backend = laggingBackend(storeWith(1), storeWith(1));
    await refuseInvalidDocuments(backend, insert, undefined);
    assert.equal(backend.barriers, 0);
  });
});

describe('the check before proposing answers what apply answers', () => {
  test('property: modelFailure(command) is apply’s VALIDATION_FAILED, message and all', () => {
    const value = fc.oneof(fc.constantFrom('', 'a', 'Pen', '2', 'x', -1, 0, 0.001, 1, 2.5, 7, true, null), fc.integer({ min: -3, max: 3 }));
    const doc = fc.record({ name: value, price: value, stock: value }, { requiredKeys: [] });
    const id = fc.constantFrom('p1', 'p2', 'p3');
    const command = fc.oneof(
      fc.record({ type: fc.constant('insert' as const), docs: fc.array(fc.tuple(id, doc), { minLength: 1, maxLength: 3 }) }).map((c) => ({
        type: c.type,
        collection: 'products',
        // Distinct new ids: a duplicate key is apply's CONFLICT, not this test's subject.
        docs: c.docs.map(([, d], i) => ({ ...d, _id: `n${i}-${Math.random().toString(36).slice(2)}` })),
      })),
      fc
        .record({ id, doc, upsert: fc.boolean() })
        .map((c) => ({ type: 'replace' as const, collection: 'products', id: c.id, doc: c.doc, upsert: c.upsert })),
      fc
        .record({
          byId: fc.option(id, { nil: undefined }),
          set: doc,
          inc: fc.option(fc.integer({ min: -3, max: 3 }), { nil: undefined }),
          unsetName: fc.boolean(),
          multi: fc.boolean(),
          upsert: fc.boolean(),
        })
        .map((c) => {
          const update: Record<string, unknown> = {};
          if (Object.keys(c.set).length > 0) update['$set'] = c.set;
          if (c.inc !== undefined) update['$inc'] = { stock: c.inc };
          if (c.unsetName) update['$unset'] = { name: '' };
          if (Object.keys(update).length === 0) update['$set'] = { stock: 1 };
          return {
            type: 'update' as const,
            collection: 'products',
            filter: c.byId === undefined ? {} : { _id: c.byId },
            update,
            multi: c.multi,
            upsert: c.upsert,
            upsertId: 'u1',
          };
        }),
    );
    const seen = { refused: 0, applied: 0, otherErrors: 0 };
    fc.assert(
      fc.property(fc.array(command, { minLength: 1, maxLength: 12, size: 'max' }), (commands) => {
        const store = new Store();
        assert.ok(store.apply({ type: 'setSchema', collection: 'products', schema: PRODUCT, options: {}, force: false }, 1).ok);
        assert.ok(
          store.apply(
            {
              type: 'insert',
              collection: 'products',
              docs: [
                { _id: 'p1', name: 'A', price: 1 },
                { _id: 'p2', name: 'B', price: 2, stock: 3 },
              ],
            },
            2,
          ).ok,
        );
        let index = 2;
        for (const c of commands) {
          const failure = store.modelFailure(c as Command);
          const result = store.apply(c as Command, ++index);
          const outcome = result.ok ? 'ok' : `${result.error.code}: ${result.error.message}`;
          if (failure !== undefined) {
            seen.refused++;
            assert.equal(outcome, `VALIDATION_FAILED: ${failure.message}`, JSON.stringify(c));
          } else {
            assert.ok(!outcome.startsWith('VALIDATION_FAILED'), `${JSON.stringify(c)} passed the check, apply said ${outcome}`);
            if (result.ok) seen.applied++;
            else seen.otherErrors++;
          }
        }
      }),
      { numRuns: 300 },
    );
    // Both sides were exercised (else the property proves little).
    assert.ok(seen.refused > 100 && seen.applied > 100 && seen.otherErrors > 0, JSON.stringify(seen));
  });
});
