// The embedded database does not keep its snapshot's bytes in memory (LogStorage.releaseSnapshotData):
// a group of one never sends its snapshot, and its store holds the state already. Measured as
// the process's ArrayBuffer memory, where a snapshot's bytes live, after full collections.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { open } from '../../src/index.ts';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

function arrayBufferBytes(): number {
  for (let i = 0; i < 3; i++) gc();
  return process.memoryUsage().arrayBuffers;
}

const DOCS = 200;
const TEXT_BYTES = 50_000;
/** The snapshot holds at least this much (the documents' text). */
const SNAPSHOT_BYTES_MIN = DOCS * TEXT_BYTES;

test("after a snapshot, and after a reopen from it, the snapshot's bytes are not held in memory", async () => {
  const dir = await mkdtemp(join(tmpdir(), 'cs-embedded-snapshot-'));
  try {
    let db = await open({ dir, snapshotThreshold: 0 });
    const col = db.collection('big');
    const base = arrayBufferBytes();
    for (let i = 0; i < DOCS; i++) await col.insert({ i, text: String(i % 10).repeat(TEXT_BYTES) });
    const snapshot = await db.snapshot();
    assert.ok(snapshot.bytes >= SNAPSHOT_BYTES_MIN, `snapshot of ${snapshot.bytes} bytes`);
    const held = arrayBufferBytes() - base;
    assert.ok(held < SNAPSHOT_BYTES_MIN / 4, `${held} bytes of ArrayBuffers held after a snapshot of ${snapshot.bytes}`);
    await db.close();

    db = await open({ dir, snapshotThreshold: 0 });
    assert.equal(db.collection('big').count(), DOCS);
    const heldAfterReopen = arrayBufferBytes() - base;
    assert.ok(heldAfterReopen < SNAPSHOT_BYTES_MIN / 4, `${heldAfterReopen} bytes of ArrayBuffers held after a reopen`);
    await db.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
