// Models embedded (issue #14): db.collection(name, { schema, trackHistory, audited }) through
// the embedded database's log: UUID ids generated, defaults before proposing, validation
// errors, history with term and leader, audit verification, and all of it after a reopen
// (log replay and snapshot).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Type } from '@sinclair/typebox';
import { open } from '../../src/node/embedded-database.ts';
import type { JsonObject } from '../../src/store/types.ts';

// The seed's DistributedProduct in TypeBox (docs/models.md has the JSON form).
const DistributedProduct = Type.Object({
  _id: Type.String({ format: 'uuid' }),
  name: Type.String({ minLength: 1 }),
  price: Type.Number({ minimum: 0.01 }),
  stock: Type.Integer({ minimum: 0, default: 0 }),
});

test('embedded models: DistributedProduct with history and audit, across a reopen', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'cs-models-'));
  try {
    let db = await open({ dir, snapshotThreshold: 5 });
    const products = db.collection('products', { schema: DistributedProduct as unknown as JsonObject, trackHistory: true, audited: true });
    const pen = await products.insert({ name: 'Pen', price: '1.5' });
    assert.match(pen._id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/, 'a UUID');
    assert.equal(pen['price'], 1.5);
    assert.equal(pen['stock'], 0);
    await assert.rejects(products.insert({ name: '', price: 0 }), (e: Error & { code?: string }) => {
      assert.equal(e.code, 'VALIDATION_FAILED');
      assert.match(e.message, /\/name .*minLength.*\/price .*minimum|\/price .*minimum.*\/name .*minLength/s);
      return true;
    });
    for (let i = 2; i <= 8; i++) await products.update({ _id: pen._id }, { $set: { price: i } });
    const history = products.history(pen._id);
    assert.equal(history.length, 8);
    assert.deepEqual(
      history.map((e) => e.eventType),
      ['Created', ...Array<string>(7).fill('Updated')],
    );
    assert.ok(history.every((e) => e.term >= 1 && e.nodeId === 1 && e.timestamp > 0));
    assert.equal(products.findAsOf(pen._id, { sequence: history[2]!.sequence })?.['price'], 3);
    const verdict = products.verifyAudit();
    assert.deepEqual(
      { ok: verdict.ok, checked: verdict.checked, eventId: verdict.head.eventId },
      { ok: true, checked: 8, eventId: history[7]!.eventId },
    );
    await db.close();

    db = await open({ dir });
    const again = db.collection('products');
    assert.deepEqual(again.history(pen._id), history);
    assert.deepEqual(again.verifyAudit(), verdict);
    await assert.rejects(again.insert({ name: 'X', price: -1 }), /VALIDATION_FAILED|minimum/);
    await db.close();
  } finally {
    await rm(dir, { recursive: true, force: true, maxRetries: 5 }).catch(() => {});
  }
});
