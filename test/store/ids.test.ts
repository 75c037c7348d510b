import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createIdGenerator, ID_LENGTH } from '../../src/store/ids.ts';

function seededBytes(seed: number): (n: number) => Uint8Array {
  let x = seed;
  return (n) => {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      x = (x * 1103515245 + 12345) >>> 0;
      out[i] = x >>> 24;
    }
    return out;
  };
}

describe('id generator', () => {
  test('ids are URL-safe, fixed length and unique', () => {
    let t = 1_700_000_000_000;
    const next = createIdGenerator(() => t, seededBytes(1));
    const ids = new Set<string>();
    for (let i = 0; i < 10_000; i++) {
      if (i % 100 === 0) t++;
      const id = next();
      assert.match(id, /^[A-Za-z0-9_-]+$/);
      assert.equal(id.length, ID_LENGTH);
      ids.add(id);
    }
    assert.equal(ids.size, 10_000);
  });

  test('lexicographic order is creation order: same millisecond and a clock going backwards', () => {
    const clock = [1000, 1000, 1000, 999, 500, 1001, 1001, 2000, 1500];
    let i = 0;
    // Random bytes that decrease, so ordering cannot come from them.
    let r = 255;
    const next = createIdGenerator(
      () => clock[Math.min(i++, clock.length - 1)]!,
      (n) => new Uint8Array(n).fill(r--),
    );
    const ids = clock.map(() => next());
    const sorted = ids.slice().sort();
    assert.deepEqual(ids, sorted);
    assert.equal(new Set(ids).size, ids.length);
  });

  test('a sequence that overflows within one millisecond borrows the next millisecond, never repeating or reordering', () => {
    // 64^4 ids share a millisecond; the next ones must carry the next millisecond's prefix.
    const perMillisecond = 64 ** 4;
    const next = createIdGenerator(() => 1000, seededBytes(3));
    const first = next();
    let previous = first;
    for (let k = 1; k < perMillisecond; k++) {
      const id = next();
      if (!(id > previous)) assert.fail(`id ${k} ${id} does not sort after ${previous}`);
      previous = id;
    }
    const borrowed = next();
    assert.ok(borrowed > previous);
    assert.equal(previous.slice(0, 8), first.slice(0, 8), 'the first 64^4 ids share the millisecond');
    assert.notEqual(borrowed.slice(0, 8), first.slice(0, 8), 'the next id moved to the next millisecond');
    assert.equal(borrowed.slice(8, 12), '----', 'its sequence starts again');
  });

  test('later milliseconds sort after earlier ones', () => {
    let t = 5;
    const next = createIdGenerator(() => t, seededBytes(2));
    const a = next();
    t = 64 ** 3;
    const b = next();
    assert.ok(a < b);
  });
});
