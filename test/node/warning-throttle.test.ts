// A kind of warning reaches the log at most once per interval, saying how many were held back.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { throttledWarning, WarningThrottle } from '../../src/node/warning-throttle.ts';

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

test('throttledWarning: a line per interval, with the fields of its event and heldBack after a pause', () => {
  let now = 0;
  const lines: Array<[Record<string, unknown>, string]> = [];
  const warn = throttledWarning<number>(
    (fields, message) => lines.push([fields, message]),
    'slow',
    (ms) => ({ ms }),
    new WarningThrottle(1000, () => now),
  );
  warn(150);
  now = 100;
  warn(160);
  warn(170);
  now = 1200;
  warn(180);
  assert.deepEqual(lines, [
    [{ ms: 150 }, 'slow'],
    [{ ms: 180, heldBack: 2 }, 'slow'],
  ]);
});
