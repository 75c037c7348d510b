// A kind of warning reaches the log at most once per interval, saying how many were held back.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { WarningThrottle } from '../../src/node/warning-throttle.ts';

test('the first warning goes out, then one per interval with the count held back', () => {
  let now = 0;
  const throttle = new WarningThrottle(1000, () => now);
  assert.equal(throttle.take(), 0);
  now = 10;
  assert.equal(throttle.take(), null);
  now = 999;
  assert.equal(throttle.take(), null);
  now = 1000;
  assert.equal(throttle.take(), 2, 'two held back since the last one');
  now = 1500;
  assert.equal(throttle.take(), null);
  now = 5000;
  assert.equal(throttle.take(), 1);
  now = 9000;
  assert.equal(throttle.take(), 0);
});
