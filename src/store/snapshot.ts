// Snapshot encoding of the store's state: every collection's documents (in
// _id order) and index definitions, plus lastApplied. Indexes are not stored,
// only their specs: restore rebuilds them. msgpack, without msgpackr's record
// extension, so the bytes are plain msgpack maps and arrays.

import { Packr } from 'msgpackr';
import type { AuthSnapshot } from './auth-state.ts';
import type { Document, IndexSpec } from './types.ts';
import { checkAuthSnapshot } from './validate-auth-command.ts';

export const SNAPSHOT_FORMAT = 'collection-store/snapshot';
export const SNAPSHOT_VERSION = 1;
/** Written when authentication is on: version 1 plus an `auth` map (users, roles, token key). */
export const SNAPSHOT_VERSION_WITH_AUTH = 2;

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
  /** Present exactly in version 2. */
  auth?: AuthSnapshot;
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
  if (d['version'] !== SNAPSHOT_VERSION && d['version'] !== SNAPSHOT_VERSION_WITH_AUTH) bad(`unsupported version ${String(d['version'])}`);
  if ((d['version'] === SNAPSHOT_VERSION_WITH_AUTH) !== (d['auth'] !== undefined)) bad('auth is present exactly in version 2');
  if (d['auth'] !== undefined) checkAuthSnapshot(d['auth']);
  if (!Number.isSafeInteger(d['lastApplied']) || (d['lastApplied'] as number) < 0) bad('lastApplied');
  if (!Array.isArray(d['collections'])) bad('collections');
  for (const c of d['collections'] as unknown[]) {
    if (typeof c !== 'object' || c === null) bad('collection entry');
    const cc = c as Record<string, unknown>;
    if (typeof cc['name'] !== 'string' || !Array.isArray(cc['indexes']) || !Array.isArray(cc['docs'])) bad('collection entry');
  }
  return data as SnapshotData;
}

/** Documents encoded per part by snapshotParts: a part costs about a few ms to encode. */
const DOCS_PER_PART = 2_000;

/**
 * The same bytes as encodeSnapshotData(data), produced in parts so that a caller can
 * yield to its event loop between them. Documents are immutable (frozen, replaced on
 * every change), so a capture of their references stays consistent while the store moves
 * on. msgpack: a map's and an array's items are just the encodings one after another.
 */
export function* snapshotParts(data: SnapshotData): Generator<Uint8Array> {
  yield concat([
    mapHeader(data.auth !== undefined ? 5 : 4),
    packr.pack('format'),
    packr.pack(data.format),
    packr.pack('version'),
    packr.pack(data.version),
    packr.pack('lastApplied'),
    packr.pack(data.lastApplied),
    ...(data.auth !== undefined ? [packr.pack('auth'), packr.pack(data.auth)] : []),
    packr.pack('collections'),
    arrayHeader(data.collections.length),
  ]);
  for (const c of data.collections) {
    yield concat([
      mapHeader(3),
      packr.pack('name'),
      packr.pack(c.name),
      packr.pack('indexes'),
      packr.pack(c.indexes),
      packr.pack('docs'),
      arrayHeader(c.docs.length),
    ]);
    for (let i = 0; i < c.docs.length; i += DOCS_PER_PART) {
      yield concat(c.docs.slice(i, i + DOCS_PER_PART).map((doc) => packr.pack(doc)));
    }
  }
}

function mapHeader(n: number): Uint8Array {
  if (n < 16) return Uint8Array.of(0x80 | n);
  throw new RangeError('snapshot maps have fewer than 16 keys');
}

/** array32: valid whatever the count, so the header never depends on the encoder's choices. */
function arrayHeader(n: number): Uint8Array {
  return Uint8Array.of(0xdd, (n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff);
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  let length = 0;
  for (const p of parts) length += p.byteLength;
  const out = new Uint8Array(length);
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.byteLength;
  }
  return out;
}
