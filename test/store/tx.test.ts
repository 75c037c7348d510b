import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { TestStore } from './helpers.ts';
import type { Precondition, TxCommand } from '../../src/store/commands.ts';

function bank(): TestStore {
  const t = new TestStore();
  t.insert('acct', { _id: 'a', bal: 100 }, { _id: 'b', bal: 0 });
  return t;
}

const transfer = (pre: Precondition[]): TxCommand => ({
  type: 'tx',
  if: pre,
  ops: [
    { type: 'update', collection: 'acct', filter: { _id: 'a' }, update: { $inc: { bal: -10 } }, multi: false, upsert: false },
    { type: 'update', collection: 'acct', filter: { _id: 'b' }, update: { $inc: { bal: 10 } }, multi: false, upsert: false },
    { type: 'insert', collection: 'log', docs: [{ _id: 'l1', amount: 10 }] },
  ],
});

describe('transactions', () => {
  test('applies every op and returns each result', () => {
    const t = bank();
    const r = t.ok(transfer([{ collection: 'acct', id: 'a', rev: 1 }]));
    assert.equal(r.length, 3);
    assert.equal(t.store.get('acct', 'a')!['bal'], 90);
    assert.equal(t.store.get('acct', 'b')!['bal'], 10);
    assert.equal(t.store.get('acct', 'a')!._rev, t.index);
    assert.ok(t.store.get('log', 'l1'));
  });

  const failing: Array<[string, Precondition]> = [
    ['rev mismatch', { collection: 'acct', id: 'a', rev: 2 }],
    ['rev 0 but present', { collection: 'acct', id: 'a', rev: 0 }],
    ['exists false but present', { collection: 'acct', id: 'b', exists: false }],
    ['exists true but absent', { collection: 'acct', id: 'zz', exists: true }],
    ['count mismatch', { collection: 'acct', filter: { bal: { $gte: 0 } }, count: 3 }],
  ];
  for (const [name, pre] of failing) {
    test(`a failed precondition (${name}) changes nothing`, () => {
      const t = bank();
      t.fail(transfer([{ collection: 'acct', id: 'zz', rev: 0 }, pre]), 'CONFLICT', /precondition 1 failed/);
      assert.equal(t.store.get('acct', 'a')!['bal'], 100);
      assert.deepEqual(t.store.collections(), ['acct']);
    });
  }

  test('passing preconditions of each kind', () => {
    const t = bank();
    t.ok(
      transfer([
        { collection: 'acct', id: 'a', rev: 1 },
        { collection: 'acct', id: 'nope', rev: 0 },
        { collection: 'acct', id: 'b', exists: true },
        { collection: 'acct', id: 'nope', exists: false },
        { collection: 'acct', filter: { bal: { $gte: 0 } }, count: 2 },
      ]),
    );
    assert.equal(t.store.get('acct', 'b')!['bal'], 10);
  });

  test('an op failing late rolls back the earlier ops', () => {
    const t = bank();
    t.insert('log', { _id: 'l1' });
    t.fail(transfer([]), 'CONFLICT', /transaction op 2: duplicate key/);
    assert.equal(t.store.get('acct', 'a')!['bal'], 100);
    assert.equal(t.store.get('acct', 'a')!._rev, 1);
    assert.equal(t.store.get('acct', 'b')!['bal'], 0);
  });

  test('ops see the effects of earlier ops; removes and replaces roll back too', () => {
    const t = bank();
    t.ok({
      type: 'tx',
      if: [],
      ops: [
        { type: 'insert', collection: 'x', docs: [{ _id: 'n', v: 1 }] },
        { type: 'update', collection: 'x', filter: { _id: 'n' }, update: { $inc: { v: 1 } }, multi: false, upsert: false },
      ],
    });
    assert.equal(t.store.get('x', 'n')!['v'], 2);
    t.fail(
      {
        type: 'tx',
        if: [],
        ops: [
          { type: 'remove', collection: 'acct', filter: {}, multi: true },
          { type: 'replace', collection: 'x', id: 'n', doc: { v: 9 }, upsert: false },
          { type: 'replace', collection: 'x', id: 'missing', doc: {}, upsert: false },
        ],
      },
      'NOT_FOUND',
    );
    assert.equal(t.store.count('acct'), 2);
    assert.equal(t.store.get('x', 'n')!['v'], 2);
  });
});
