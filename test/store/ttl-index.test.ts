// TTL indexes (issue #14, MongoDB's expireAfterSeconds): a document expires that many seconds
// after the time in the index's field (ms since the epoch or an ISO-8601 string); reads hide
// it at once, before the leader's sweep removes it through an ordinary log entry; the
// definition is replicated (a createIndex command) and kept in snapshots. Reads apply the TTL
// test before `limit`, so a limit of N returns N live documents when there are N.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { open } from '../../src/node/embedded-database.ts';
import { encodeSnapshotData } from '../../src/store/snapshot.ts';
import { Store } from '../../src/store/store.ts';
import { eventually } from '../cluster/harness.ts';
import { errorOf, send, startTestServer } from '../server/helpers.ts';

const HOUR_MS = 3_600_000;
const iso = (ms: number): string => new Date(ms).toISOString();

/** The documents the collection holds, expired or not (what the sweep has not removed yet). */
function storedIds(store: Store, collection: string): string[] {
  const coll = store.readTarget(collection, {}).coll();
  return coll === undefined ? [] : coll.byId.entries().map(([id]) => id);
}

describe('TTL index, embedded', () => {
  test('expired documents are hidden at once; the definition survives a snapshot and a reopen', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cs-ttl-index-'));
    try {
      // No sweep in this test (an hour between sweeps): only reads hide.
      let db = await open({ dir, ttlSweepIntervalMs: HOUR_MS });
      const events = db.collection('events');
      const spec = await events.createIndex({ at: 1 }, { expireAfterSeconds: 60 });
      assert.deepEqual(spec, { name: 'at_1', fields: [['at', 1]], unique: false, expireAfterSeconds: 60 });
      const now = Date.now();
      await events.insertMany([
        { _id: 'old-iso', at: iso(now - 61_000) }, // 61 s ago + 60 s: expired
        { _id: 'old-ms', at: now - 120_000 }, // epoch ms
        { _id: 'young', at: now - 30_000 }, // expires in 30 s
        { _id: 'no-date', at: 'soon' }, // not a time: never expires
        { _id: 'no-field' },
      ]);
      const live = ['no-date', 'no-field', 'young'];
      assert.deepEqual(
        events.find().map((d) => d._id),
        live,
      );
      assert.equal(events.count(), 3);
      assert.equal(events.get('old-iso'), null);
      assert.equal(events.findOne({ _id: 'old-ms' }), null);
      // The planner's index on `at` is the TTL index itself: the range read hides them too.
      assert.deepEqual(
        events.find({ at: { $lt: now } }).map((d) => d._id),
        ['young'],
      );
      assert.deepEqual(storedIds(db.store, 'events').sort(), ['no-date', 'no-field', 'old-iso', 'old-ms', 'young'], 'not removed yet');
      // The same definition again is the same index; another expiry is a conflict.
      assert.deepEqual(await events.createIndex({ at: 1 }, { expireAfterSeconds: 60 }), spec);
      await assert.rejects(events.createIndex({ at: 1 }, { expireAfterSeconds: 5 }), (e: Error & { code?: string }) => e.code === 'CONFLICT');
      await db.snapshot();
      await db.close();

      db = await open({ dir, ttlSweepIntervalMs: HOUR_MS });
      assert.deepEqual(db.collection('events').indexes(), [spec]);
      assert.deepEqual(
        db
          .collection('events')
          .find()
          .map((d) => d._id),
        live,
      );
      await db.close();
    } finally {
      await rm(dir, { recursive: true, force: true, maxRetries: 5 }).catch(() => {});
    }
  });

  test('a snapshot keeps expireAfterSeconds; a snapshot with a bad one is refused', () => {
    const store = new Store();
    assert.ok(store.apply({ type: 'createIndex', collection: 'c', fields: [['at', 1]], unique: false, expireAfterSeconds: 0 }, 1).ok);
    assert.ok(store.apply({ type: 'insert', collection: 'c', docs: [{ _id: 'a', at: Date.now() - 1 }] }, 2).ok);
    const restored = Store.restoreSnapshot(store.encodeSnapshot());
    // A store alone reads by its log clock; a node gives it the wall clock, as here.
    restored.useReadClock(Date.now);
    assert.equal(restored.indexes('c')[0]?.expireAfterSeconds, 0);
    assert.equal(restored.get('c', 'a'), undefined);
    assert.deepEqual(restored.ttlCollections(), ['c']);
    const data = store.captureSnapshot();
    const bad = { ...data, collections: data.collections.map((c) => ({ ...c, indexes: c.indexes.map((i) => ({ ...i, expireAfterSeconds: -1 })) })) };
    assert.throws(() => Store.restoreSnapshot(encodeSnapshotData(bad)), /expireAfterSeconds -1/);
  });

  test('a store alone reads by its log clock (the leader stamps of applied entries), never the wall clock', () => {
    const store = new Store();
    assert.ok(store.apply({ type: 'createIndex', collection: 'c', fields: [['at', 1]], unique: false, expireAfterSeconds: 10 }, 1).ok);
    assert.ok(store.apply({ type: 'insert', collection: 'c', docs: [{ _id: 'a', at: 1_000 }], timeMs: 5_000 }, 2).ok);
    // Expired long ago by any wall clock, not yet by the log's (5 s < 1 s + 10 s).
    assert.equal(store.get('c', 'a')?._id, 'a');
    assert.ok(store.apply({ type: 'noop', timeMs: 11_000 }, 3).ok);
    assert.equal(store.get('c', 'a'), undefined);
    assert.deepEqual(store.find('c', {}), []);
    store.useReadClock(() => 2_000);
    assert.equal(store.find('c', {}).length, 1, 'a node’s clock, once given, decides');
  });

  test('invalid definitions are refused at apply on every replica (VALIDATION)', () => {
    const store = new Store();
    const cases: [string, Record<string, unknown>][] = [
      ['negative', { fields: [['at', 1]], expireAfterSeconds: -1 }],
      ['fraction', { fields: [['at', 1]], expireAfterSeconds: 1.5 }],
      ['too large', { fields: [['at', 1]], expireAfterSeconds: 2 ** 31 }],
      [
        'two fields',
        {
          fields: [
            ['at', 1],
            ['b', 1],
          ],
          expireAfterSeconds: 1,
        },
      ],
      ['_id', { fields: [['_id', 1]], expireAfterSeconds: 1 }],
    ];
    let index = 0;
    for (const [what, fields] of cases) {
      const result = store.apply({ type: 'createIndex', collection: 'c', unique: false, ...fields } as never, ++index);
      assert.equal(result.ok ? 'ok' : result.error.code, 'VALIDATION', what);
    }
    assert.deepEqual(store.indexes('c'), []);
  });

  test('the sweep removes expired documents through ordinary log entries', async () => {
    const db = await open({ memory: true, ttlSweepIntervalMs: 50 });
    try {
      const tokens = db.collection('tokens', { schema: { type: 'object' }, trackHistory: true });
      await tokens.createIndex({ issuedAt: 1 }, { expireAfterSeconds: 1 });
      await tokens.insert({ _id: 'old', issuedAt: Date.now() - 5_000 });
      await tokens.insert({ _id: 'new', issuedAt: Date.now() + HOUR_MS });
      const before = db.info().lastLogIndex;
      await eventually('swept', async () => (storedIds(db.store, 'tokens').join() === 'new' ? true : undefined), 5_000);
      assert.ok(db.info().lastLogIndex > before, 'removed by a log entry');
      assert.deepEqual(
        tokens.history('old').map((e) => e.eventType),
        ['Created', 'Deleted'],
      );
      assert.equal(tokens.get('new')?._id, 'new');
    } finally {
      await db.close();
    }
  });

  test('a model may declare a TTL index', async () => {
    const db = await open({ memory: true, ttlSweepIntervalMs: HOUR_MS });
    try {
      const c = db.collection('m', { schema: { type: 'object' }, indexes: [{ fields: [['at', 1]], expireAfterSeconds: 10 }] });
      await c.insert({ _id: 'x', at: Date.now() - 11_000 });
      assert.equal(c.get('x'), null);
      assert.equal(c.indexes()[0]?.expireAfterSeconds, 10);
    } finally {
      await db.close();
    }
  });
});

