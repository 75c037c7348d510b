// A batch: independent inserts sharing one log entry. Each op is all or nothing on its
// own; one failing does not fail the others.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { BatchCommand, CommandResult, InsertCommand } from '../../src/store/commands.ts';
import { MAX_BATCH_OPS } from '../../src/store/commands.ts';
import { ValidationError } from '../../src/store/errors.ts';
import { Store } from '../../src/store/store.ts';
import { validateCommand } from '../../src/store/validate.ts';

const insert = (collection: string, ...ids: string[]): InsertCommand => ({
  type: 'insert',
  collection,
  docs: ids.map((_id) => ({ _id, v: _id.length })),
});

describe('batch command', () => {
  test("a duplicate fails its own op only, undone whole; the rest share the entry's _rev", () => {
    const store = new Store();
    store.apply(insert('c', 'taken'), 1);
    const batch: BatchCommand = { type: 'batch', ops: [insert('c', 'a'), insert('c', 'b', 'taken'), insert('new', 'x'), insert('c', 'd')] };
    const result = store.apply(batch, 2);
    assert.ok(result.ok);
    const each = result.value as CommandResult<'insert'>[];
    assert.deepEqual(
      each.map((r) => r.ok),
      [true, false, true, true],
    );
    assert.equal((each[1] as { error: { code: string } }).error.code, 'CONFLICT');
    assert.equal(store.get('c', 'b'), undefined, 'the failed op is undone whole, its first document too');
    assert.deepEqual(
      store.find('c').map((d) => [d._id, d._rev]),
      [
        ['a', 2],
        ['d', 2],
        ['taken', 1],
      ],
    );
    assert.deepEqual(
      store.find('new').map((d) => d._id),
      ['x'],
    );
    assert.equal(store.lastApplied, 2);
  });

  test('a failed op that created its collection leaves no collection behind', () => {
    const store = new Store();
    const result = store.apply({ type: 'batch', ops: [insert('fresh', 'a', 'a')] }, 1);
    assert.ok(result.ok);
    assert.equal((result.value as CommandResult<'insert'>[])[0]!.ok, false);
    assert.deepEqual(store.collections(), []);
  });

  test('shape: only inserts, not empty, bounded', () => {
    const refused = (cmd: unknown, pattern: RegExp): void =>
      assert.throws(
        () => validateCommand(cmd),
        (e: unknown) => e instanceof ValidationError && pattern.test(e.message),
      );
    refused({ type: 'batch', ops: [] }, /non-empty array/);
    refused({ type: 'batch', ops: [{ type: 'remove', collection: 'c', filter: {}, multi: true }] }, /insert commands only/);
    refused({ type: 'batch', ops: Array.from({ length: MAX_BATCH_OPS + 1 }, (_, i) => insert('c', `i${i}`)) }, /at most/);
    refused({ type: 'batch', ops: [insert('c', 'a')], extra: 1 }, /extra/);
    refused({ type: 'tx', ops: [{ type: 'batch', ops: [insert('c', 'a')] }], if: [] }, /transaction op must be/);
    validateCommand({ type: 'batch', ops: [insert('c', 'a'), insert('d', 'b')] });
  });

  test('property: the same documents and outcomes as the ops applied one by one', () => {
    const opArb = fc.record({
      collection: fc.constantFrom('c', 'd'),
      ids: fc.array(fc.constantFrom('a', 'b', 'c', 'd', 'e'), { minLength: 1, maxLength: 3 }),
    });
    fc.assert(
      fc.property(fc.array(opArb, { minLength: 1, maxLength: 8 }), (specs) => {
        const ops = specs.map((s) => insert(s.collection, ...s.ids));
        const batched = new Store();
        const one = batched.apply({ type: 'batch', ops }, 1);
        assert.ok(one.ok);
        const separate = new Store();
        const each = ops.map((op, i) => separate.apply(op, i + 1));
        assert.deepEqual(
          (one.value as CommandResult<'insert'>[]).map((r) => r.ok),
          each.map((r) => r.ok),
        );
        for (const coll of ['c', 'd']) {
          const strip = (docs: readonly { _id: string; _rev: number }[]) => docs.map(({ _rev, ...rest }) => rest);
          assert.deepEqual(strip(batched.find(coll)), strip(separate.find(coll)));
          assert.ok(batched.find(coll).every((d) => d._rev === 1));
        }
      }),
      { numRuns: 150 },
    );
  });

  test("a malformed op fails alone, the same way for the proposer's own objects and for decoded ones", () => {
    const ops = [insert('c', 'a'), { type: 'insert', collection: 'c', docs: [] } as unknown as InsertCommand, insert('c', 'b')];
    for (const documentsCopied of [true, false]) {
      const store = new Store();
      const result = store.apply({ type: 'batch', ops }, 1, { documentsCopied });
      assert.ok(result.ok);
      assert.deepEqual(
        (result.value as CommandResult<'insert'>[]).map((r) => r.ok),
        [true, false, true],
      );
      assert.deepEqual(
        store.find('c').map((d) => d._id),
        ['a', 'b'],
      );
    }
  });

  test("the proposer's own command is shape-checked too: an empty insert fails on every path", () => {
    for (const documentsCopied of [true, false]) {
      const store = new Store();
      const result = store.apply({ type: 'insert', collection: 'c', docs: [] }, 1, { documentsCopied });
      assert.equal(result.ok, false);
      assert.deepEqual(store.collections(), []);
    }
  });
});
