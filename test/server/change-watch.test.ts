// watch() of the embedded database (src/node/change-watch.ts): the same events and tokens as
// the HTTP change streams, resumable, and a slow consumer that never holds up writes.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { open } from '../../src/index.ts';
import { watchFeed } from '../../src/node/change-watch.ts';
import { StoreError } from '../../src/store/errors.ts';
import type { RaftEvent } from '../../src/store/raft-event.ts';

async function take(iterator: AsyncGenerator<RaftEvent, void, undefined>, count: number): Promise<RaftEvent[]> {
  const out: RaftEvent[] = [];
  while (out.length < count) {
    const step = await iterator.next();
    assert.equal(step.done, false, 'the watch ended early');
    out.push(step.value as RaftEvent);
  }
  return out;
}

const summary = (e: RaftEvent): string => `${e.collection}/${e.aggregateId} ${e.eventType}`;

describe('embedded watch()', () => {
  test('a collection’s changes, a transaction’s several in one entry, deletes; resumable from any event id', async () => {
    const db = await open({ memory: true });
    try {
      const col = db.collection('c');
      await col.insert({ _id: 'before' });
      const watch = col.watch();
      const first = watch.next(); // starts the watch: live from here
      await col.insert({ _id: 'a', n: 1 });
      await db.collection('other').insert({ _id: 'z' });
      await db.transaction((tx) => {
        tx.collection('c').update({ _id: 'a' }, { $inc: { n: 1 } });
        tx.collection('c').insert({ _id: 'b' });
      });
      await col.remove('a');
      const events = [(await first).value as RaftEvent, ...(await take(watch, 3))];
      await watch.return();
      assert.deepEqual(events.map(summary), ['c/a Created', 'c/a Updated', 'c/b Created', 'c/a Deleted']);
      assert.equal(events[1]!.sequence, events[2]!.sequence, 'one entry');
      assert.deepEqual([events[1]!.position, events[2]!.position], [0, 1]);

      // Resume after the update (position 0): the insert of the same entry comes next.
      const resumed = col.watch({ resumeAfter: events[1]!.eventId });
      assert.deepEqual(await take(resumed, 2), events.slice(2));
      await resumed.return();
      // The whole database: the other collection too.
      const all = db.watch({ resumeAfter: events[0]!.eventId });
      assert.deepEqual((await take(all, 2)).map(summary), ['other/z Created', 'c/a Updated']);
      await all.return();
    } finally {
      await db.close();
    }
  });

  test('an aborted signal ends the iteration; a bad token is refused', async () => {
    const db = await open({ memory: true });
    try {
      const controller = new AbortController();
      const watch = db.collection('c').watch({ signal: controller.signal });
      const pending = watch.next();
      controller.abort();
      assert.equal((await pending).done, true);
      await assert.rejects(db.collection('c').watch({ resumeAfter: 'x' }).next(), /resumeAfter/);
    } finally {
      await db.close();
    }
  });

  test('a slow consumer: its queue is dropped and it reads on from the retained log, missing nothing', async () => {
    const db = await open({ memory: true });
    try {
      const col = db.collection('c');
      // A queue of 3 for the test: 20 writes overflow it while nobody reads.
      const watch = watchFeed(db.changes, 'c', { resumeAfter: '0' }, 3);
      const firstStep = watch.next();
      for (let i = 0; i < 20; i++) await col.insert({ _id: `d${String(i).padStart(2, '0')}` });
      const events = [(await firstStep).value as RaftEvent, ...(await take(watch, 19))];
      assert.deepEqual(
        events.map((e) => e.aggregateId),
        Array.from({ length: 20 }, (_, i) => `d${String(i).padStart(2, '0')}`),
      );
      await watch.return();
    } finally {
      await db.close();
    }
  });

  test('a token the log no longer retains: CHANGES_EXPIRED', async () => {
    const db = await open({ memory: true });
    try {
      await db.collection('c').insert({ _id: 'a' });
      db.changes.restartAt(db.store.lastApplied); // as after a snapshot installed here
      await assert.rejects(
        db.collection('c').watch({ resumeAfter: '1.0' }).next(),
        (error: unknown) => error instanceof StoreError && error.code === 'CHANGES_EXPIRED',
      );
    } finally {
      await db.close();
    }
  });
});
