// ReadIndex rounds on a node: reads that arrive together share a round, one round is in
// flight at a time, and a read is only ever served by a round that started after it
// arrived: the linearizability of reads rests on that.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { FOLLOWER_LAG_ENTRIES_MAX } from '../../src/node/catch-up.ts';
import { ReadIndexReads } from '../../src/node/node-reads.ts';
import { StoreError } from '../../src/store/errors.ts';

/** A host whose core records each ReadIndex request; the test confirms them by hand. */
function harness(): { reads: ReadIndexReads; started: number[]; confirm: (context: number, index: number) => void } {
  const started: number[] = [];
  const reads = new ReadIndexReads({
    electionTimeoutMs: 1000, // a round is retried after 2 s: longer than any test here takes
    core: () => ({
      readIndex: (context: number): boolean => {
        started.push(context);
        return true;
      },
    }),
    assertUsable: () => {},
    guarded: <T>(call: () => T): T => call(),
    scheduleReady: () => {},
    waitForLeaderChange: () => Promise.reject(new Error('no leader change expected')),
  });
  return {
    reads,
    started,
    confirm: (context, index) => {
      reads.confirmed([{ context, index }], index);
      reads.serve(index);
    },
  };
}

/** Lets queued microtasks and promise callbacks run. */
async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await Promise.resolve();
}

function track(promise: Promise<void>): { done: () => boolean } {
  let done = false;
  void promise.then(() => {
    done = true;
  });
  return { done: () => done };
}

describe('ReadIndex rounds', () => {
  test('reads that arrive together share one round', async () => {
    const { reads, started, confirm } = harness();
    const a = reads.confirm(Date.now() + 60_000);
    const b = reads.confirm(Date.now() + 60_000);
    const c = reads.confirm(Date.now() + 60_000);
    await settle();
    assert.equal(started.length, 1);
    confirm(started[0]!, 7);
    await Promise.all([a, b, c]);
  });

  test('a read arriving after a round started waits for a later round', async () => {
    const { reads, started, confirm } = harness();
    const first = track(reads.confirm(Date.now() + 60_000));
    await settle();
    assert.equal(started.length, 1);
    const second = track(reads.confirm(Date.now() + 60_000));
    await settle();
    // The first round completing must not serve the second read: it began before it.
    confirm(started[0]!, 3);
    await settle();
    assert.equal(first.done(), true);
    assert.equal(second.done(), false);
    assert.equal(started.length, 2);
    confirm(started[1]!, 4);
    await settle();
    assert.equal(second.done(), true);
  });

  test('one round in flight: every read arriving meanwhile shares the next, which starts when it ends', async () => {
    const { reads, started, confirm } = harness();
    const first = track(reads.confirm(Date.now() + 60_000));
    await settle();
    const queued = [track(reads.confirm(Date.now() + 60_000)), track(reads.confirm(Date.now() + 60_000)), track(reads.confirm(Date.now() + 60_000))];
    await settle();
    assert.equal(started.length, 1, 'no second round while the first is in flight');
    confirm(started[0]!, 10);
    await settle();
    assert.equal(first.done(), true);
    assert.equal(started.length, 2, 'the next round started when the first ended');
    assert.equal(
      queued.some((q) => q.done()),
      false,
    );
    confirm(started[1]!, 11);
    await settle();
    assert.equal(
      queued.every((q) => q.done()),
      true,
      'the queued reads shared that round',
    );
  });

  test('a read whose index is more than FOLLOWER_LAG_ENTRIES_MAX past what this node applied is refused at once (NOT_CAUGHT_UP), not held', async () => {
    const { reads, started } = harness();
    const far = reads.confirm(Date.now() + 60_000);
    await settle();
    reads.confirmed([{ context: started[0]!, index: 5000 + FOLLOWER_LAG_ENTRIES_MAX + 1 }], 5000);
    await assert.rejects(
      far,
      (error: unknown) => error instanceof StoreError && error.code === 'NOT_CAUGHT_UP' && /1001 log entries behind/.test(error.message),
    );
    // Just within the bound: held until applied, as before.
    const near = track(reads.confirm(Date.now() + 60_000));
    await settle();
    reads.confirmed([{ context: started[1]!, index: 5000 + FOLLOWER_LAG_ENTRIES_MAX }], 5000);
    reads.serve(5000);
    await settle();
    assert.equal(near.done(), false, 'waits for its index');
    reads.serve(5000 + FOLLOWER_LAG_ENTRIES_MAX);
    await settle();
    assert.equal(near.done(), true);
  });
});
