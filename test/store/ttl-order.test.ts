// The sweep's view of a TTL collection (Store.expiredDocuments): expired documents in order of
// expiry, earliest first, found without walking the collection, so an expired document is
// never starved by live ones ahead of it in `_id` order; the order is kept through inserts,
// updates, replaces, removes, rollbacks, changes of the rules and snapshot restores.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Store } from '../../src/store/store.ts';
import type { Collection } from '../../src/store/collection.ts';
import type { CreateIndexCommand, SetSchemaCommand } from '../../src/store/commands.ts';
import type { JsonObject } from '../../src/store/types.ts';
import { TestStore } from './helpers.ts';

/** What a sweep used to look at per collection, at most, in `_id` order from the start. */
const OLD_SCAN_DOCS_MAX = 100_000;
/** Documents per insert command when filling a collection. */
const FILL_BATCH_DOCS = 5_000;

const ttlIndex = (collection: string, field: string, expireAfterSeconds: number): CreateIndexCommand => ({
  type: 'createIndex',
  collection,
  fields: [[field, 1]],
  unique: false,
  expireAfterSeconds,
});

const ttlModel = (collection: string, ttlField: string): SetSchemaCommand => ({
  type: 'setSchema',
  collection,
  schema: { type: 'object' },
  options: { ttlField },
  force: true,
});

function expiredIds(t: TestStore, collection: string, nowMs: number, max = 1_000): string[] {
  return t.store.expiredDocuments(collection, nowMs, max).map((d) => d._id);
}

function collectionOf(store: Store, name: string): Collection {
  const coll = store.readTarget(name, {}).coll();
  assert.ok(coll !== undefined, `collection ${name}`);
  return coll;
}

/** Makes any walk of the whole collection (in `_id` order or map order) throw. */
function forbidWalks(coll: Collection): () => void {
  const byId = coll.byId as unknown as Record<string, unknown>;
  const docs = coll.docs as unknown as Record<string, unknown>;
  const saved = { scan: byId['scan'], entries: byId['entries'], values: docs['values'], toArray: docs['toArray'] };
  const refuse = () => {
    throw new Error('the collection was walked');
  };
  byId['scan'] = refuse;
  byId['entries'] = refuse;
  docs['values'] = refuse;
  docs['toArray'] = refuse;
  return () => {
    byId['scan'] = saved.scan;
    byId['entries'] = saved.entries;
    docs['values'] = saved.values;
    docs['toArray'] = saved.toArray;
  };
}

