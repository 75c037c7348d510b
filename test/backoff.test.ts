// The one backoff of the project (src/backoff.ts): the client's retries and the
// transport's reconnects both wait what it says.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { backoffDelay, validateBackoff } from '../src/backoff.ts';

describe('backoffDelay', () => {
  test('stays within [cap/2, cap], cap = min(max, initial * 2^retry)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 40 }),
        fc.integer({ min: 1, max: 1000 }),
        fc.integer({ min: 0, max: 100_000 }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        (retry, delayMsInitial, extra, random) => {
          const policy = { delayMsInitial, delayMsMax: delayMsInitial + extra };
          const cap = Math.min(policy.delayMsMax, delayMsInitial * 2 ** retry);
          const delay = backoffDelay(retry, policy, random);
          return delay >= cap / 2 && delay <= cap;
        },
      ),
      { numRuns: 300 },
    );
  });

  test('grows exponentially until the cap', () => {
    const policy = { delayMsInitial: 10, delayMsMax: 100 };
    assert.deepEqual(
      [0, 1, 2, 3, 4, 5].map((retry) => backoffDelay(retry, policy, 0)),
      [5, 10, 20, 40, 50, 50],
    );
    assert.throws(() => backoffDelay(-1, policy, 0), RangeError);
    assert.throws(() => backoffDelay(0, policy, 1), RangeError);
  });

  test('grows exponentially to the cap, with jitter in [half, full]', () => {
    const policy = { delayMsInitial: 100, delayMsMax: 1000 };
    assert.equal(backoffDelay(0, policy, 0), 50);
    assert.equal(backoffDelay(0, policy, 0.999999), 100);
    assert.equal(backoffDelay(2, policy, 0), 200);
    assert.equal(backoffDelay(3, policy, 0.5), 600);
    assert.equal(backoffDelay(10, policy, 0.999999), 1000);
    assert.equal(backoffDelay(1000, policy, 0), 500);
    assert.throws(() => backoffDelay(0, { delayMsInitial: 10, delayMsMax: 5 }, 0), RangeError);
  });

  test('validateBackoff refuses bounds out of order, negative or not finite', () => {
    validateBackoff({ delayMsInitial: 0, delayMsMax: 0 });
    validateBackoff({ delayMsInitial: 5, delayMsMax: 5 });
    for (const policy of [
      { delayMsInitial: 10, delayMsMax: 1 },
      { delayMsInitial: -1, delayMsMax: 1 },
      { delayMsInitial: 1, delayMsMax: Infinity },
      { delayMsInitial: NaN, delayMsMax: 1 },
    ]) {
      assert.throws(() => validateBackoff(policy), RangeError, JSON.stringify(policy));
    }
  });
});
