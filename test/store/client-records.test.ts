// One client's session records by seq (src/store/client-records.ts): an acknowledgement takes
// out exactly the records at or below it, lowest first, whatever order they came in.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ClientRecords } from '../../src/store/client-records.ts';

type Op = { kind: 'add'; seq: number } | { kind: 'remove'; pick: number } | { kind: 'drain'; through: number };

test('against a sorted model: add in any order, remove any, drain through a seq lowest first; the heap stays bounded', () => {
  const op = fc.oneof(
    { weight: 5, arbitrary: fc.record({ kind: fc.constant('add' as const), seq: fc.integer({ min: 1, max: 200 }) }) },
    { weight: 3, arbitrary: fc.record({ kind: fc.constant('remove' as const), pick: fc.nat() }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('drain' as const), through: fc.integer({ min: 0, max: 200 }) }) },
  );
  fc.assert(
    fc.property(fc.array(op, { maxLength: 300, size: 'max' }), (ops: Op[]) => {
      const records = new ClientRecords<string>();
      const model = new Map<number, string>();
      for (const o of ops) {
        if (o.kind === 'add') {
          if (model.has(o.seq)) continue;
          records.add(o.seq, `r${o.seq}`);
          model.set(o.seq, `r${o.seq}`);
        } else if (o.kind === 'remove') {
          const held = [...model.keys()];
          if (held.length === 0) continue;
          const seq = held[o.pick % held.length]!;
          records.remove(seq);
          model.delete(seq);
        } else {
          const drained: number[] = [];
          for (let found = records.lowestAtOrBelow(o.through); found !== undefined; found = records.lowestAtOrBelow(o.through)) {
            assert.equal(found.record, `r${found.seq}`);
            drained.push(found.seq);
            records.remove(found.seq);
          }
          const expected = [...model.keys()].filter((seq) => seq <= o.through).sort((a, b) => a - b);
          assert.deepEqual(drained, expected);
          for (const seq of expected) model.delete(seq);
        }
        assert.equal(records.size, model.size);
        for (const [seq, record] of model) assert.equal(records.get(seq), record);
        assert.ok(records.heapSlots <= 2 * model.size + 16 + 1, `${records.heapSlots} heap slots for ${model.size} records`);
      }
    }),
    { numRuns: 500 },
  );
});

test('a seq added twice or removed when not held is a bug (InvariantError)', () => {
  const records = new ClientRecords<string>();
  records.add(3, 'a');
  assert.throws(() => records.add(3, 'b'), /added twice/);
  assert.throws(() => records.remove(4), /not held/);
});

test('records removed out of heap order leave no more than twice the held slots behind', () => {
  const records = new ClientRecords<number>();
  for (let seq = 1; seq <= 1000; seq++) records.add(seq, seq);
  for (let seq = 1000; seq > 10; seq--) records.remove(seq);
  assert.equal(records.size, 10);
  assert.ok(records.heapSlots <= 2 * 10 + 16, `${records.heapSlots} heap slots for 10 records`);
  assert.deepEqual(records.lowestAtOrBelow(5), { seq: 1, record: 1 });
});
