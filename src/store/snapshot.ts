// Snapshot encoding of the store's state: every collection's documents (in
// _id order) and index definitions, plus lastApplied. Indexes are not stored,
// only their specs: restore rebuilds them. msgpack, without msgpackr's record
// extension, so the bytes are plain msgpack maps and arrays.

import { Packr } from 'msgpackr';
import type { Document, IndexSpec } from './types.ts';

export const SNAPSHOT_FORMAT = 'collection-store/snapshot';
export const SNAPSHOT_VERSION = 1;

export interface SnapshotCollection {
  name: string;
  indexes: IndexSpec[];
  docs: Document[];
}

export interface SnapshotData {
  format: string;
  version: number;
  lastApplied: number;
  collections: SnapshotCollection[];
}

const packr = new Packr({ useRecords: false, mapsAsObjects: true, int64AsType: 'number' });

export function encodeSnapshotData(data: SnapshotData): Uint8Array {
  return packr.pack(data);
}

/** Decodes and shape-checks a snapshot; throws Error on a malformed one. */
export function decodeSnapshotData(bytes: Uint8Array): SnapshotData {
  const data: unknown = packr.unpack(bytes);
  const bad = (what: string): never => {
    throw new Error(`invalid snapshot: ${what}`);
  };
  if (typeof data !== 'object' || data === null) return bad('not a map');
  const d = data as Record<string, unknown>;
  if (d['format'] !== SNAPSHOT_FORMAT) bad(`format ${String(d['format'])}`);
  if (d['version'] !== SNAPSHOT_VERSION) bad(`unsupported version ${String(d['version'])}`);
  if (!Number.isSafeInteger(d['lastApplied']) || (d['lastApplied'] as number) < 0) bad('lastApplied');
  if (!Array.isArray(d['collections'])) bad('collections');
  for (const c of d['collections'] as unknown[]) {
    if (typeof c !== 'object' || c === null) bad('collection entry');
    const cc = c as Record<string, unknown>;
    if (typeof cc['name'] !== 'string' || !Array.isArray(cc['indexes']) || !Array.isArray(cc['docs'])) bad('collection entry');
  }
  return data as SnapshotData;
}
