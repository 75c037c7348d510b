import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ApplyPacing } from '../../src/node/apply-pacing.ts';

function pacingAfter(cycles: number, busyMs: number, idleMs: number): ApplyPacing {
  const pacing = new ApplyPacing();
  for (let i = 0; i < cycles; i++) pacing.cycle(busyMs, idleMs);
  return pacing;
}

describe('ApplyPacing', () => {
  test('one group until cycles have been measured, and never a budget below one', () => {
    const pacing = new ApplyPacing();
    assert.equal(pacing.splitting, false);
    assert.equal(pacing.budget(64), 64);
    assert.equal(pacing.budget(0), 1);
    assert.equal(pacing.groupLimit(64), Infinity);
  });

  test('splits in halves when the event loop is busy for more of a cycle than it waits', () => {
    // 64 writers at 10 µs each (0.64 ms of work) against a 0.3 ms disk write.
    const pacing = pacingAfter(40, 0.64, 0.3);
    assert.equal(pacing.splitting, true);
    assert.equal(pacing.budget(64), 32);
    assert.equal(pacing.budget(63), 32);
    assert.equal(pacing.budget(1), 1);
    assert.equal(pacing.groupLimit(64), 32);
    assert.equal(pacing.groupLimit(1), Infinity);
  });

  test('stays with one group when the disk dominates (few writers, slow disk)', () => {
    // 8 writers at 10 µs (0.08 ms) against a 2 ms write.
    const pacing = pacingAfter(40, 0.08, 2);
    assert.equal(pacing.splitting, false);
    assert.equal(pacing.budget(16), 16);
    assert.equal(pacing.groupLimit(16), Infinity);
  });

  test('follows conditions as they change, smoothly', () => {
    const pacing = pacingAfter(40, 0.64, 0.3);
    pacing.cycle(0.05, 5); // one slow write does not flip it
    assert.equal(pacing.splitting, true);
    for (let i = 0; i < 40; i++) pacing.cycle(0.05, 5); // the disk stays slow
    assert.equal(pacing.splitting, false);
    pacing.cycle(0, 0); // an empty cycle changes nothing
    assert.equal(pacing.splitting, false);
  });
});
