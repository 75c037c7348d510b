// The session table is rebuilt at restart (issue #12): from the log's replay, and from a
// snapshot; a retry after a restart still applies nothing. Every entry carries the log's
// time, stamped by the node that proposed it, never behind the applied log clock.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { open } from '../../src/index.ts';
import type { Command } from '../../src/store/commands.ts';

function keyedInsert(id: string, key: string): Command {
  return { type: 'insert', collection: 'c', docs: [{ _id: id }], idempotency: { key, digest: 'd' } };
}

test('a retry after a restart (log replay, then a snapshot) answers the first result and applies nothing', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'cs-sessions-'));
  try {
    const before = Date.now();
    let db = await open({ dir });
    const first = await db.execute(keyedInsert('gen-1', 'k.1'));
    assert.equal(first.ok, true);
    assert.ok(db.store.logTimeMs >= before && db.store.logTimeMs <= Date.now(), 'the entry carries the time it was proposed');
    const table = db.store.sessions.toSnapshot();
    await db.close();

    // Replay of the log.
    db = await open({ dir });
    assert.deepEqual(db.store.sessions.toSnapshot(), table);
    const afterReplay = await db.execute(keyedInsert('gen-2', 'k.1'));
    assert.equal(afterReplay.replayed, true);
    assert.deepEqual({ ...afterReplay, replayed: undefined }, { ...first, replayed: undefined });
    await db.snapshot();
    await db.close();

    // From the snapshot.
    db = await open({ dir });
    assert.ok(db.info().snapshotIndex > 0);
    const afterSnapshot = await db.execute(keyedInsert('gen-3', 'k.1'));
    assert.equal(afterSnapshot.replayed, true);
    assert.deepEqual(
      db.store.find('c').map((d) => d._id),
      ['gen-1'],
    );
    // Stamps never go behind the clock already applied.
    const clock = db.store.logTimeMs;
    await db.execute({ type: 'noop' });
    assert.ok(db.store.logTimeMs >= clock);
    await db.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
