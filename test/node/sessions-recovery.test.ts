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
import { LOG_CLOCK_SKEW_WARN_MS } from '../../src/node/node-writes.ts';
import { fakeWrites } from './fake-write-host.ts';

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

test('a leader whose clock is behind the applied log clock stamps the log clock, and warns (rate-limited)', () => {
  const ahead = Date.now() + 2 * 3600_000;
  const fake = fakeWrites({ logTimeMs: ahead });
  void fake.writes.execute({ type: 'noop' });
  void fake.writes.execute({ type: 'noop' });
  assert.deepEqual(
    fake.proposed.map((c) => c.timeMs),
    [ahead, ahead],
    'never behind the log clock',
  );
  assert.equal(fake.warnings.length, 1, 'one line per period');
  assert.match(fake.warnings[0]!.message, /clock is behind the log clock/);
  assert.ok((fake.warnings[0]!.fields['behindMs'] as number) > LOG_CLOCK_SKEW_WARN_MS);
});

test('a leader whose clock is far ahead of the log clock warns; one close to it does not', () => {
  const close = fakeWrites({ logTimeMs: Date.now() - 1000 });
  void close.writes.execute({ type: 'noop' });
  assert.equal(close.warnings.length, 0);
  const far = fakeWrites({ logTimeMs: Date.now() - 2 * LOG_CLOCK_SKEW_WARN_MS });
  void far.writes.execute({ type: 'noop' });
  assert.equal(far.warnings.length, 1);
  assert.match(far.warnings[0]!.message, /clock is ahead of the log clock/);
  assert.ok(far.proposed[0]!.timeMs! >= Date.now() - 1000, 'stamped with its own clock');
});
