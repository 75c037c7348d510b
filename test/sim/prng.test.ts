import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { Prng, hashString } from '../../src/sim/prng.ts';

describe('Prng', () => {
  test('one seed gives one sequence; another seed gives another', () => {
    const a = new Prng(42);
    const b = new Prng(42);
    const c = new Prng(43);
    const sa = Array.from({ length: 100 }, () => a.nextUint32());
    const sb = Array.from({ length: 100 }, () => b.nextUint32());
    const sc = Array.from({ length: 100 }, () => c.nextUint32());
    assert.deepEqual(sa, sb);
    assert.notDeepEqual(sa, sc);
    assert.ok(new Set(sa).size > 95, 'outputs vary');
  });

  test('next() is in [0, 1) and roughly uniform', () => {
    const r = new Prng(7);
    const buckets = new Array<number>(10).fill(0);
    for (let i = 0; i < 20_000; i++) {
      const x = r.next();
      assert.ok(x >= 0 && x < 1);
      buckets[Math.floor(x * 10)]!++;
    }
    for (const n of buckets) assert.ok(n > 1700 && n < 2300, `bucket count ${n}`);
  });

  test('int covers the inclusive range and nothing else', () => {
    const r = new Prng(1);
    const seen = new Set<number>();
    for (let i = 0; i < 2000; i++) {
      const x = r.int(-2, 3);
      assert.ok(Number.isInteger(x) && x >= -2 && x <= 3);
      seen.add(x);
    }
    assert.deepEqual(
      [...seen].sort((a, b) => a - b),
      [-2, -1, 0, 1, 2, 3],
    );
    assert.throws(() => r.int(3, 2));
  });

  test('chance honours its probability and the edge cases', () => {
    const r = new Prng(9);
    let hits = 0;
    for (let i = 0; i < 10_000; i++) if (r.chance(0.3)) hits++;
    assert.ok(hits > 2700 && hits < 3300, `hits ${hits}`);
    assert.equal(r.chance(0), false);
    assert.equal(r.chance(1), true);
  });

  test('pick and shuffle are deterministic and shuffle is a permutation', () => {
    const items = [1, 2, 3, 4, 5, 6, 7, 8];
    const s1 = new Prng(5).shuffle([...items]);
    const s2 = new Prng(5).shuffle([...items]);
    assert.deepEqual(s1, s2);
    assert.deepEqual(
      [...s1].sort((a, b) => a - b),
      items,
    );
    assert.notDeepEqual(s1, items);
    const r = new Prng(3);
    for (let i = 0; i < 100; i++) assert.ok(items.includes(r.pick(items)));
    assert.throws(() => r.pick([]));
  });

  test('derived streams depend on the label, not on how much the parent was used', () => {
    const p1 = new Prng(11);
    const p2 = new Prng(11);
    for (let i = 0; i < 50; i++) p2.next();
    const d1 = p1.derive('node 1');
    const d2 = p2.derive('node 1');
    assert.equal(d1.nextUint32(), d2.nextUint32());
    assert.notEqual(p1.derive('node 1').nextUint32(), p1.derive('node 2').nextUint32());
    assert.notEqual(hashString('a'), hashString('b'));
  });
});
