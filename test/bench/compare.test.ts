// The regression guard's comparison (bench/compare.ts): a measure more than 15 % worse than
// the saved run's is flagged, in the right direction for higher- and lower-is-better measures.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { compareGuards, formatComparison, guardOfOutput, type Guard } from '../../bench/compare.ts';

const ratio = (value: number): Guard[string] => ({ value, better: 'higher', kind: 'ratio-to-peer' });
const seconds = (value: number): Guard[string] => ({ value, better: 'lower', kind: 'absolute' });

describe('compareGuards', () => {
  test('flags a higher-is-better measure below 0.85 of the saved one, and only that', () => {
    const old: Guard = { 'inserts.vsLmdb': ratio(2), 'gets.vsLmdb': ratio(4) };
    const next: Guard = { 'inserts.vsLmdb': ratio(1.6), 'gets.vsLmdb': ratio(3.5) };
    const c = compareGuards(old, next);
    assert.deepEqual(c.worse, ['inserts.vsLmdb']);
    assert.equal(c.compared, 2);
    assert.equal(c.rows.find((r) => r.name === 'inserts.vsLmdb')!.ratio, 0.8);
    assert.equal(c.rows.find((r) => r.name === 'gets.vsLmdb')!.status, 'ok');
  });

  test('flags a lower-is-better measure above 1.15 of the saved one; a drop is better, not worse', () => {
    const c = compareGuards({ reopen: seconds(4), memory: seconds(3) }, { reopen: seconds(4.8), memory: seconds(2) });
    assert.deepEqual(c.worse, ['reopen']);
    assert.equal(c.rows.find((r) => r.name === 'memory')!.status, 'better');
  });

  test('agrees with the definition for any pair of values', () => {
    fc.assert(
      fc.property(
        fc.double({ min: 0.001, max: 1e6, noNaN: true }),
        fc.double({ min: 0, max: 1e6, noNaN: true }),
        fc.boolean(),
        (old, next, higher) => {
          const better = higher ? 'higher' : 'lower';
          const c = compareGuards({ m: { value: old, better, kind: 'absolute' } }, { m: { value: next, better, kind: 'absolute' } });
          const expected = higher ? next < 0.85 * old : next > 1.15 * old;
          // Exactly at the boundary floating point may go either way; away from it, it must agree.
          if (Math.abs(next / old - (higher ? 0.85 : 1.15)) > 1e-9) assert.equal(c.worse.length === 1, expected);
        },
      ),
    );
  });

  test('a measure in one run only is listed but neither compared nor flagged', () => {
    const c = compareGuards({ 'q.vsSqlite': ratio(1.4) }, { 'q.ours': { value: 50_000, better: 'higher', kind: 'absolute' } });
    assert.equal(c.compared, 0);
    assert.deepEqual(c.worse, []);
    assert.deepEqual(c.rows.map((r) => r.status).sort(), ['only in saved run', 'only in this run']);
  });

  test('a ratio is never compared with an absolute number of the same name', () => {
    const c = compareGuards({ m: ratio(2) }, { m: { value: 1, better: 'higher', kind: 'absolute' } });
    assert.equal(c.rows[0]!.status, 'not comparable');
    assert.equal(c.compared, 0);
  });

  test('the table shows old, new, new/old and the verdict', () => {
    const text = formatComparison(compareGuards({ a: ratio(2) }, { a: ratio(1) }));
    assert.match(text, /^measure\s+old\s+new\s+new\/old\s+status\s+rounds overlap$/m);
    assert.match(text, /^a\s+2\s+1\s+0\.5\s+worse\s+-$/m);
    assert.match(text, /1 of 1 measures more than 15 % worse: a$/);
  });

  test('says whether the rounds of the two runs overlap; a flag stays a flag either way', () => {
    const withRounds = (value: number, rounds: number[]): Guard[string] => ({ ...ratio(value), rounds });
    const c = compareGuards(
      { noisy: withRounds(2, [1.5, 2, 3]), clear: withRounds(2, [1.9, 2, 2.1]) },
      { noisy: withRounds(1.6, [1.2, 1.6, 1.7]), clear: withRounds(1.6, [1.5, 1.6, 1.7]) },
    );
    assert.deepEqual(c.worse, ['clear', 'noisy']);
    assert.equal(c.rows.find((r) => r.name === 'noisy')!.roundsOverlap, true);
    assert.equal(c.rows.find((r) => r.name === 'clear')!.roundsOverlap, false);
    assert.match(formatComparison(c), /rerun on a quiet box/);
  });
});

describe('guardOfOutput', () => {
  test('reads the suite and guard of a saved run', () => {
    const out = { suite: 'embedded', results: { guard: { a: ratio(1.5) } } };
    assert.deepEqual(guardOfOutput(out), { suite: 'embedded', guard: { a: ratio(1.5) } });
  });

  test('refuses a file without a guard or with a malformed measure, saying why', () => {
    assert.throws(() => guardOfOutput({ suite: 'cluster', results: {} }), /no results\.guard/);
    assert.throws(
      () => guardOfOutput({ suite: 'embedded', results: { guard: { a: { value: '1', better: 'higher', kind: 'absolute' } } } }),
      /results\.guard\["a"\]/,
    );
    assert.throws(() => guardOfOutput([1, 2]), /no "suite"/);
  });
});
