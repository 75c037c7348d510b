// TTL (issue #14): reads never return a document whose `ttlField` expired by the reading
// node's clock, and the leader's sweep removes it through the log (history records the
// deletion); a document changed since the sweep saw it is left alone (its `_rev` guard).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { open } from '../../src/node/embedded-database.ts';
import { eventually } from '../cluster/harness.ts';

test('expired documents are hidden from every read at once, then removed by the sweep through the log', async () => {
  const db = await open({ memory: true, ttlSweepIntervalMs: 50 });
  try {
    const sessions = db.collection('sessions', { schema: { type: 'object' }, ttlField: 'expireAt', trackHistory: true });
    await sessions.insert({ _id: 'keep', expireAt: Date.now() + 60_000 });
    await sessions.insert({ _id: 'never' });
    // Expired already: stored (no sweep has run), never read.
    await sessions.insert({ _id: 'gone', expireAt: new Date(Date.now() - 1).toISOString() });
    assert.equal(sessions.findOne({ _id: 'gone' }), null);
    assert.equal(db.store.get('sessions', 'gone'), undefined);
    assert.equal(sessions.count(), 2);
    assert.deepEqual(
      sessions.find().map((d) => d._id),
      ['keep', 'never'],
    );
    await eventually(
      'the sweep removed it',
      async () => (db.store.expiredDocuments('sessions', Date.now(), 10).length === 0 ? true : undefined),
      5_000,
    );
    assert.deepEqual(
      sessions.history('gone').map((e) => e.eventType),
      ['Created', 'Deleted'],
    );
    assert.deepEqual(
      db.store.expiredDocuments('sessions', Date.now() + 120_000, 10).map((d) => d._id),
      ['keep'],
    );
  } finally {
    await db.close();
  }
});
