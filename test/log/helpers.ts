// Shared helpers for the log tests.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Entry, EntryType, SnapshotMeta } from '../../src/raft/types.ts';
import { openFileLog } from '../../src/log/index.ts';

export function entry(index: number, term: number, text = `e${index}t${term}`, type: EntryType = 'normal'): Entry {
  return { index, term, type, data: new TextEncoder().encode(text) };
}

export function range(from: number, to: number, term: number): Entry[] {
  const out: Entry[] = [];
  for (let i = from; i <= to; i++) out.push(entry(i, term));
  return out;
}

/** Entries as plain comparable values (data as a byte array). */
export function plain(entries: readonly Entry[]): { index: number; term: number; type: string; data: number[] }[] {
  return entries.map((e) => ({ index: e.index, term: e.term, type: e.type, data: [...e.data] }));
}

export function meta(index: number, term: number): SnapshotMeta {
  return { index, term, conf: { voters: [1, 2, 3], learners: [] } };
}

export async function withTempDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'cs-log-test-'));
  try {
    return await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Writes entries 1..lastIndex (term 1) and a snapshot at `snapshot` with `data` into a new log in `dir`, then closes it. */
export async function writeLogWithSnapshot(dir: string, lastIndex: number, snapshot: SnapshotMeta, data: Uint8Array): Promise<void> {
  const log = await openFileLog({ dir });
  await log.append(range(1, lastIndex, 1));
  await log.installSnapshot(snapshot, data);
  await log.close();
}
