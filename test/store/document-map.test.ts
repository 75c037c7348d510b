// DocumentMap (src/store/collection.ts): documents by _id in several Maps, so that no insert
// rehashes every document in one piece. It behaves as one Map (a model check), and ids spread
// over its shards: generated ids evenly, numbered ids over most of them.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { DocumentMap } from '../../src/store/collection.ts';
import { createIdGenerator } from '../../src/store/ids.ts';
import type { Document } from '../../src/store/types.ts';

const doc = (id: string, v = 0): Document => ({ _id: id, _rev: 1, v });

/** Documents per shard (the shards are private: read for this test only). */
function shardSizes(map: DocumentMap): number[] {
  return (map as unknown as { shards: Array<Map<string, Document>> }).shards.map((s) => s.size);
}

describe('DocumentMap', () => {
  test('answers as a Map: get, has, set (new and replacing), delete, size, values', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.constantFrom('set', 'delete'), fc.string({ maxLength: 3 }), fc.integer()), { maxLength: 200, size: 'max' }),
        (ops) => {
          const map = new DocumentMap();
          const model = new Map<string, Document>();
          for (const [op, id, v] of ops) {
            if (op === 'set') {
              map.set(id, doc(id, v));
              model.set(id, doc(id, v));
            } else assert.equal(map.delete(id), model.delete(id));
            assert.equal(map.size, model.size);
          }
          for (const [id, d] of model) {
            assert.deepEqual(map.get(id), d);
            assert.equal(map.has(id), true);
          }
          assert.equal(map.get('none of them'), undefined);
          const byId = (a: Document, b: Document): number => (a._id < b._id ? -1 : 1);
          assert.deepEqual([...map.values()].sort(byId), [...model.values()].sort(byId));
          assert.deepEqual(map.toArray().sort(byId), [...model.values()].sort(byId));
        },
      ),
      { numRuns: 300 },
    );
  });

  test('load (a snapshot restore) holds what setting each document holds, shard for shard', () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.string({ maxLength: 4 }), { maxLength: 300, size: 'max' }), (ids) => {
        const loaded = new DocumentMap();
        loaded.load(ids.map((id, i) => doc(id, i)));
        const set = new DocumentMap();
        ids.forEach((id, i) => set.set(id, doc(id, i)));
        assert.equal(loaded.size, ids.length);
        assert.deepEqual(shardSizes(loaded), shardSizes(set));
        for (const [i, id] of ids.entries()) assert.deepEqual(loaded.get(id), doc(id, i));
        // Writes after a load count as after sets.
        const model = new Map(ids.map((id, i) => [id, doc(id, i)]));
        for (const m of [loaded, model]) {
          if (ids.length > 0) m.delete(ids[0]!);
          m.set('new one', doc('new one'));
        }
        assert.equal(loaded.size, model.size);
      }),
      { numRuns: 200 },
    );
  });

  test('load refuses repeated ids and a map that is not empty', () => {
    assert.throws(() => new DocumentMap().load([doc('a'), doc('b'), doc('a')]), /ids were not distinct/);
    const map = new DocumentMap();
    map.set('a', doc('a'));
    assert.throws(() => map.load([doc('b')]), /non-empty/);
  });

  test('ids spread over the shards', () => {
    const generated = createIdGenerator(
      () => Date.now(),
      (n) => randomBytes(n),
    );
    const n = 64_000;
    const even = new DocumentMap();
    const numbered = new DocumentMap();
    for (let i = 0; i < n; i++) {
      const id = generated();
      even.set(id, doc(id));
      numbered.set(`user${i}`, doc(`user${i}`));
    }
    const sizes = shardSizes(even);
    const share = n / sizes.length;
    assert.ok(Math.max(...sizes) < share * 1.5 && Math.min(...sizes) > share * 0.5, `generated ids: ${sizes.join(' ')}`);
    // Two decimal digits: 100 endings over 64 shards, so at most about twice a shard's share.
    assert.ok(Math.max(...shardSizes(numbered)) <= share * 2.1, `numbered ids: ${shardSizes(numbered).join(' ')}`);
  });
});
