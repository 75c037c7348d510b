// Snapshot encoding of the store's state: every collection's documents (in
// _id order) and index definitions, plus lastApplied. Indexes are not stored,
// only their specs: restore rebuilds them. msgpack, without msgpackr's record
// extension, so the bytes are plain msgpack maps and arrays.

import { Packr } from 'msgpackr';
import { releaseMsgpackSource } from '../msgpack-source.ts';
import type { AuditChainSnapshot } from './audit.ts';
import type { AuthSnapshot } from './auth-state.ts';
import type { RaftEvent } from './raft-event.ts';
import type { StoredModel } from './schema.ts';
import type { SessionsSnapshot } from './sessions.ts';
import type { Document, IndexSpec } from './types.ts';
import { checkAuthSnapshot } from './validate-auth-command.ts';

export const SNAPSHOT_FORMAT = 'collection-store/snapshot';
export const SNAPSHOT_VERSION = 1;
/** Written when authentication is on: version 1 plus an `auth` map (users, roles, token key). */
export const SNAPSHOT_VERSION_WITH_AUTH = 2;
/** Written once the log clock has started or idempotency keys are recorded: a `sessions` map
 * (the log clock, the records oldest first, the client watermarks least recently raised
 * first), and `auth` when authentication is on. A
 * binary that knows only versions 1 and 2 refuses it rather than drop the records (and with
 * them the promise that a retried write applies once). */
export const SNAPSHOT_VERSION_WITH_SESSIONS = 3;
/** Written once a collection has a model, or history or audit records are kept: `models`,
 * `history` (RaftEvent records by log index) and `audit` (each chain's anchor and records)
 * are all present; `auth` and `sessions` when there are some. A binary that knows versions 1
 * to 3 refuses it rather than drop the schemas (and validate nothing). */
export const SNAPSHOT_VERSION_WITH_MODELS = 4;

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
  /** Present in version 2, and in version 3 when authentication is on. */
  auth?: AuthSnapshot;
  /** Present exactly in version 3; in version 4 when there are some. */
  sessions?: SessionsSnapshot;
  /** Present exactly in version 4 (and the two below). */
  models?: StoredModel[];
  history?: RaftEvent[];
  audit?: AuditChainSnapshot[];
}

const packr = new Packr({ useRecords: false, mapsAsObjects: true, int64AsType: 'number' });

export function encodeSnapshotData(data: SnapshotData): Uint8Array {
  return packr.pack(data);
}

/** Decodes a snapshot and lets msgpackr drop it (msgpack-source.ts). */
function unpackReleasingSource(bytes: Uint8Array): unknown {
  try {
    return packr.unpack(bytes);
  } finally {
    releaseMsgpackSource();
  }
}

/** Decodes and shape-checks a snapshot; throws Error on a malformed one. */
export function decodeSnapshotData(bytes: Uint8Array): SnapshotData {
  const data: unknown = unpackReleasingSource(bytes);
  const bad = (what: string): never => {
    throw new Error(`invalid snapshot: ${what}`);
  };
  if (typeof data !== 'object' || data === null) return bad('not a map');
  const d = data as Record<string, unknown>;
  if (d['format'] !== SNAPSHOT_FORMAT) bad(`format ${String(d['format'])}`);
  const version = d['version'];
  if (
    version !== SNAPSHOT_VERSION &&
    version !== SNAPSHOT_VERSION_WITH_AUTH &&
    version !== SNAPSHOT_VERSION_WITH_SESSIONS &&
    version !== SNAPSHOT_VERSION_WITH_MODELS
  ) {
    bad(`unsupported version ${String(version)}`);
  }
  const v4 = version === SNAPSHOT_VERSION_WITH_MODELS;
  if (!v4 && version !== SNAPSHOT_VERSION_WITH_SESSIONS && (version === SNAPSHOT_VERSION_WITH_AUTH) !== (d['auth'] !== undefined)) {
    bad('auth is present exactly in version 2 (or 3, 4)');
  }
  if (!v4 && (version === SNAPSHOT_VERSION_WITH_SESSIONS) !== (d['sessions'] !== undefined)) bad('sessions are present exactly in version 3 (or 4)');
  for (const part of ['models', 'history', 'audit']) {
    if (v4 !== Array.isArray(d[part])) bad(`${part} is an array exactly in version 4`);
  }
  if (d['auth'] !== undefined) checkAuthSnapshot(d['auth']);
  if (d['sessions'] !== undefined) checkSessionsSnapshot(d['sessions'], bad);
  if (!Number.isSafeInteger(d['lastApplied']) || (d['lastApplied'] as number) < 0) bad('lastApplied');
  if (!Array.isArray(d['collections'])) bad('collections');
  for (const c of d['collections'] as unknown[]) {
    if (typeof c !== 'object' || c === null) bad('collection entry');
    const cc = c as Record<string, unknown>;
    if (typeof cc['name'] !== 'string' || !Array.isArray(cc['indexes']) || !Array.isArray(cc['docs'])) bad('collection entry');
  }
  return data as SnapshotData;
}