describe('reads drop expired documents before the limit', () => {
  test('find, findOne and count with limit, sort, skip and an index count live documents only', async () => {
    const db = await open({ memory: true, ttlSweepIntervalMs: HOUR_MS });
    try {
      const c = db.collection('c');
      await c.createIndex({ at: 1 }, { expireAfterSeconds: 0 });
      await c.createIndex({ rank: 1 });
      const now = Date.now();
      // d0..d9 in _id order: the first six expired, so a walk in _id order meets them first.
      await c.insertMany(Array.from({ length: 10 }, (_, i) => ({ _id: `d${i}`, rank: i, at: i < 6 ? now - 1_000 : now + HOUR_MS })));
      assert.deepEqual(
        c.find({}, { limit: 3 }).map((d) => d._id),
        ['d6', 'd7', 'd8'],
      );
      assert.deepEqual(
        c.find({}, { limit: 3, sort: { rank: 1 } }).map((d) => d._id),
        ['d6', 'd7', 'd8'],
      );
      assert.deepEqual(
        c.find({ rank: { $gte: 0 } }, { limit: 2, skip: 1 }).map((d) => d._id),
        ['d7', 'd8'],
      );
      assert.equal(c.findOne({})?._id, 'd6');
      assert.equal(c.count({ rank: { $lt: 8 } }), 2);
      assert.equal(c.find({}, { limit: 10 }).length, 4);
    } finally {
      await db.close();
    }
  });
});

