// The backup file's framing (src/node/backup-format.ts): a whole file verifies and gives back
// its header and snapshot; every kind of damage is refused with a message saying what.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { backupChunks, captureBackup } from '../../src/node/backup-stream.ts';
import { BackupFormatError, verifyBackup } from '../../src/node/backup-format.ts';
import { Store } from '../../src/store/store.ts';
import type { NodeStatus } from '../../src/node/backend.ts';

function sourceWith(docs: number): { store: Store } {
  const store = new Store();
  store.apply({ type: 'createIndex', collection: 'people', fields: [['age', 1]], unique: false }, 1);
  for (let i = 0; i < docs; i++) store.apply({ type: 'insert', collection: 'people', docs: [{ _id: `p${i}`, age: i % 90 }] }, i + 2);
  return { store };
}

async function backupOf(store: Store): Promise<Buffer> {
  const status = { nodeId: 3, term: 7 } as NodeStatus;
  const capture = await captureBackup({ store, readBarrier: async () => {}, status: () => status }, new Date('2026-01-02T03:04:05Z'));
  return Buffer.concat([...backupChunks(capture)]);
}

test('a whole backup verifies: header (index, term, source, time) and the snapshot, restorable to the same documents', async () => {
  const { store } = sourceWith(5000);
  const file = await backupOf(store);
  const { header, data } = verifyBackup(file);
  assert.equal(header.index, store.lastApplied);
  assert.equal(header.term, 7);
  assert.equal(header.sourceNodeId, 3);
  assert.equal(header.createdAt, '2026-01-02T03:04:05.000Z');
  const restored = Store.restoreSnapshot(data);
  assert.equal(restored.lastApplied, store.lastApplied);
  assert.deepEqual(restored.find('people', {}, { sort: { _id: 1 } }), store.find('people', {}, { sort: { _id: 1 } }));
  assert.deepEqual(
    restored.captureSnapshot().collections.map((c) => c.indexes),
    store.captureSnapshot().collections.map((c) => c.indexes),
  );
});

test('damage anywhere is refused: a flipped byte in the data or header, a cut-short file, bytes appended, not a backup', async () => {
  const { store } = sourceWith(3000);
  const file = await backupOf(store);
  const refused = (bytes: Buffer, pattern: RegExp): void => {
    assert.throws(
      () => verifyBackup(bytes),
      (error: unknown) => error instanceof BackupFormatError && pattern.test(error.message),
    );
  };
  const flipped = Buffer.from(file);
  flipped[Math.floor(file.byteLength / 2)]! ^= 0x01;
  refused(flipped, /checksum mismatch/);
  const headerFlipped = Buffer.from(file);
  headerFlipped[20]! ^= 0x01;
  refused(headerFlipped, /checksum mismatch/);
  refused(file.subarray(0, file.byteLength - 1), /cut short|footer/);
  refused(file.subarray(0, Math.floor(file.byteLength / 3)), /cut short|footer/);
  refused(Buffer.concat([file, Buffer.from('x')]), /cut short|footer/);
  refused(Buffer.from('hello, this is not a backup file at all'), /not a collection-store backup/);
});
