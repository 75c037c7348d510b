// CollectionView (src/store/collection.ts): a walk of a collection in _id order over several
// steps, with writes between the steps, visits exactly the documents the collection held when
// the view opened, each once, in order (ascending or descending), whatever the writes do to
// ids ahead of the walk or behind it (updates, removals, inserts, removals then re-inserts).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Collection } from '../../src/store/collection.ts';
import type { Document } from '../../src/store/types.ts';

// Ids of two characters out of four: 16 ids, so that writes often hit ids the walk has not
// reached, ids it has passed, and ids removed earlier.
const idArb = fc.stringMatching(/^[a-d]{2}$/);
const opArb = fc.record({ id: idArb, kind: fc.constantFrom('set', 'remove'), v: fc.integer({ min: 0, max: 99 }) });

function fill(ids: readonly string[]): Collection {
  const coll = new Collection('c');
  for (const id of ids) coll.write(id, Object.freeze({ _id: id, _rev: 1, v: -1 }), true);
  return coll;
}

function apply(coll: Collection, op: { id: string; kind: string; v: number }): void {
  if (op.kind === 'remove') coll.write(op.id, undefined, false);
  else coll.write(op.id, Object.freeze({ _id: op.id, _rev: 1, v: op.v }), false);
}

describe('CollectionView', () => {
  test('visits the state at opening, in _id order, with writes between steps', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(idArb, { maxLength: 16, size: 'max' }),
        fc.array(fc.array(opArb, { maxLength: 4 }), { maxLength: 20, size: 'max' }),
        fc.boolean(),
        fc.integer({ min: 1, max: 4 }),
        (ids, writesPerStep, reverse, perStep) => {
          const coll = fill(ids);
          const atOpening = coll.byId.entries(undefined, undefined, reverse).map(([, doc]) => doc);
          const view = coll.openView(reverse);
          const seen: Document[] = [];
          let units = 0;
          let step = 0;
          while (
            view.step(
              (doc) => (seen.push(doc), true),
              () => ++units % perStep === 0,
            )
          ) {
            for (const op of writesPerStep[step++ % Math.max(1, writesPerStep.length)] ?? []) apply(coll, op);
            assert.ok(step < 1000, 'the walk ends');
          }
          assert.deepEqual(seen, atOpening);
          assert.equal(view.done, true);
          assert.equal(coll.viewCount, 0, 'a finished view is closed');
        },
      ),
      { numRuns: 2000 },
    );
  });

  test('a visitor that returns false stops the walk and closes the view', () => {
    const coll = fill(['aa', 'ab', 'ac', 'ad']);
    const view = coll.openView(false);
    const seen: string[] = [];
    assert.equal(
      view.step(
        (doc) => (seen.push(doc._id), seen.length < 2),
        () => false,
      ),
      false,
    );
    assert.deepEqual(seen, ['aa', 'ab']);
    assert.equal(coll.viewCount, 0);
  });

  test('more writes ahead of the walk than preImagesMax spend the view; writes behind it cost nothing', () => {
    const coll = fill(['aa', 'ab', 'ac', 'ad', 'ba']);
    const view = coll.openView(false, 2);
    let units = 0;
    assert.equal(
      view.step(
        () => true,
        () => ++units === 2,
      ),
      true,
    );
    // Behind the walk (aa, ab): not kept.
    apply(coll, { id: 'aa', kind: 'set', v: 1 });
    apply(coll, { id: 'ab', kind: 'remove', v: 0 });
    assert.equal(view.spent, false);
    apply(coll, { id: 'ac', kind: 'set', v: 1 });
    apply(coll, { id: 'ac', kind: 'set', v: 2 });
    apply(coll, { id: 'ad', kind: 'remove', v: 0 });
    assert.equal(view.spent, false, 'two ids ahead');
    apply(coll, { id: 'ba', kind: 'set', v: 1 });
    assert.equal(view.spent, true, 'a third');
    assert.equal(coll.viewCount, 0);
    assert.throws(
      () =>
        view.step(
          () => true,
          () => false,
        ),
      /spent/,
    );
  });
});
