// Collection models in the state machine (issue #14): documents validated at apply with
// defaults and coercion, every failing path named, schema changes checked against existing
// documents, declared indexes, and the model kept in snapshots (version 4).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Store } from '../../src/store/store.ts';
import { SNAPSHOT_VERSION_WITH_MODELS, decodeSnapshotData, encodeSnapshotData, snapshotParts } from '../../src/store/snapshot.ts';
import type { SetSchemaCommand } from '../../src/store/commands.ts';
import { SCHEMA_BYTES_MAX } from '../../src/store/schema.ts';
import type { JsonObject } from '../../src/store/types.ts';
import { TestStore } from './helpers.ts';

/** The seed's DistributedProduct. */
export const PRODUCT_SCHEMA: JsonObject = {
  type: 'object',
  properties: {
    _id: { type: 'string', format: 'uuid' },
    name: { type: 'string', minLength: 1 },
    price: { type: 'number', minimum: 0.01 },
    stock: { type: 'integer', minimum: 0, default: 0 },
  },
  required: ['_id', 'name', 'price'],
};

const U1 = '7f9c2ba4-e88f-4b5a-9d3c-1a2b3c4d5e6f';
const U2 = '0e3b1c6a-2f4d-4c8e-8a1b-9d8c7b6a5f4e';

function setSchema(collection: string, schema: JsonObject, options: SetSchemaCommand['options'] = {}, force = false): SetSchemaCommand {
  return { type: 'setSchema', collection, schema, options, force };
}