describe('TTL index over HTTP', () => {
  test('POST _indexes with expireAfterSeconds; expired documents are hidden from every read route, limit included', async () => {
    const server = await startTestServer();
    try {
      const { app } = server;
      const created = await send(app, 'POST', '/api/events/_indexes', { fields: { at: 1 }, expireAfterSeconds: 30 });
      assert.equal(created.statusCode, 201, created.body);
      assert.deepEqual(created.json(), { name: 'at_1', fields: [['at', 1]], unique: false, expireAfterSeconds: 30 });
      assert.deepEqual((await send(app, 'GET', '/api/events/_indexes')).json(), [created.json()]);
      for (const body of [
        { fields: { at: 1 }, expireAfterSeconds: -5 },
        { fields: { at: 1 }, expireAfterSeconds: 'soon' },
        { fields: { at: 1, b: 1 }, expireAfterSeconds: 5 },
        { fields: { _id: 1 }, expireAfterSeconds: 5 },
      ]) {
        const res = await send(app, 'POST', '/api/other/_indexes', body);
        assert.equal(res.statusCode, 400, JSON.stringify(body));
        assert.equal(errorOf(res).code, 'VALIDATION');
      }
      const now = Date.now();
      const docs = Array.from({ length: 8 }, (_, i) => ({ _id: `e${i}`, at: i < 5 ? iso(now - 31_000) : iso(now) }));
      assert.equal((await send(app, 'POST', '/api/events', docs)).statusCode, 201);
      assert.equal((await send(app, 'GET', '/api/events/e0')).statusCode, 404);
      assert.equal((await send(app, 'GET', '/api/events/e5')).statusCode, 200);
      const page = await send(app, 'GET', '/api/events?limit=2');
      assert.deepEqual(
        page.json<{ _id: string }[]>().map((d) => d._id),
        ['e5', 'e6'],
      );
      // The next page (keyset cursor) goes on with live documents only.
      const cursor = page.headers['next-cursor'];
      assert.equal(typeof cursor, 'string');
      const next = await send(app, 'GET', `/api/events?limit=2&cursor=${encodeURIComponent(String(cursor))}`);
      assert.deepEqual(
        next.json<{ _id: string }[]>().map((d) => d._id),
        ['e7'],
      );
      const query = await send(app, 'POST', '/api/events/_query', { filter: {}, limit: 3, sort: { at: -1, _id: 1 } });
      assert.deepEqual(
        query.json<{ _id: string }[]>().map((d) => d._id),
        ['e5', 'e6', 'e7'],
      );
      const count = await send(app, 'POST', '/api/events/_count', { filter: {} });
      assert.equal(count.json<{ count: number }>().count, 3);
    } finally {
      await server.close();
    }
  });
});
