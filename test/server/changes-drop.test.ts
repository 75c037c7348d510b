// DELETE /api/:collection in the change streams: one `Dropped` event after the collection's
// last change, in the collection's stream and the database's, to the client's watch() and the
// embedded one alike, replayed on resume; nothing for a collection that was not there; a
// collection of the same name made again starts with `Created` events after it.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { connect, type ChangeEvent } from '../../src/client/index.ts';
import { open } from '../../src/index.ts';
import { EmbeddedBackend } from '../../src/node/embedded-backend.ts';
import { createServer } from '../../src/server/index.ts';

const summary = (e: ChangeEvent): string => `${e.collection}/${e.aggregateId} ${e.eventType}`;

/** The next `count` events, or a failure naming what arrived when they do not come within 5 s. */
async function take(iterator: AsyncGenerator<ChangeEvent, void, undefined>, count: number): Promise<ChangeEvent[]> {
  const out: ChangeEvent[] = [];
  const deadline = Date.now() + 5000;
  while (out.length < count) {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`${count} events expected, ${out.length} arrived: ${out.map(summary).join(', ')}`)),
        deadline - Date.now(),
      );
    });
    try {
      const step = await Promise.race([iterator.next(), late]);
      assert.equal(step.done, false, 'the watch ended early');
      out.push(step.value as ChangeEvent);
    } finally {
      clearTimeout(timer);
    }
  }
  return out;
}

test('dropping a collection: one Dropped event, to every watcher, replayed on resume', { timeout: 15_000 }, async () => {
  const db = await open({ memory: true });
  const app = await createServer({ backend: new EmbeddedBackend(db, 'http://127.0.0.1:0') });
  const url = await app.listen({ port: 0, host: '127.0.0.1' });
  const client = connect(url, { backoff: { delayMsInitial: 10, delayMsMax: 50 } });
  try {
    const orders = client.collection('orders');
    const live = orders.watch({ resumeAfter: '0' });
    const embedded = db.collection('orders').watch({ resumeAfter: '0' });
    const everything = client.watch({ resumeAfter: '0' });
    await orders.insertMany([{ _id: 'a' }, { _id: 'b' }]);
    await client.collection('other').insert({ _id: 'x' });
    await orders.remove('a');

    const missing = await fetch(`${url}/api/none`, { method: 'DELETE' });
    assert.equal(missing.status, 404);
    const dropped = await fetch(`${url}/api/orders`, { method: 'DELETE' });
    assert.equal(dropped.status, 204);
    await orders.insert({ _id: 'a', again: true });

    const want = ['orders/a Created', 'orders/b Created', 'orders/a Deleted', 'orders/ Dropped', 'orders/a Created'];
    const seen = await take(live, 5);
    assert.deepEqual(seen.map(summary), want);
    const drop = seen[3]!;
    assert.equal(drop.data, undefined);
    assert.equal(drop.position, 0);
    assert.ok(drop.sequence > seen[2]!.sequence && drop.sequence < seen[4]!.sequence);
    assert.equal(seen[4]!.data?.['again'], true);
    // The embedded watch and the database's stream: the same event, the same id.
    assert.deepEqual(await take(embedded, 5), seen);
    const all = await take(everything, 6);
    assert.deepEqual(all.map(summary), [...want.slice(0, 2), 'other/x Created', ...want.slice(2)]);
    assert.deepEqual(all[4], drop);
    // Resuming after the last change before the drop replays it.
    assert.deepEqual(await take(orders.watch({ resumeAfter: seen[2]!.eventId }), 2), seen.slice(3));
    // Another collection's stream does not get it (`other` was not dropped).
    const others = client.collection('other').watch({ resumeAfter: '0' });
    await client.collection('other').insert({ _id: 'y' });
    assert.deepEqual((await take(others, 2)).map(summary), ['other/x Created', 'other/y Created']);
    await Promise.all([live.return(), embedded.return(), everything.return(), others.return()]);
  } finally {
    await client.close();
    await app.close();
    await db.close();
  }
});
