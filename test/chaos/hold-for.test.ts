// A fault is held for its whole duration on the monotonic clock the report measures it with
// (src/chaos/faults.ts, holdFor): a timer alone can end up to 1 ms short of it (libuv counts
// its loop time in whole milliseconds), which CI saw as a pause reported shorter than it was.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { holdFor } from '../../src/chaos/faults.ts';

test('holdFor never ends before its duration has passed on the monotonic clock', async () => {
  // A plain 5 ms timer ended short about once in 200 here: 300 holds would meet it.
  for (let i = 0; i < 300; i++) {
    const t0 = performance.now();
    await holdFor(5);
    const held = performance.now() - t0;
    assert.ok(held >= 5, `hold ${i}: ${held} ms`);
  }
});
