// The node that proposes an insert applies its own command object (copyNewDocument
// copies, not decoded again); every other replica, and a replay, decodes the log bytes.
// Both must end in the same state, or replicas diverge.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { decodeCommand, encodeCommand } from '../../src/node/command-codec.ts';
import type { Command } from '../../src/store/commands.ts';
import { Store } from '../../src/store/store.ts';
import type { JsonObject } from '../../src/store/types.ts';
import { DEFAULT_LIMITS } from '../../src/store/types.ts';
import { copyNewDocument } from '../../src/store/validate.ts';
import { open } from '../../src/index.ts';

const key = fc
  .string({ unit: 'binary', minLength: 1, maxLength: 6 })
  .filter((k) => !k.startsWith('$') && !['__proto__', 'constructor', 'prototype', '_id', '_rev'].includes(k) && !k.includes('\0'));
const value = fc.jsonValue({ maxDepth: 3, stringUnit: 'binary' }).filter((v) => !JSON.stringify(v).includes('"__proto__"'));
const extremes = fc.constantFrom(-0, 2 ** 53 - 1, -(2 ** 53), 2 ** 31, -(2 ** 31) - 1, 2 ** 32, 1e308, 5e-324, 0.1, -1.5);
const body = fc.dictionary(key, fc.oneof(value, extremes), { maxKeys: 5 });
// Ids from a small set, so that some inserts collide and must fail alike on both paths.
const doc = fc.record({ _id: fc.constantFrom('a', 'b', 'c', 'd', 'é', '\ud83d\ude00'), body });

describe("applying the proposer's own command object", () => {
  test('gives the same state as decoding the log bytes (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.array(doc, { minLength: 1, maxLength: 3 }), { minLength: 1, maxLength: 12, size: 'max' }), (batches) => {
        const proposer = new Store();
        const replica = new Store();
        let index = 0;
        for (const batch of batches) {
          index++;
          let docs: JsonObject[];
          try {
            docs = batch.map((d) => copyNewDocument({ ...d.body, _id: d._id }, DEFAULT_LIMITS));
          } catch {
            continue; // refused before it reaches the log
          }
          // Odd entries: the documents as independent inserts sharing the entry (a batch).
          const command: Command =
            index % 2 === 1 && docs.length > 1
              ? { type: 'batch', ops: docs.map((doc) => ({ type: 'insert', collection: 'c', docs: [doc] })) }
              : { type: 'insert', collection: 'c', docs };
          const bytes = encodeCommand(command);
          const own = proposer.apply(command, index, { documentsCopied: true });
          const decoded = replica.apply(decodeCommand(bytes), index);
          assert.deepEqual(own, decoded);
        }
        assert.deepEqual(proposer.find('c'), replica.find('c'));
        assert.deepEqual(Buffer.from(proposer.encodeSnapshot()), Buffer.from(replica.encodeSnapshot()));
      }),
      { numRuns: 200 },
    );
  });

  test('a document that is not a frozen copy is validated and copied by the store anyway', () => {
    const store = new Store();
    const raw = { _id: 'x', nested: { n: 1 } };
    const result = store.apply({ type: 'insert', collection: 'c', docs: [raw] }, 1, { documentsCopied: true });
    assert.ok(result.ok);
    raw.nested.n = 2;
    assert.deepEqual(store.get('c', 'x'), { _id: 'x', _rev: 1, nested: { n: 1 } });
    assert.ok(Object.isFrozen(store.get('c', 'x')!['nested']));
    const bad = store.apply({ type: 'insert', collection: 'c', docs: [{ _id: 'y', s: '\ud800' }] }, 2, { documentsCopied: true });
    assert.equal(bad.ok, false);
  });
});

describe('embedded inserts own their documents', () => {
  test('changing the object after insert() was called changes nothing stored, before or after a reopen', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cs-reuse-'));
    try {
      const db = await open({ dir });
      const col = db.collection('c');
      const doc = { _id: 'k', list: [1, 2], inner: { v: 'before' } };
      const pending = col.insert(doc);
      doc.list.push(3);
      doc.inner.v = 'after';
      const stored = await pending;
      assert.deepEqual(stored, { _id: 'k', _rev: stored._rev, list: [1, 2], inner: { v: 'before' } });
      assert.deepEqual(col.get('k'), stored);
      await db.close();
      const again = await open({ dir });
      assert.deepEqual(again.collection('c').get('k'), stored);
      await again.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