describe('models: validation at apply', () => {
  test('a valid document gets its defaults and coerced types; an invalid one names every failing path and rule, and nothing is written', () => {
    const t = new TestStore();
    t.ok(setSchema('products', PRODUCT_SCHEMA));
    const [doc] = t.ok({ type: 'insert', collection: 'products', docs: [{ _id: U1, name: 'Pen', price: '2.5' }] });
    assert.equal(doc!['price'], 2.5, 'coerced from the string');
    assert.equal(doc!['stock'], 0, 'default filled');
    const error = t.fail({ type: 'insert', collection: 'products', docs: [{ _id: 'not-a-uuid', name: '', price: 0 }] }, 'VALIDATION_FAILED');
    assert.match(error.message, /\/_id must match format "uuid" \(format\)/);
    assert.match(error.message, /\/name must NOT have fewer than 1 characters \(minLength\)/);
    assert.match(error.message, /\/price must be >= 0.01 \(minimum\)/);
    assert.equal(t.store.count('products'), 1);
  });

  test('updates, upserts and replaces are validated too, and a failing one changes nothing', () => {
    const t = new TestStore();
    t.ok(setSchema('products', PRODUCT_SCHEMA));
    t.insert('products', { _id: U1, name: 'Pen', price: 2 });
    t.fail(
      { type: 'update', collection: 'products', filter: { _id: U1 }, update: { $set: { price: 0 } }, multi: false, upsert: false },
      'VALIDATION_FAILED',
      /price/,
    );
    t.fail(
      { type: 'replace', collection: 'products', id: U1, doc: { name: 'Pen' }, upsert: false },
      'VALIDATION_FAILED',
      /must have required property 'price'/,
    );
    t.fail(
      { type: 'update', collection: 'products', filter: { _id: U2 }, update: { $set: { name: 'X' } }, multi: false, upsert: true },
      'VALIDATION_FAILED',
      /price/,
    );
    assert.equal(t.store.get('products', U1)!['price'], 2);
    assert.equal(t.store.get('products', U2), undefined);
  });

  test('a schema change checks existing documents (bounded list of ids), force accepts it; declared indexes are created', () => {
    const t = new TestStore();
    t.insert('products', { _id: U1, name: 'Pen', price: 2 }, { _id: U2, name: 'Free', price: 0 });
    const error = t.fail(setSchema('products', PRODUCT_SCHEMA), 'VALIDATION_FAILED', /1 existing document/);
    assert.match(error.message, new RegExp(U2));
    assert.doesNotMatch(error.message, new RegExp(U1));
    assert.equal(t.store.model('products'), undefined);
    const stored = t.ok(setSchema('products', PRODUCT_SCHEMA, { indexes: [{ fields: [['name', 1]], unique: true }] }, true));
    assert.equal(stored.version, t.index);
    assert.deepEqual(
      t.store.indexes('products').map((i) => i.name),
      ['name_1'],
    );
    // A conflicting index takes back the model change and any index it made.
    t.fail(setSchema('other', { type: 'object' }, { indexes: [{ fields: [['a', 1]] }, { fields: [['b', 1]], name: 'a_1' }] }), 'CONFLICT');
    assert.deepEqual(t.store.indexes('other'), []);
    assert.equal(t.store.model('other'), undefined);
  });

  test('schemas that reach outside, are too large, or do not compile are refused', () => {
    const t = new TestStore();
    t.fail(setSchema('c', { $ref: 'https://example.com/s.json' }), 'VALIDATION', /only references inside the schema/);
    t.fail(setSchema('c', { type: 'object', description: 'x'.repeat(SCHEMA_BYTES_MAX) }), 'VALIDATION', /SCHEMA_BYTES_MAX/);
    t.fail(setSchema('c', { type: 'object', unknownKeyword: 1 }), 'VALIDATION', /unknown keyword/);
    t.fail(setSchema('c', { type: 'object' }, { trackHistory: 'yes' } as unknown as SetSchemaCommand['options']), 'VALIDATION', /trackHistory/);
  });

  test('patterns run on RE2 (a backtracking pattern is linear) and dropSchema stops validation', () => {
    const t = new TestStore();
    t.ok(setSchema('c', { type: 'object', properties: { s: { type: 'string', pattern: '^(a+)+$' } } }));
    const started = performance.now();
    t.fail({ type: 'insert', collection: 'c', docs: [{ _id: 'x', s: `${'a'.repeat(40)}!` }] }, 'VALIDATION_FAILED', /pattern/);
    assert.ok(performance.now() - started < 500, 'RE2 does not backtrack');
    assert.deepEqual(t.ok({ type: 'dropSchema', collection: 'c' }), { dropped: true });
    t.insert('c', { _id: 'x', s: 'b!' });
  });

  test('the model is in the snapshot (version 4, parts encode the same bytes) and validates after restore', () => {
    const t = new TestStore();
    t.ok(setSchema('products', PRODUCT_SCHEMA, { trackHistory: true }));
    t.insert('products', { _id: U1, name: 'Pen', price: 2 });
    const data = t.store.captureSnapshot();
    assert.equal(data.version, SNAPSHOT_VERSION_WITH_MODELS);
    const bytes = encodeSnapshotData(data);
    assert.deepEqual(decodeSnapshotData(Buffer.concat([...snapshotParts(data)])), decodeSnapshotData(bytes));
    assert.equal(decodeSnapshotData(bytes).models?.length, 1);
    const restored = new TestStore(undefined, Store.restoreSnapshot(bytes));
    assert.deepEqual(restored.store.model('products'), t.store.model('products'));
    restored.fail({ type: 'insert', collection: 'products', docs: [{ _id: U2, name: 'X', price: -1 }] }, 'VALIDATION_FAILED');
    assert.deepEqual(restored.store.documentHistory('products', U1), t.store.documentHistory('products', U1));
  });

  test('conformNew fills defaults before proposing and refuses what apply would refuse', () => {
    const t = new TestStore();
    t.ok(setSchema('products', PRODUCT_SCHEMA));
    assert.deepEqual(t.store.conformNew('products', { _id: U1, name: 'Pen', price: 1 }), { _id: U1, name: 'Pen', price: 1, stock: 0 });
    assert.throws(() => t.store.conformNew('products', { _id: U1, name: 'Pen', price: 0 }), /VALIDATION_FAILED|minimum/);
  });
});
