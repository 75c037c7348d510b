// A backup of a live node: its applied state captured at one log index, right after a
// linearizable read barrier (so it holds every write acknowledged before the backup was
// asked for), then encoded part by part as the backup file's bytes. Capturing takes
// references to the immutable documents (Store.captureSnapshot), so writes go on while the
// parts are encoded and sent; the capture keeps seeing the state at its index.
import type { DatabaseBackend } from './backend.ts';
import { snapshotParts, type SnapshotData } from '../store/snapshot.ts';
import { BACKUP_FORMAT, BACKUP_VERSION, BackupChecksum, encodeBackupPrefix, type BackupHeader } from './backup-format.ts';

/** What a backup needs from the node serving it. */
export type BackupSource = Pick<DatabaseBackend, 'store' | 'readBarrier' | 'status'>;

/** The state to back up and the header that describes it. */
export interface BackupCapture {
  readonly header: BackupHeader;
  readonly data: SnapshotData;
}

/**
 * Waits for a linearizable read point, then captures the applied state at once (in the
 * same turn of the event loop, so no entry is applied in between). Rejects as reads do
 * (NO_LEADER, READ_TIMEOUT, NODE_FAILED).
 */
export async function captureBackup(source: BackupSource, now: Date = new Date()): Promise<BackupCapture> {
  await source.readBarrier('linearizable');
  const data = source.store.captureSnapshot();
  const status = source.status();
  const header: BackupHeader = {
    format: BACKUP_FORMAT,
    version: BACKUP_VERSION,
    index: data.lastApplied,
    term: status.term,
    createdAt: now.toISOString(),
    sourceNodeId: status.nodeId,
    snapshotVersion: data.version,
  };
  return { header, data };
}

/**
 * The backup file's bytes, in parts of a few ms of encoding each (the caller yields to its
 * event loop between them): the header, the snapshot, and the footer with the length and
 * checksum of what came before.
 */
export function* backupChunks(capture: BackupCapture): Generator<Uint8Array> {
  const checksum = new BackupChecksum();
  const prefix = encodeBackupPrefix(capture.header);
  checksum.update(prefix);
  yield prefix;
  const start = checksum.bytes;
  for (const part of snapshotParts(capture.data)) {
    checksum.update(part);
    yield part;
  }
  yield checksum.footer(checksum.bytes - start);
}
