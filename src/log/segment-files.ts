// File and directory helpers: segment and snapshot file names, directory
// creation with clear errors, and directory fsync (needed after creating,
// renaming or removing files so that the change itself is durable).
import { constants } from 'node:fs';
import { access, mkdir, open, readdir, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';

export const SEGMENT_NAME = /^(\d{20})\.seg$/;
export const SNAPSHOT_NAME = /^(\d{20})-(\d+)\.snap$/;
export const SNAPSHOT_TEMP_NAME = /^\d{20}-\d+\.snap\.tmp$/;

export function pad20(n: number): string {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`not an index: ${n}`);
  return String(n).padStart(20, '0');
}

export function segmentFileName(firstIndex: number): string {
  return `${pad20(firstIndex)}.seg`;
}

export function snapshotFileName(index: number, term: number): string {
  return `${pad20(index)}-${term}.snap`;
}

export interface LogDirs {
  readonly root: string;
  readonly log: string;
  readonly snapshots: string;
}

export function logDirs(root: string): LogDirs {
  return { root, log: join(root, 'log'), snapshots: join(root, 'snapshots') };
}

/** Creates the directory if needed and checks that we can write in it. */
export async function ensureWritableDir(path: string): Promise<void> {
  try {
    await mkdir(path, { recursive: true });
  } catch (error) {
    throw new Error(`cannot create log directory ${path}: ${(error as Error).message}`, { cause: error });
  }
  try {
    await access(path, constants.W_OK | constants.X_OK);
  } catch (error) {
    throw new Error(`log directory ${path} is not writable: ${(error as Error).message}`, { cause: error });
  }
}

export async function fsyncDir(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

export async function listDir(path: string): Promise<string[]> {
  return (await readdir(path)).sort();
}

/**
 * Opens a segment for writing. In sync 'batch' the file is opened with O_DSYNC:
 * each write returns once its bytes are durable, which saves the separate
 * fdatasync round trip through the thread pool on every group commit.
 */
export async function openSegmentForWrite(path: string, create: boolean, sync: 'batch' | 'none'): Promise<FileHandle> {
  let flags = constants.O_RDWR;
  if (create) flags |= constants.O_CREAT | constants.O_EXCL;
  if (sync === 'batch') flags |= constants.O_DSYNC;
  return open(path, flags, 0o644);
}
