import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { BTree } from '../../src/store/btree.ts';

const cmp = (a: number, b: number): number => a - b;

describe('BTree', () => {
  test('set, get, replace, delete', () => {
    const t = new BTree<number, string>(cmp);
    assert.equal(t.set(5, 'a'), true);
    assert.equal(t.set(5, 'b'), false);
    assert.equal(t.get(5), 'b');
    assert.equal(t.size, 1);
    assert.equal(t.delete(5), true);
    assert.equal(t.delete(5), false);
    assert.equal(t.get(5), undefined);
    assert.equal(t.size, 0);
  });

  test('many keys: ordered iteration, ranges both ways, invariants through deletes', () => {
    const t = new BTree<number, number>(cmp);
    const n = 5000;
    for (let i = 0; i < n; i++) t.set((i * 7919) % n, i);
    t.checkInvariants();
    assert.deepEqual(
      t.entries().map(([k]) => k),
      Array.from({ length: n }, (_, i) => i),
    );
    assert.deepEqual(
      t.entries(100, 105).map(([k]) => k),
      [100, 101, 102, 103, 104, 105],
    );
    assert.deepEqual(
      t.entries(100, 105, true).map(([k]) => k),
      [105, 104, 103, 102, 101, 100],
    );
    for (let i = 0; i < n; i += 2) assert.equal(t.delete(i), true);
    t.checkInvariants();
    assert.equal(t.size, n / 2);
    assert.deepEqual(
      t.entries(0, 9).map(([k]) => k),
      [1, 3, 5, 7, 9],
    );
  });

  test('isAfterLast is "greater than every key held", through inserts and deletes', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.boolean(), fc.integer({ min: 0, max: 300 })), { maxLength: 400, size: 'max' }),
        fc.integer({ min: -1, max: 301 }),
        (ops, probe) => {
          const t = new BTree<number, number>(cmp);
          const held = new Set<number>();
          for (const [insert, key] of ops) {
            if (insert) {
              t.set(key, key);
              held.add(key);
            } else {
              t.delete(key);
              held.delete(key);
            }
            const max = held.size === 0 ? -Infinity : Math.max(...held);
            assert.equal(t.isAfterLast(probe), probe > max);
            assert.equal(t.isAfterLast(key), key > max);
          }
        },
      ),
      { numRuns: 100 },
    );
  });

  test('scan stops when the visitor returns false', () => {
    const t = new BTree<number, number>(cmp);
    for (let i = 0; i < 1000; i++) t.set(i, i);
    const seen: number[] = [];
    t.scan(500, undefined, false, (k) => {
      seen.push(k);
      return seen.length < 3;
    });
    assert.deepEqual(seen, [500, 501, 502]);
  });

  test('load builds a valid tree and rejects unsorted input', () => {
    for (const n of [0, 1, 64, 65, 74, 75, 1000, 10_000]) {
      const t = new BTree<number, number>(cmp);
      const keys = Array.from({ length: n }, (_, i) => i * 2);
      t.load(
        keys,
        keys.map((k) => -k),
      );
      t.checkInvariants();
      assert.equal(t.size, n);
      if (n > 0) assert.equal(t.get(keys[n - 1]!), -keys[n - 1]!);
      t.set(1, 1);
      t.checkInvariants();
    }
    assert.throws(() => new BTree<number, number>(cmp).load([2, 1], [0, 0]), /ascending/);
  });

  test('property: matches a sorted-array model under random operations', () => {
    type Op = { op: 'set'; k: number } | { op: 'del'; k: number } | { op: 'range'; lo: number; hi: number; rev: boolean };
    const opArb: fc.Arbitrary<Op> = fc.oneof(
      { weight: 5, arbitrary: fc.record({ op: fc.constant('set' as const), k: fc.integer({ min: 0, max: 600 }) }) },
      { weight: 4, arbitrary: fc.record({ op: fc.constant('del' as const), k: fc.integer({ min: 0, max: 600 }) }) },
      {
        weight: 1,
        arbitrary: fc.record({
          op: fc.constant('range' as const),
          lo: fc.integer({ min: 0, max: 600 }),
          hi: fc.integer({ min: 0, max: 600 }),
          rev: fc.boolean(),
        }),
      },
    );
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 1500, size: 'max' }), (ops) => {
        const t = new BTree<number, number>(cmp);
        let model: number[] = [];
        ops.forEach((o, i) => {
          if (o.op === 'set') {
            const isNew = !model.includes(o.k);
            assert.equal(t.set(o.k, i), isNew);
            if (isNew) model = [...model, o.k].sort(cmp);
          } else if (o.op === 'del') {
            assert.equal(t.delete(o.k), model.includes(o.k));
            model = model.filter((k) => k !== o.k);
          } else {
            const expect = model.filter((k) => k >= o.lo && k <= o.hi);
            if (o.rev) expect.reverse();
            assert.deepEqual(
              t.entries(o.lo, o.hi, o.rev).map(([k]) => k),
              expect,
            );
          }
        });
        t.checkInvariants();
        assert.deepEqual(
          t.entries().map(([k]) => k),
          model,
        );
        assert.equal(t.size, model.length);
      }),
      { numRuns: 60 },
    );
  });

  test('property: mostly ascending keys (time-ordered ids take the append path) match the model', () => {
    // Each step appends past the largest key, repeats the largest, or goes back below it.
    const stepArb = fc.oneof(
      { weight: 6, arbitrary: fc.integer({ min: 1, max: 3 }).map((d) => ({ kind: 'append' as const, d })) },
      { weight: 1, arbitrary: fc.constant({ kind: 'repeat' as const, d: 0 }) },
      { weight: 2, arbitrary: fc.integer({ min: 1, max: 400 }).map((d) => ({ kind: 'back' as const, d })) },
    );
    fc.assert(
      fc.property(fc.array(stepArb, { maxLength: 2000, size: 'max' }), (steps) => {
        const t = new BTree<number, number>(cmp);
        const model = new Map<number, number>();
        let top = 0;
        steps.forEach((s, i) => {
          const k = s.kind === 'append' ? (top += s.d) : s.kind === 'repeat' ? top : Math.max(0, top - s.d);
          assert.equal(t.set(k, i), !model.has(k));
          model.set(k, i);
          assert.equal(t.get(k), i);
          assert.equal(t.has(top + 1), false);
        });
        t.checkInvariants();
        const keys = [...model.keys()].sort(cmp);
        assert.deepEqual(
          t.entries().map(([k]) => k),
          keys,
        );
        for (const k of keys) assert.equal(t.get(k), model.get(k));
      }),
      { numRuns: 40 },
    );
  });
});

