import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { InsertCoalescer } from '../../src/node/insert-coalescer.ts';
import type { CommandResult, InsertCommand } from '../../src/store/commands.ts';
import { MAX_BATCH_DOCS } from '../../src/store/commands.ts';
import { StoreError } from '../../src/store/errors.ts';

const op = (id: string, docs = 1): InsertCommand => ({
  type: 'insert',
  collection: 'c',
  docs: Array.from({ length: docs }, (_, i) => ({ _id: `${id}.${i}` })),
});

describe('InsertCoalescer', () => {
  test('takes everything queued, in order, cut at the group limit', () => {
    const c = new InsertCoalescer(1000);
    for (let i = 0; i < 5; i++) void c.add(op(`o${i}`), Infinity);
    assert.equal(c.inFlight, 5);
    const groups = c.take(2);
    assert.deepEqual(
      groups.map((g) => (g.command.type === 'batch' ? g.command.ops.map((o) => o.docs[0]!._id) : [g.command.docs[0]!._id])),
      [['o0.0', 'o1.0'], ['o2.0', 'o3.0'], ['o4.0']],
    );
    assert.equal(groups[2]!.command.type, 'insert', 'a lone insert is proposed as itself');
    assert.equal(c.hasWork(), false);
  });

  test('a group never holds more documents than one command may', () => {
    const c = new InsertCoalescer(1000);
    void c.add(op('a', MAX_BATCH_DOCS - 1), Infinity);
    void c.add(op('b', 2), Infinity);
    const groups = c.take(Infinity);
    assert.equal(groups.length, 2);
  });

  test("each caller gets its own op's result; a failed entry fails them all", async () => {
    const c = new InsertCoalescer(1000);
    const p = [c.add(op('a'), Infinity), c.add(op('b'), Infinity)];
    const [group] = c.take(Infinity);
    const each: CommandResult<'insert'>[] = [
      { ok: true, value: [{ _id: 'a.0', _rev: 7 }] },
      { ok: false, error: { code: 'CONFLICT', message: 'duplicate' } },
    ];
    group!.settle(Promise.resolve({ ok: true, value: each }));
    assert.deepEqual(await Promise.all(p), each);
    assert.equal(c.inFlight, 0);

    const q = [c.add(op('c'), Infinity), c.add(op('d'), Infinity)];
    c.take(Infinity)[0]!.settle(Promise.reject(new StoreError('COMMIT_UNKNOWN', 'gone')));
    for (const r of await Promise.allSettled(q)) assert.equal(r.status, 'rejected');
    assert.equal(c.inFlight, 0);
  });

  test('queued inserts past their deadline are refused and leave the queue; the others stay', async () => {
    const c = new InsertCoalescer(1000);
    const late = c.add(op('late'), 100);
    const fine = c.add(op('fine'), 1_000);
    c.expire(500, () => new StoreError('NO_LEADER', 'not made'));
    await assert.rejects(late, /not made/);
    assert.equal(c.inFlight, 1);
    const [group] = c.take(Infinity);
    assert.equal(group!.command.type, 'insert');
    group!.settle(Promise.resolve({ ok: true, value: [] }));
    assert.deepEqual(await fine, { ok: true, value: [] });
  });
});
