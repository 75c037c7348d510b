import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { AppliedWaiters } from '../../src/node/node-waiting.ts';

describe('AppliedWaiters', () => {
  test('wakes the waiters whose index is applied, keeps the others', async () => {
    let applied = 3;
    const waiters = new AppliedWaiters(() => applied);
    await waiters.wait(2, Date.now() + 1000); // already applied: at once
    const five = waiters.wait(5, Date.now() + 1000);
    const nine = waiters.wait(9, Date.now() + 1000);
    applied = 6;
    waiters.wake();
    await five;
    assert.equal(waiters.size, 1);
    waiters.rejectAll(new Error('stopped'));
    await assert.rejects(nine, /stopped/);
    assert.equal(waiters.size, 0);
  });

  test('a waiter that times out leaves (nothing piles up for an index never reached)', async () => {
    const waiters = new AppliedWaiters(() => 0);
    const late = waiters.wait(100, Date.now() + 20);
    assert.equal(waiters.size, 1);
    await assert.rejects(late, /did not apply the entry in time/);
    assert.equal(waiters.size, 0);
  });
});