describe('BTree of (key, value) pairs (a tie order)', () => {
  type Pair = readonly [number, number];
  const byPair = (a: Pair, b: Pair): number => a[0] - b[0] || a[1] - b[1];
  const pairs = (t: BTree<number, number>, lo?: Pair, hi?: Pair, reverse = false): Pair[] => {
    const out: Pair[] = [];
    t.scan(lo?.[0], hi?.[0], reverse, (k, v) => void out.push([k, v]), lo?.[1], hi?.[1]);
    return out;
  };

  test('one key holds many values; each pair is held once, found and removed by its value', () => {
    const t = new BTree<number, number>(cmp, cmp);
    assert.equal(t.set(1, 10), true);
    assert.equal(t.set(1, 5), true);
    assert.equal(t.set(1, 10), false);
    assert.equal(t.set(0, 99), true);
    assert.equal(t.size, 3);
    assert.deepEqual(pairs(t), [
      [0, 99],
      [1, 5],
      [1, 10],
    ]);
    assert.equal(t.has(1, 5), true);
    assert.equal(t.has(1, 6), false);
    assert.equal(t.delete(1, 6), false);
    assert.equal(t.delete(1, 5), true);
    assert.deepEqual(pairs(t), [
      [0, 99],
      [1, 10],
    ]);
    // Bounds are pairs: (1, 0) to (1, 9) holds nothing of key 1 once (1, 5) is gone.
    assert.deepEqual(pairs(t, [1, 0], [1, 9]), []);
    assert.throws(() => t.get(1), /pairs/);
    assert.throws(() => t.delete(1), /needs the value/);
    assert.throws(() => t.set(1, undefined as unknown as number), /needs the value/);
    assert.throws(() => t.scan(1, undefined, false, () => true), /needs its value/);
  });

  test('property: matches a sorted model of pairs under random adds, removes and scans', () => {
    type Op = { op: 'add' | 'del'; k: number; v: number } | { op: 'range'; lo: Pair; hi: Pair; rev: boolean; open: 'none' | 'lo' | 'hi' };
    const pairArb = fc.tuple(fc.integer({ min: 0, max: 12 }), fc.integer({ min: 0, max: 120 }));
    // Bounds may fall between values, or below and above them all (as index scans' sentinels do).
    const boundArb = fc.tuple(fc.integer({ min: -1, max: 13 }), fc.integer({ min: -1, max: 121 }));
    const opArb: fc.Arbitrary<Op> = fc.oneof(
      { weight: 5, arbitrary: pairArb.map(([k, v]) => ({ op: 'add' as const, k, v })) },
      { weight: 3, arbitrary: pairArb.map(([k, v]) => ({ op: 'del' as const, k, v })) },
      {
        weight: 1,
        arbitrary: fc.record({
          op: fc.constant('range' as const),
          lo: boundArb,
          hi: boundArb,
          rev: fc.boolean(),
          open: fc.constantFrom('none' as const, 'lo' as const, 'hi' as const),
        }),
      },
    );
    fc.assert(
      fc.property(
        fc.uniqueArray(pairArb, { selector: ([k, v]) => `${k}/${v}`, maxLength: 600, size: 'max' }),
        fc.array(opArb, { maxLength: 1200, size: 'max' }),
        (start, ops) => {
          const t = new BTree<number, number>(cmp, cmp);
          let model: Pair[] = [...start].sort(byPair);
          t.load(
            model.map(([k]) => k),
            model.map(([, v]) => v),
          );
          t.checkInvariants();
          const held = (k: number, v: number): boolean => model.some((p) => p[0] === k && p[1] === v);
          for (const o of ops) {
            if (o.op === 'add') {
              const isNew = !held(o.k, o.v);
              assert.equal(t.set(o.k, o.v), isNew);
              if (isNew) model = [...model, [o.k, o.v] as const].sort(byPair);
            } else if (o.op === 'del') {
              assert.equal(t.delete(o.k, o.v), held(o.k, o.v));
              model = model.filter((p) => p[0] !== o.k || p[1] !== o.v);
            } else if (o.op === 'range') {
              const lo = o.open === 'lo' ? undefined : o.lo;
              const hi = o.open === 'hi' ? undefined : o.hi;
              const expect = model.filter((p) => (lo === undefined || byPair(p, lo) >= 0) && (hi === undefined || byPair(p, hi) <= 0));
              if (o.rev) expect.reverse();
              assert.deepEqual(pairs(t, lo, hi, o.rev), expect);
            }
          }
          t.checkInvariants();
          assert.deepEqual(pairs(t), model);
          assert.equal(t.size, model.length);
        },
      ),
      { numRuns: 60 },
    );
  });

  test('property: thousands of pairs (three levels: separators of separators) added, then mostly removed', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 2 ** 31 - 1 }), (seed) => {
        // mulberry32: the tree's shape follows from the seed.
        let x = seed;
        const next = (n: number): number => {
          x = (x + 0x6d2b79f5) | 0;
          let r = Math.imul(x ^ (x >>> 15), 1 | x);
          r = (r + Math.imul(r ^ (r >>> 7), 61 | r)) ^ r;
          return ((r ^ (r >>> 14)) >>> 0) % n;
        };
        const t = new BTree<number, number>(cmp, cmp);
        const model = new Set<string>();
        for (let i = 0; i < 12_000; i++) {
          const k = next(60);
          const v = next(100_000);
          assert.equal(t.set(k, v), !model.has(`${k}/${v}`));
          model.add(`${k}/${v}`);
        }
        t.checkInvariants();
        assert.ok(t.depth() >= 3, `a tree of ${t.size} entries is ${t.depth()} levels deep`);
        const held = [...model].map((p) => p.split('/').map(Number) as [number, number]);
        for (let i = held.length - 1; i > 0; i--) {
          const j = next(i + 1);
          [held[i], held[j]] = [held[j]!, held[i]!];
        }
        for (const [k, v] of held.slice(0, held.length - 50)) {
          assert.equal(t.delete(k, v), true);
          assert.equal(t.delete(k, v), false);
          model.delete(`${k}/${v}`);
        }
        t.checkInvariants();
        const expect = [...model].map((p) => p.split('/').map(Number) as unknown as Pair).sort(byPair);
        assert.deepEqual(pairs(t), expect);
        assert.deepEqual(pairs(t, undefined, undefined, true), expect.slice().reverse());
      }),
      { numRuns: 8 },
    );
  });

  test('load refuses pairs out of order or repeated', () => {
    assert.throws(() => new BTree<number, number>(cmp, cmp).load([1, 1], [2, 1]), /ascending/);
    assert.throws(() => new BTree<number, number>(cmp, cmp).load([1, 1], [2, 2]), /ascending/);
    const t = new BTree<number, number>(cmp, cmp);
    t.load([1, 1, 2], [1, 2, 0]);
    t.checkInvariants();
  });
});