describe('expiredDocuments: expiry order, not _id order', () => {
  test(`an expired document after more than ${OLD_SCAN_DOCS_MAX} live ones in _id order is found`, () => {
    const t = new TestStore();
    t.ok(ttlIndex('c', 'at', 0));
    const live = OLD_SCAN_DOCS_MAX + 1_000;
    for (let from = 0; from < live; from += FILL_BATCH_DOCS) {
      const docs: JsonObject[] = [];
      for (let i = from; i < Math.min(live, from + FILL_BATCH_DOCS); i++) {
        const id = `a${String(i).padStart(7, '0')}`;
        // Live: a future expiry, no field, or a field that is no time.
        docs.push(i % 3 === 0 ? { _id: id, at: 1e15 } : i % 3 === 1 ? { _id: id } : { _id: id, at: 'soon' });
      }
      t.insert('c', ...docs);
    }
    t.insert('c', { _id: 'z-expired', at: 1_000 });
    assert.equal(t.store.count('c'), live + 1, 'the log clock (0) hides nothing');
    assert.deepEqual(t.store.expiredDocuments('c', 2_000, 10), [{ _id: 'z-expired', _rev: t.index }]);
    // Found without walking the collection: the work does not depend on its size.
    const restore = forbidWalks(collectionOf(t.store, 'c'));
    try {
      assert.deepEqual(expiredIds(t, 'c', 2_000, 10), ['z-expired']);
      assert.deepEqual(expiredIds(t, 'c', 999, 10), []);
    } finally {
      restore();
    }
    t.ok({ type: 'remove', collection: 'c', filter: { _id: 'z-expired' }, multi: false });
    assert.deepEqual(expiredIds(t, 'c', 2_000), []);
  });

  test('at most `max`, earliest expiry first (then _id), whatever the _id order', () => {
    const t = new TestStore();
    t.ok(ttlIndex('c', 'at', 0));
    // d0 expires last, d9 first; e* share one expiry; f is live at 5,000.
    t.insert(
      'c',
      ...Array.from({ length: 10 }, (_, i) => ({ _id: `d${i}`, at: 1_000 + (9 - i) * 100 })),
      { _id: 'e2', at: 1_050 },
      { _id: 'e1', at: 1_050 },
      { _id: 'f', at: 5_001 },
    );
    assert.deepEqual(expiredIds(t, 'c', 5_000, 4), ['d9', 'e1', 'e2', 'd8']);
    assert.deepEqual(expiredIds(t, 'c', 5_000, 1), ['d9']);
    assert.deepEqual(expiredIds(t, 'c', 5_000, 0), []);
    assert.deepEqual(expiredIds(t, 'c', 1_050), ['d9', 'e1', 'e2'], 'an expiry at `nowMs` is expired');
    assert.equal(expiredIds(t, 'c', 5_000).length, 12);
    assert.deepEqual(expiredIds(t, 'c', 5_001).slice(-1), ['f']);
    // A sweep's batch goes, the next batch is the next earliest.
    const rev = t.store.expiredDocuments('c', 5_000, 3);
    t.ok({
      type: 'tx',
      if: [],
      ops: rev.map((d) => ({ type: 'remove', collection: 'c', filter: { _id: d._id, _rev: d._rev }, multi: false }) as const),
    });
    assert.deepEqual(expiredIds(t, 'c', 5_000, 3), ['d8', 'd7', 'd6']);
  });

  test('count() of a whole TTL collection, read off the order: what find() returns, at every clock, without walking the collection', () => {
    const t = new TestStore();
    t.ok(ttlIndex('c', 'at', 0));
    t.insert('c', ...Array.from({ length: 20 }, (_, i) => ({ _id: `d${i}`, at: 1_000 + ((i * 7) % 20) * 100 })), { _id: 'never', at: 'not a time' });
    let clockMs = 0;
    t.store.useReadClock(() => clockMs);
    for (clockMs = 900; clockMs <= 3_100; clockMs += 50) {
      const found = t.store.find('c').length;
      const restore = forbidWalks(collectionOf(t.store, 'c'));
      try {
        assert.equal(t.store.count('c'), found, `at ${clockMs} ms`);
      } finally {
        restore();
      }
    }
    assert.equal(t.store.count('c'), 1, 'only the document without a time is left');
    assert.equal(t.store.count('c', { _id: 'never' }), 1, 'a filter still counts by testing');
  });

  test('every rule counts: a document expires at the earliest of ttlField and the TTL indexes', () => {
    const t = new TestStore();
    t.ok(ttlModel('c', 'exp'));
    t.ok(ttlIndex('c', 'at', 10)); // at + 10 s
    t.ok(ttlIndex('c', 'meta.seen', 0)); // a nested field
    const iso = (ms: number) => new Date(ms).toISOString();
    t.insert(
      'c',
      { _id: 'by-exp', exp: 30_000, at: 25_000 }, // 30 s (at: 35 s)
      { _id: 'by-at', exp: 50_000, at: iso(10_000) }, // 20 s (ISO string)
      { _id: 'by-seen', exp: 'never', at: 40_000, meta: { seen: 5_000 } }, // 5 s
      { _id: 'only-at', at: 0 }, // 10 s
      { _id: 'not-times', exp: [1], at: { t: 1 }, meta: { seen: true } },
      { _id: 'nulls', exp: null, at: null, meta: null },
      { _id: 'bad-string', exp: 'tomorrow' },
      { _id: 'negative', exp: -1 },
    );
    assert.deepEqual(expiredIds(t, 'c', 1e15), ['negative', 'by-seen', 'only-at', 'by-at', 'by-exp']);
    assert.deepEqual(expiredIds(t, 'c', 20_000), ['negative', 'by-seen', 'only-at', 'by-at']);
    assert.deepEqual(expiredIds(t, 'c', 19_999), ['negative', 'by-seen', 'only-at']);
    // Dropping a rule moves the documents it decided.
    t.ok({ type: 'dropIndex', collection: 'c', name: 'meta.seen_1' });
    assert.deepEqual(expiredIds(t, 'c', 1e15), ['negative', 'only-at', 'by-at', 'by-exp', 'by-seen']);
    t.ok({ type: 'dropSchema', collection: 'c' });
    assert.deepEqual(expiredIds(t, 'c', 1e15), ['only-at', 'by-at', 'by-exp', 'by-seen']);
    t.ok({ type: 'dropIndex', collection: 'c', name: 'at_1' });
    assert.deepEqual(expiredIds(t, 'c', 1e15), []);
    assert.deepEqual(t.store.ttlCollections(), []);
  });
});

