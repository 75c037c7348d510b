import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ApplyPacing } from '../../src/node/apply-pacing.ts';

describe('ApplyPacing', () => {
  test('takes everything until a write has been measured, and never less than one', () => {
    const pacing = new ApplyPacing();
    assert.equal(pacing.budget(64), 64);
    assert.equal(pacing.budget(0), 1);
    pacing.wrote(0.4);
    assert.equal(pacing.budget(1), 1);
  });

  test('splits the backlog in halves when applying half takes longer than half a write', () => {
    const pacing = new ApplyPacing();
    pacing.wrote(0.4); // ms per log write
    pacing.applied(64, 64 * 0.01); // 10 µs per entry: half of 64 = 0.32 ms > 0.2 ms
    assert.equal(pacing.budget(64), 32);
    assert.equal(pacing.budget(63), 32);
    assert.equal(pacing.budget(8), 8, "too few to be worth splitting: 4 entries take 0.04 ms");
  });

  test('applies everything at once when the disk dominates (few writers, slow disk)', () => {
    const pacing = new ApplyPacing();
    pacing.wrote(2); // 2 ms writes
    pacing.applied(16, 16 * 0.01); // half of 16 entries = 0.08 ms < 1 ms
    assert.equal(pacing.budget(16), 16);
  });

  test('follows the moving averages as conditions change', () => {
    const pacing = new ApplyPacing();
    pacing.wrote(0.2);
    pacing.applied(10, 0.1); // 10 µs per entry
    assert.equal(pacing.budget(64), 32);
    for (let i = 0; i < 60; i++) pacing.wrote(5); // the disk slows down
    assert.equal(pacing.budget(64), 64);
  });
});
