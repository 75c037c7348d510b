// Updates by filter checked against the collection's model before proposing (issue #14,
// src/server/update-precheck.ts): `POST /api/:collection/_update` and a transaction's update
// ops that would make documents invalid are refused with 400 VALIDATION_FAILED naming every
// failing document, path and rule, and propose no log entry (the log's last index does not
// move); past UPDATE_PRECHECK_DOCS_MAX matches, and for a transaction's update after an op on
// the same collection, apply alone validates (one log entry, the same refusal, nothing
// written); the pre-check takes turns with the event loop.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { UPDATE_PRECHECK_DOCS_MAX, UPDATE_PRECHECK_FAILURES_LISTED_MAX, updateFailure } from '../../src/server/update-precheck.ts';
import { READ_SLICE_MS, turns } from '../../src/server/loop-turns.ts';
import type { JsonObject } from '../../src/store/types.ts';
import { WRITE_DOCS_CHANGED_MAX } from '../../src/store/commands.ts';
import { open } from '../../src/index.ts';
import { EmbeddedBackend } from '../../src/node/embedded-backend.ts';
import { createServer } from '../../src/server/index.ts';
import { errorOf, send, startTestServer, type TestServer } from './helpers.ts';

const PRODUCT: JsonObject = {
  type: 'object',
  properties: {
    name: { type: 'string', minLength: 1 },
    price: { type: 'number', minimum: 0.01 },
    stock: { type: 'integer', minimum: 0, default: 0 },
  },
  required: ['name', 'price'],
};

describe('updates by filter: an update that makes a document invalid proposes no log entry', () => {
  let server: TestServer;
  const lastIndex = (): number => server.db.info().lastLogIndex;
  const price = (id: string): unknown => server.db.store.get('products', id)?.['price'];

  before(async () => {
    server = await startTestServer();
    assert.equal((await send(server.app, 'PUT', '/api/products/_schema', { schema: PRODUCT })).statusCode, 200);
    const docs = [
      { _id: 'a', name: 'A', price: 1, cheap: true },
      { _id: 'b', name: 'B', price: 2, cheap: true },
      { _id: 'c', name: 'C', price: 3 },
    ];
    assert.equal((await send(server.app, 'POST', '/api/products', docs)).statusCode, 201);
  });
  after(async () => server?.close());

  test('_update with multi: every failing document is named with its path and rule', async () => {
    const before = lastIndex();
    const res = await send(server.app, 'POST', '/api/products/_update', {
      filter: { cheap: true },
      update: { $set: { price: 0 }, $unset: { name: '' } },
      multi: true,
    });
    assert.equal(res.statusCode, 400, res.body);
    const error = errorOf(res);
    assert.equal(error.code, 'VALIDATION_FAILED');
    assert.match(error.message, /2 documents/);
    for (const id of ['a', 'b'])
      assert.match(error.message, new RegExp(`document "${id}" [^|]*property 'name' \\(required\\)[^|]*/price must be >= 0.01 \\(minimum\\)`));
    assert.doesNotMatch(error.message, /document "c"/);
    assert.equal(lastIndex(), before, 'no entry proposed');
    assert.deepEqual([price('a'), price('b'), price('c')], [1, 2, 3], 'nothing written');
  });

  test('_update of one document and an upsert that would create an invalid one', async () => {
    const before = lastIndex();
    const one = await send(server.app, 'POST', '/api/products/_update', { filter: { name: 'C' }, update: { $inc: { price: -10 } } });
    assert.equal(one.statusCode, 400, one.body);
    assert.match(errorOf(one).message, /^document "c" does not match the schema of "products": \/price/);
    const upsert = await send(server.app, 'POST', '/api/products/_update', {
      filter: { name: 'New' },
      update: { $set: { price: -1 } },
      upsert: true,
    });
    assert.equal(upsert.statusCode, 400, upsert.body);
    assert.match(errorOf(upsert).message, /\/price must be >= 0.01/);
    assert.equal(lastIndex(), before, 'no entry proposed');
    assert.equal(price('c'), 3);
  });

  test("a transaction's update op is checked too, and names its op", async () => {
    const before = lastIndex();
    const res = await send(server.app, 'POST', '/api/_tx', {
      ops: [
        { op: 'insert', collection: 'other', doc: { x: 1 } },
        { op: 'update', collection: 'products', filter: { cheap: true }, update: { $set: { price: -5 } }, multi: true },
      ],
    });
    assert.equal(res.statusCode, 400, res.body);
    const error = errorOf(res);
    assert.equal(error.code, 'VALIDATION_FAILED');
    assert.match(error.message, /^transaction op 1: .*document "a".*document "b"/);
    assert.equal(lastIndex(), before, 'no entry proposed');
    assert.equal(server.db.store.count('other', {}), 0);
  });

  test("a transaction's update after an op on the same collection is left to apply: refused the same, nothing written", async () => {
    const before = lastIndex();
    const res = await send(server.app, 'POST', '/api/_tx', {
      ops: [
        { op: 'insert', collection: 'products', doc: { _id: 'd', name: 'D', price: 4 } },
        { op: 'update', collection: 'products', filter: { _id: 'd' }, update: { $set: { price: 0 } } },
      ],
    });
    assert.equal(res.statusCode, 400, res.body);
    assert.match(errorOf(res).message, /^transaction op 1: document "d" .*\/price/);
    assert.equal(lastIndex(), before + 1, 'apply decided it');
    assert.equal(server.db.store.get('products', 'd'), undefined);
  });

  test('valid updates are proposed and applied with defaults and coercion', async () => {
    const before = lastIndex();
    const res = await send(server.app, 'POST', '/api/products/_update', { filter: { cheap: true }, update: { $set: { stock: '4' } }, multi: true });
    assert.equal(res.statusCode, 200, res.body);
    assert.deepEqual(res.json(), { matched: 2, modified: 2 });
    assert.equal(lastIndex(), before + 1);
    assert.equal(server.db.store.get('products', 'a')?.['stock'], 4);
    const tx = await send(server.app, 'POST', '/api/_tx', {
      ops: [{ op: 'update', collection: 'products', filter: { _id: 'c' }, update: { $set: { price: '9' } } }],
    });
    assert.equal(tx.statusCode, 200, tx.body);
    assert.equal(price('c'), 9);
  });
});