describe('expiredDocuments: the order follows every write', () => {
  test('updates that move the expiry earlier, later or away; replaces; removes', () => {
    const t = new TestStore();
    t.ok(ttlModel('c', 'exp'));
    t.insert('c', { _id: 'a', exp: 5_000 }, { _id: 'b', exp: 6_000 }, { _id: 'c', exp: 7_000 }, { _id: 'd' });
    const set = (id: string, update: JsonObject) =>
      t.ok({ type: 'update', collection: 'c', filter: { _id: id }, update, multi: false, upsert: false });
    set('c', { $set: { exp: 1_000 } }); // earlier
    set('a', { $set: { exp: 9_000 } }); // later
    set('b', { $unset: { exp: '' } }); // gone: never expires
    set('d', { $set: { exp: new Date(2_000).toISOString() } }); // had none
    set('d', { $set: { other: 1 } }); // the expiry unchanged, the _rev not
    assert.deepEqual(expiredIds(t, 'c', 5_000), ['c', 'd']);
    assert.equal(t.store.expiredDocuments('c', 5_000, 10)[1]?._rev, t.index, 'the current _rev');
    assert.deepEqual(expiredIds(t, 'c', 1e15), ['c', 'd', 'a']);
    set('a', { $set: { exp: 'not a time' } });
    t.ok({ type: 'replace', collection: 'c', id: 'b', doc: { exp: 3_000 }, upsert: false });
    t.ok({ type: 'replace', collection: 'c', id: 'c', doc: { exp: 8_000 }, upsert: false });
    t.ok({ type: 'update', collection: 'c', filter: { _id: 'e' }, update: { $set: { exp: 500 } }, multi: false, upsert: true });
    assert.deepEqual(expiredIds(t, 'c', 1e15), ['e', 'd', 'b', 'c']);
    t.ok({ type: 'remove', collection: 'c', filter: { _id: { $in: ['d', 'e'] } }, multi: true });
    assert.deepEqual(expiredIds(t, 'c', 1e15), ['b', 'c']);
    set('b', { $set: { exp: 8_000 } }); // the same expiry as c: _id decides
    assert.deepEqual(expiredIds(t, 'c', 1e15), ['b', 'c']);
    t.ok({ type: 'dropCollection', collection: 'c' });
    assert.deepEqual(expiredIds(t, 'c', 1e15), []);
    // The model outlives its collection: a new one expires by it from its first document.
    t.insert('c', { _id: 'x', exp: 1 });
    assert.deepEqual(expiredIds(t, 'c', 1), ['x']);
  });

  test('a failed command leaves the order as it was (rollback)', () => {
    const t = new TestStore();
    t.ok(ttlIndex('c', 'at', 0));
    t.ok({ type: 'createIndex', collection: 'c', fields: [['u', 1]], unique: true });
    t.insert('c', { _id: 'a', at: 1_000, u: 1 }, { _id: 'b', at: 2_000, u: 2 });
    t.fail(
      {
        type: 'tx',
        if: [],
        ops: [
          { type: 'update', collection: 'c', filter: { _id: 'a' }, update: { $set: { at: 9_000 } }, multi: false, upsert: false },
          { type: 'remove', collection: 'c', filter: { _id: 'b' }, multi: false },
          { type: 'insert', collection: 'c', docs: [{ _id: 'n', at: 1, u: 3 }] },
          { type: 'insert', collection: 'c', docs: [{ _id: 'm', at: 1, u: 1 }] }, // duplicate u
        ],
      },
      'CONFLICT',
    );
    assert.deepEqual(expiredIds(t, 'c', 1e15), ['a', 'b']);
    // A model whose TTL index cannot be built (duplicates for a unique one) changes no rule.
    t.fail(
      {
        type: 'setSchema',
        collection: 'c',
        schema: { type: 'object' },
        options: {
          ttlField: 'exp',
          indexes: [
            { fields: [['v', 1]], expireAfterSeconds: 0 },
            { fields: [['at', 1]], unique: true, name: 'at_unique' },
            { fields: [['w', 1]], unique: true },
          ],
        },
        force: true,
      },
      'CONFLICT',
    );
    t.insert('c', { _id: 'c', at: 5_000, u: 3, w: 1 }, { _id: 'd', at: 6_000, u: 4, w: 1, v: 0, exp: 0 });
    assert.deepEqual(
      t.store.indexes('c').map((i) => i.name),
      ['at_1', 'u_1'],
    );
    assert.deepEqual(expiredIds(t, 'c', 1e15), ['a', 'b', 'c', 'd']);
  });

  test('rules given to a collection that has documents: a TTL index or a model ttlField', () => {
    const t = new TestStore();
    t.insert('c', { _id: 'a', at: 3_000, exp: 10 }, { _id: 'b', at: 1_000 }, { _id: 'c' });
    assert.deepEqual(expiredIds(t, 'c', 1e15), []);
    t.ok(ttlIndex('c', 'at', 1));
    assert.deepEqual(expiredIds(t, 'c', 1e15), ['b', 'a']);
    assert.deepEqual(expiredIds(t, 'c', 2_000), ['b']);
    t.ok(ttlModel('c', 'exp'));
    assert.deepEqual(expiredIds(t, 'c', 2_000), ['a', 'b']);
    t.ok(ttlModel('c', 'at')); // the same model again, another ttlField
    assert.deepEqual(expiredIds(t, 'c', 1_000), ['b']);
  });

  test('a snapshot restore rebuilds the order', () => {
    const t = new TestStore();
    t.ok(ttlModel('c', 'exp'));
    t.ok(ttlIndex('c', 'at', 0));
    t.insert('c', { _id: 'a', exp: 4_000 }, { _id: 'b', at: 3_000 }, { _id: 'c', exp: 9_000, at: 2_000 }, { _id: 'd' });
    t.insert('plain', { _id: 'p', exp: 1, at: 1 });
    const restored = new TestStore(undefined, Store.restoreSnapshot(t.store.encodeSnapshot()));
    assert.deepEqual(restored.store.expiredDocuments('c', 1e15, 10), t.store.expiredDocuments('c', 1e15, 10));
    assert.deepEqual(expiredIds(restored, 'c', 1e15), ['c', 'b', 'a']);
    assert.deepEqual(expiredIds(restored, 'plain', 1e15), []);
    const restore = forbidWalks(collectionOf(restored.store, 'c'));
    try {
      assert.deepEqual(expiredIds(restored, 'c', 3_000), ['c', 'b']);
    } finally {
      restore();
    }
    // And it is kept after the restore.
    restored.ok({ type: 'update', collection: 'c', filter: { _id: 'd' }, update: { $set: { at: 1 } }, multi: false, upsert: false });
    restored.ok({ type: 'remove', collection: 'c', filter: { _id: 'c' }, multi: false });
    assert.deepEqual(expiredIds(restored, 'c', 3_000), ['d', 'b']);
  });
});
