// Restoring a backup: a data directory prepared so that a node started on it is a new
// cluster of one member holding the backup's state (grow it with --join afterwards).
// The directory holds what a node's own snapshot would leave: its identity (node.json,
// bootstrapped as the only voter), the snapshot at the backup's index with a configuration
// of that one voter, and a hard state whose commit index is the snapshot's. It is built
// under a temporary name beside the target and renamed into place, so a restore that fails
// half-way leaves no half-made data directory behind.
import { mkdir, readdir, readFile, rename, rm, rmdir, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { openFileLog } from '../log/file-log.ts';
import { fsyncDir } from '../log/segment-files.ts';
import { Store } from '../store/store.ts';
import { BackupFormatError, verifyBackup, type BackupHeader } from './backup-format.ts';
import { createIdentity } from './node-identity.ts';

export interface RestoreOptions {
  /** The backup file. */
  readonly from: string;
  /** The data directory to prepare: missing, or an empty directory. */
  readonly dataDir: string;
  readonly nodeId: number;
  readonly clusterId: string;
}

export interface RestoreSummary {
  readonly header: BackupHeader;
  readonly dataDir: string;
  readonly collections: number;
  readonly documents: number;
  /** The backup holds users (authentication is on in the restored cluster). */
  readonly hasAuth: boolean;
}

/** A restore refused before anything was written: a damaged file, a data directory in use. */
export class RestoreError extends Error {
  override readonly name = 'RestoreError';
}

/** Reads and checks a backup file whole: framing, checksum, and the snapshot inside (decoded
 * into a store, which checks every document). Throws RestoreError naming the file. */
export async function readBackupFile(path: string): Promise<{ header: BackupHeader; data: Uint8Array; store: Store }> {
  let file: Buffer;
  try {
    file = await readFile(path);
  } catch (error) {
    throw new RestoreError(`cannot read backup file ${path}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
  }
  try {
    const { header, data } = verifyBackup(file);
    const store = Store.restoreSnapshot(data);
    if (store.lastApplied !== header.index) {
      throw new BackupFormatError(`the snapshot inside is at index ${store.lastApplied}, the header says ${header.index}`);
    }
    return { header, data, store };
  } catch (error) {
    throw new RestoreError(`backup file ${path} is unusable: ${error instanceof Error ? error.message : String(error)}`);
  }
}

/** Refuses a data directory that exists and holds anything: restoring over a node's data would destroy it. */
async function checkTargetEmpty(dir: string): Promise<void> {
  const found = await stat(dir).catch((error: unknown) => {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  });
  if (found === null) return;
  if (!found.isDirectory()) throw new RestoreError(`--data-dir ${dir} exists and is not a directory`);
  const entries = await readdir(dir);
  if (entries.length > 0) {
    throw new RestoreError(
      `--data-dir ${dir} is not empty (${entries.length} entries): restore prepares a new directory; remove it or choose another`,
    );
  }
}

/** Prepares `dataDir` from the backup file; see the file comment. */
export async function restoreDataDir(options: RestoreOptions): Promise<RestoreSummary> {
  const dataDir = resolve(options.dataDir);
  await checkTargetEmpty(dataDir);
  const { header, data, store } = await readBackupFile(options.from);
  const parent = dirname(dataDir);
  await mkdir(parent, { recursive: true });
  const temp = join(parent, `.${basename(dataDir)}.restoring-${process.pid}`);
  await rm(temp, { recursive: true, force: true });
  await mkdir(temp, { mode: 0o700 });
  try {
    await createIdentity(temp, { clusterId: options.clusterId, nodeId: options.nodeId, bootstrapVoters: [options.nodeId] });
    const log = await openFileLog({ dir: temp, sync: 'batch' });
    try {
      const conf = { voters: [options.nodeId], learners: [] };
      // The snapshot's term: the source's term at the capture, at least that of the entry at
      // its index; the new cluster's first leader takes a term above it.
      await log.installSnapshot({ index: header.index, term: header.term, conf }, data);
      await log.setHardState({ term: header.term, vote: 0, commit: header.index });
    } finally {
      await log.close();
    }
    // The target is missing or empty (checked above): an empty one makes way for the rename.
    await rmdir(dataDir).catch((error: unknown) => {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    });
    await rename(temp, dataDir);
    await fsyncDir(parent);
  } catch (error) {
    await rm(temp, { recursive: true, force: true });
    throw error;
  }
  const capture = store.captureSnapshot();
  const documents = capture.collections.reduce((sum, c) => sum + c.docs.length, 0);
  return { header, dataDir, collections: capture.collections.length, documents, hasAuth: capture.auth !== undefined };
}