describe('updates by filter: the bound and the event loop', () => {
  let server: TestServer;
  const lastIndex = (): number => server.db.info().lastLogIndex;
  const MANY = UPDATE_PRECHECK_DOCS_MAX + 1;

  before(async () => {
    server = await startTestServer();
    assert.equal((await send(server.app, 'PUT', '/api/products/_schema', { schema: PRODUCT })).statusCode, 200);
    const docs = Array.from({ length: MANY }, (_, i) => ({ _id: `p${String(i).padStart(6, '0')}`, name: `P${i}`, price: 1, many: true }));
    for (let i = 0; i < docs.length; i += 2_000) await server.db.collection('products').insertMany(docs.slice(i, i + 2_000));
  });
  after(async () => server?.close());

  test('past UPDATE_PRECHECK_DOCS_MAX (WRITE_DOCS_CHANGED_MAX) matching documents, the update is refused as apply would: no entry, nothing written', async () => {
    assert.equal(UPDATE_PRECHECK_DOCS_MAX, WRITE_DOCS_CHANGED_MAX);
    const before = lastIndex();
    const res = await send(server.app, 'POST', '/api/products/_update', { filter: { many: true }, update: { $set: { price: 0 } }, multi: true });
    assert.equal(res.statusCode, 400, res.body);
    assert.equal(errorOf(res).code, 'VALIDATION');
    assert.match(errorOf(res).message, /at most 1000 documents \(WRITE_DOCS_CHANGED_MAX\)/);
    assert.equal(lastIndex(), before, 'nothing proposed');
    assert.equal(server.db.store.count('products', { price: 0 }), 0);
    // Apply refuses it too, whoever proposes it (the embedded API checks no model before).
    await assert.rejects(server.db.collection('products').update({ many: true }, { $set: { price: 2 } }, { multi: true }), /WRITE_DOCS_CHANGED_MAX/);
    assert.equal(server.db.store.count('products', { price: 2 }), 0);
  });

  test('at UPDATE_PRECHECK_DOCS_MAX documents the pre-check refuses, in slices that take turns with the event loop', async () => {
    const filter = { many: true, _id: { $ne: 'p000000' } };
    const before = lastIndex();
    // The turns the check waits for (loop-turns.ts): between two, the loop runs its timers and
    // I/O. Counted against the CPU time the check used (not wall time: a machine shared with
    // other work may stop this process for longer than any slice).
    const nextTurn = turns.next.bind(turns);
    let turnsTaken = 0;
    turns.next = () => {
      turnsTaken++;
      return nextTurn();
    };
    const cpuBefore = process.cpuUsage();
    let failure;
    try {
      failure = await updateFailure(server.db.store, {
        type: 'update',
        collection: 'products',
        filter,
        update: { $set: { price: 0 } },
        multi: true,
        upsert: false,
      });
    } finally {
      turns.next = nextTurn;
    }
    const cpu = process.cpuUsage(cpuBefore);
    const cpuMs = (cpu.user + cpu.system) / 1000;
    assert.equal(failure?.code, 'VALIDATION_FAILED');
    assert.match(
      failure.message,
      new RegExp(
        `the update would make ${UPDATE_PRECHECK_DOCS_MAX} documents .*and ${UPDATE_PRECHECK_DOCS_MAX - UPDATE_PRECHECK_FAILURES_LISTED_MAX} more`,
      ),
    );
    assert.equal(lastIndex(), before);
    // The check's work (~60 to 100 ms of CPU here for 1,000 documents) is cut into slices of
    // READ_SLICE_MS: at least one turn per 4 slices of CPU, leaving room for GC threads' time.
    // Unsliced, it takes only the read's few turns (4 for 725 ms of 10,000 documents when tried).
    assert.ok(cpuMs > 10 * READ_SLICE_MS, `the check used ${cpuMs.toFixed(1)} ms of CPU: too little to measure slicing`);
    assert.ok(turnsTaken >= cpuMs / (4 * READ_SLICE_MS), `${turnsTaken} turns for ${cpuMs.toFixed(1)} ms of CPU`);
    console.log(`pre-check of ${UPDATE_PRECHECK_DOCS_MAX} documents: ${turnsTaken} turns for ${cpuMs.toFixed(1)} ms of CPU`);

    const res = await send(server.app, 'POST', '/api/products/_update', { filter, update: { $set: { price: 0 } }, multi: true });
    assert.equal(res.statusCode, 400, res.body);
    assert.equal(lastIndex(), before, 'no entry proposed');
  });
});