function checkSessionsSnapshot(raw: unknown, bad: (what: string) => never): void {
  if (typeof raw !== 'object' || raw === null) return bad('sessions');
  const s = raw as Record<string, unknown>;
  if (!Number.isSafeInteger(s['logTimeMs']) || (s['logTimeMs'] as number) < 0) bad('sessions.logTimeMs');
  if (!Array.isArray(s['records'])) return bad('sessions.records');
  for (const r of s['records'] as unknown[]) {
    if (typeof r !== 'object' || r === null) bad('session record');
    const rr = r as Record<string, unknown>;
    if (typeof rr['key'] !== 'string' || typeof rr['digest'] !== 'string') bad('session record key');
    if (!Number.isSafeInteger(rr['timeMs']) || !Number.isSafeInteger(rr['bytes']) || (rr['bytes'] as number) < 0) bad('session record time');
    const result = rr['result'];
    if (typeof result !== 'object' || result === null || typeof (result as { ok?: unknown }).ok !== 'boolean') bad('session record result');
  }
  if (!Array.isArray(s['watermarks'])) return bad('sessions.watermarks');
  for (const w of s['watermarks'] as unknown[]) {
    if (typeof w !== 'object' || w === null) bad('client watermark');
    const ww = w as Record<string, unknown>;
    if (typeof ww['client'] !== 'string' || !Number.isSafeInteger(ww['seq']) || (ww['seq'] as number) < 1 || !Number.isSafeInteger(ww['timeMs'])) {
      bad('client watermark');
    }
  }
}

/** Session records encoded per part by snapshotParts, at most, and their results' JSON bytes. */
const RECORDS_PER_PART = 2_000;
const RECORD_BYTES_PER_PART = 1024 * 1024;

/** Documents encoded per part by snapshotParts: a part costs about a few ms to encode. */
const DOCS_PER_PART = 2_000;

/**
 * The same bytes as encodeSnapshotData(data), produced in parts so that a caller can
 * yield to its event loop between them. Documents are immutable (frozen, replaced on
 * every change), so a capture of their references stays consistent while the store moves
 * on. msgpack: a map's and an array's items are just the encodings one after another.
 */
export function* snapshotParts(data: SnapshotData): Generator<Uint8Array> {
  const v4 = data.models !== undefined;
  yield concat([
    mapHeader(4 + (data.auth !== undefined ? 1 : 0) + (data.sessions !== undefined ? 1 : 0) + (v4 ? 3 : 0)),
    packr.pack('format'),
    packr.pack(data.format),
    packr.pack('version'),
    packr.pack(data.version),
    packr.pack('lastApplied'),
    packr.pack(data.lastApplied),
    ...(data.auth !== undefined ? [packr.pack('auth'), packr.pack(data.auth)] : []),
  ]);
  if (data.sessions !== undefined) {
    // The records may hold up to IDEMPOTENCY_RESULT_BYTES_MAX of results: in parts too.
    const records = data.sessions.records;
    yield concat([
      packr.pack('sessions'),
      mapHeader(3),
      packr.pack('logTimeMs'),
      packr.pack(data.sessions.logTimeMs),
      packr.pack('records'),
      arrayHeader(records.length),
    ]);
    // A part ends at RECORDS_PER_PART records or RECORD_BYTES_PER_PART of results (a result
    // may be up to a request's size), whichever comes first.
    let start = 0;
    let bytes = 0;
    for (let i = 0; i < records.length; i++) {
      bytes += records[i]!.bytes;
      if (i + 1 - start >= RECORDS_PER_PART || bytes >= RECORD_BYTES_PER_PART || i + 1 === records.length) {
        yield concat(records.slice(start, i + 1).map((record) => packr.pack(record)));
        start = i + 1;
        bytes = 0;
      }
    }
    const watermarks = data.sessions.watermarks;
    yield concat([packr.pack('watermarks'), arrayHeader(watermarks.length)]);
    for (let i = 0; i < watermarks.length; i += RECORDS_PER_PART) {
      yield concat(watermarks.slice(i, i + RECORDS_PER_PART).map((w) => packr.pack(w)));
    }
  }
  if (v4) {
    yield concat([packr.pack('models'), packr.pack(data.models), packr.pack('history'), arrayHeader(data.history?.length ?? 0)]);
    const history = data.history ?? [];
    for (let i = 0; i < history.length; i += DOCS_PER_PART) yield concat(history.slice(i, i + DOCS_PER_PART).map((e) => packr.pack(e)));
    const audit = data.audit ?? [];
    yield concat([packr.pack('audit'), arrayHeader(audit.length)]);
    for (const chain of audit) {
      yield concat([
        mapHeader(3),
        packr.pack('collection'),
        packr.pack(chain.collection),
        packr.pack('anchor'),
        packr.pack(chain.anchor),
        packr.pack('records'),
        arrayHeader(chain.records.length),
      ]);
      for (let i = 0; i < chain.records.length; i += DOCS_PER_PART) {
        yield concat(chain.records.slice(i, i + DOCS_PER_PART).map((r) => packr.pack(r)));
      }
    }
  }
  yield concat([packr.pack('collections'), arrayHeader(data.collections.length)]);
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