describe('updates by filter in a collection whose documents expire', () => {
  test('an update of one document goes to apply, which still matches an expired document before the sweep', async () => {
    // No sweep during the test: the expired document stays stored, invisible to reads.
    const db = await open({ memory: true, ttlSweepIntervalMs: 3_600_000 });
    const app = await createServer({ backend: new EmbeddedBackend(db, 'http://127.0.0.1:0') });
    try {
      const schema = await send(app, 'PUT', '/api/sessions/_schema', { schema: PRODUCT, options: { ttlField: 'expireAt' } });
      assert.equal(schema.statusCode, 200, schema.body);
      const docs = [
        { _id: 'a', name: 'A', price: 5, expireAt: Date.now() - 60_000 },
        { _id: 'b', name: 'B', price: 1, expireAt: Date.now() + 3_600_000 },
      ];
      assert.equal((await send(app, 'POST', '/api/sessions', docs)).statusCode, 201);
      assert.deepEqual(
        (await send(app, 'GET', '/api/sessions')).json<{ _id: string }[]>().map((d) => d._id),
        ['b'],
      );
      // A read finds only "b", for which the update is invalid; apply updates "a", the first
      // stored match, for which it is valid: a pre-check on the read would refuse wrongly.
      const res = await send(app, 'POST', '/api/sessions/_update', { filter: {}, update: { $inc: { price: -1 } } });
      assert.equal(res.statusCode, 200, res.body);
      assert.deepEqual(res.json(), { matched: 1, modified: 1 });
      // Many documents: a failure among those read is one apply meets too, so it is refused.
      const before = db.info().lastLogIndex;
      const many = await send(app, 'POST', '/api/sessions/_update', { filter: {}, update: { $inc: { price: -1 } }, multi: true });
      assert.equal(many.statusCode, 400, many.body);
      assert.match(errorOf(many).message, /document "b"/);
      assert.equal(db.info().lastLogIndex, before);
    } finally {
      await app.close();
      await db.close();
    }
  });
});
