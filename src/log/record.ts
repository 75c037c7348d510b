// Record framing for log segment files:
//   [length u32 LE][crc32c u32 LE][type u8][payload msgpack]
// `length` is the payload length; the crc covers type + payload. This file encodes
// records (FrameBuffer, encodeRecords) and decodes one record's payload (decodePayload);
// record-scanner.ts walks a segment's bytes for the records in them.
import { crc32c } from '@node-rs/crc32';
import { Packr } from 'msgpackr';
import { assert } from '../assert.ts';
import type { Entry, EntryType, HardState } from '../raft/types.ts';

export const RECORD_HEADER_BYTES = 9;
/** The smallest unit a disk writes whole: after a power loss each one is old or new. */
export const SECTOR_BYTES = 512;

/** `offset` rounded up to a sector boundary: where the write after a writeEnd begins. */
export function sectorAlignUp(offset: number): number {
  return Math.ceil(offset / SECTOR_BYTES) * SECTOR_BYTES;
}
/** Largest payload we write or accept; anything larger in a header is corruption. */
export const MAX_RECORD_PAYLOAD_BYTES = 256 * 1024 * 1024;
/** Largest entry data: its record (with the msgpack array around it) stays under the payload limit. */
export const MAX_ENTRY_DATA_BYTES = MAX_RECORD_PAYLOAD_BYTES - 64;

export const RecordType = {
  entry: 1,
  hardState: 2,
  /** Compaction point: a snapshot was installed at this position in the log. */
  snapshotMarker: 3,
  /**
   * The last record of every write the segment writer makes: where that write began
   * and a CRC of each disk sector it covers (write-end.ts). Writes are made durable one
   * after another, so a power loss can damage only the last one; these records let
   * recovery tell that write (never acknowledged, safe to cut) from damage inside an
   * acknowledged one (segment-tail.ts). The next write begins at the next sector
   * boundary (zeros between), so that no sector holds parts of two writes.
   */
  writeEnd: 4,
} as const;

/** A snapshot was installed here. `keep` records whether the log held the entry at
 * `index` with `term` (entries after it survived) or the whole log was discarded. */
export interface SnapshotMarker {
  readonly index: number;
  readonly term: number;
  readonly keep: boolean;
}

export type LogRecord =
  | { readonly kind: 'entry'; readonly entry: Entry }
  | { readonly kind: 'hardState'; readonly state: HardState }
  | { readonly kind: 'snapshotMarker'; readonly marker: SnapshotMarker }
  /** `start`: the byte offset in its segment where the write this record ends began;
   * `sectors`: a CRC32C (u32 LE) per disk sector of [start, this record's offset). */
  | { readonly kind: 'writeEnd'; readonly start: number; readonly sectors: Uint8Array };

// One shared packer: plain maps/arrays, no msgpackr record extension, so the
// bytes depend only on the value.
const packr = new Packr({ useRecords: false, moreTypes: false });

const ENTRY_TYPE_CODES: Record<EntryType, number> = { normal: 0, noop: 1, conf: 2 };
/** Entry types by their code in a record. */
export const ENTRY_TYPES: readonly EntryType[] = ['normal', 'noop', 'conf'];

/** The entry whose data is bytes [start, start + length) of `buffer` (a view, not a copy);
 * the type code names an entry type (callers pass only codes they checked). */
export function entryInBuffer(index: number, term: number, typeCode: number, buffer: Uint8Array, start: number, length: number): Entry {
  const type = ENTRY_TYPES[typeCode];
  if (type === undefined) assert(false, `entry type code ${typeCode}`);
  return { index, term, type, data: new Uint8Array(buffer.buffer, buffer.byteOffset + start, length) };
}

function isIndex(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

export function assertValidEntry(entry: Entry): void {
  if (!isIndex(entry.index) || entry.index < 1) throw new RangeError(`entry index must be a positive integer, got ${String(entry.index)}`);
  if (!isIndex(entry.term)) throw new RangeError(`entry term must be a non-negative integer, got ${String(entry.term)}`);
  if (!(entry.type in ENTRY_TYPE_CODES)) throw new RangeError(`entry type must be normal, noop or conf, got ${String(entry.type)}`);
  if (!(entry.data instanceof Uint8Array)) throw new TypeError('entry data must be a Uint8Array');
  if (entry.data.length > MAX_ENTRY_DATA_BYTES) {
    throw new RangeError(`entry data of ${entry.data.length} bytes exceeds the ${MAX_ENTRY_DATA_BYTES}-byte limit`);
  }
}

export function assertValidHardState(state: HardState): void {
  if (!isIndex(state.term) || !isIndex(state.vote) || !isIndex(state.commit)) {
    throw new RangeError(`hard state fields must be non-negative integers, got ${JSON.stringify(state)}`);
  }
}

/** A hard state written without a flush of its own may change the commit index only: a term
 * or a vote must be durable before anything that depends on it leaves (LogStorage.setHardState). */
export function assertSameTermAndVote(recorded: HardState, state: HardState): void {
  if (state.term !== recorded.term || state.vote !== recorded.vote) {
    throw new RangeError(
      `a hard state written with the next write may change the commit index only: recorded term ${recorded.term} vote ${recorded.vote}, got term ${state.term} vote ${state.vote}`,
    );
  }
}

/** Payload encodings. Entries are a 4-element array [index, term, typeCode, data]
 * (compact and fast to decode: there is one per log entry); the rare records are maps. */
function encodePayload(record: LogRecord): Uint8Array {
  switch (record.kind) {
    case 'entry': {
      const e = record.entry;
      return packr.pack([e.index, e.term, ENTRY_TYPE_CODES[e.type], e.data]);
    }
    case 'hardState':
      return packr.pack({ term: record.state.term, vote: record.state.vote, commit: record.state.commit });
    case 'snapshotMarker':
      return packr.pack({ index: record.marker.index, term: record.marker.term, keep: record.marker.keep });
    case 'writeEnd':
      return packr.pack({ start: record.start, sectors: record.sectors });
  }
}

/** Writes a non-negative safe integer in msgpack's smallest unsigned form
 * (float64 above 32 bits, as msgpackr does; exact for safe integers). */
function writeUint(buf: Buffer, at: number, value: number): number {
  if (value < 0x80) {
    buf[at] = value;
    return at + 1;
  }
  if (value < 0x100) {
    buf[at] = 0xcc;
    buf[at + 1] = value;
    return at + 2;
  }
  if (value < 0x10000) {
    buf[at] = 0xcd;
    buf.writeUInt16BE(value, at + 1);
    return at + 3;
  }
  if (value <= 0xffffffff) {
    buf[at] = 0xce;
    buf.writeUInt32BE(value, at + 1);
    return at + 5;
  }
  buf[at] = 0xcb;
  buf.writeDoubleBE(value, at + 1);
  return at + 9;
}

function recordTypeOf(record: LogRecord): number {
  return RecordType[record.kind];
}

/** Accumulates framed records in one growable buffer (one write per batch). */
export class FrameBuffer {
  private buf: Buffer;
  private used = 0;

  constructor(initialBytes = 64 * 1024) {
    this.buf = Buffer.allocUnsafe(initialBytes);
  }

  get length(): number {
    return this.used;
  }

  get capacity(): number {
    return this.buf.length;
  }

  /** The framed bytes so far (a view: valid until the next add or reset). */
  bytes(): Buffer {
    return this.buf.subarray(0, this.used);
  }

  reset(): void {
    this.used = 0;
  }

  add(record: LogRecord): void {
    if (record.kind === 'entry') {
      this.addEntry(record.entry);
      return;
    }
    this.addFrame(recordTypeOf(record), encodePayload(record));
  }

  private addFrame(type: number, payload: Uint8Array): void {
    if (payload.length > MAX_RECORD_PAYLOAD_BYTES) {
      throw new RangeError(`log record of ${payload.length} bytes exceeds the ${MAX_RECORD_PAYLOAD_BYTES}-byte limit`);
    }
    const start = this.used;
    this.reserve(RECORD_HEADER_BYTES + payload.length);
    const buf = this.buf;
    buf.set(payload, start + RECORD_HEADER_BYTES);
    this.seal(start, type, payload.length);
  }

  /** Entries are the hot path: their msgpack array is written straight into the
   * frame (no intermediate buffer). The bytes are what msgpackr would accept. */
  private addEntry(entry: Entry): void {
    const dataLength = entry.data.length;
    const payloadMax = 1 + 9 + 9 + 1 + 5 + dataLength;
    if (payloadMax > MAX_RECORD_PAYLOAD_BYTES) {
      throw new RangeError(`log entry of ${dataLength} bytes exceeds the ${MAX_RECORD_PAYLOAD_BYTES}-byte record limit`);
    }
    const start = this.used;
    this.reserve(RECORD_HEADER_BYTES + payloadMax);
    const buf = this.buf;
    let at = start + RECORD_HEADER_BYTES;
    buf[at++] = 0x94; // fixarray of 4
    at = writeUint(buf, at, entry.index);
    at = writeUint(buf, at, entry.term);
    buf[at++] = ENTRY_TYPE_CODES[entry.type];
    if (dataLength < 0x100) {
      buf[at++] = 0xc4;
      buf[at++] = dataLength;
    } else if (dataLength < 0x10000) {
      buf[at++] = 0xc5;
      buf.writeUInt16BE(dataLength, at);
      at += 2;
    } else {
      buf[at++] = 0xc6;
      buf.writeUInt32BE(dataLength, at);
      at += 4;
    }
    buf.set(entry.data, at);
    at += dataLength;
    this.seal(start, RecordType.entry, at - start - RECORD_HEADER_BYTES);
  }

  /** Writes the header of the frame at `start` whose payload is already in place. */
  private seal(start: number, type: number, payloadLength: number): void {
    const buf = this.buf;
    const end = start + RECORD_HEADER_BYTES + payloadLength;
    buf.writeUInt32LE(payloadLength, start);
    buf[start + 8] = type;
    buf.writeUInt32LE(crc32c(buf.subarray(start + 8, end)) >>> 0, start + 4);
    this.used = end;
  }

  private reserve(extra: number): void {
    const need = this.used + extra;
    if (need <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < need) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.used);
    this.buf = next;
  }
}

/** Frames many records into one Buffer, as a segment holds them from offset 0. */
export function encodeRecords(records: readonly LogRecord[]): Buffer {
  // As a segment holds them from offset 0: zeros after each writeEnd up to the next
  // sector boundary.
  const parts: Buffer[] = [];
  let length = 0;
  const frames = new FrameBuffer(1024);
  for (const record of records) {
    frames.add(record);
    if (record.kind !== 'writeEnd') continue;
    const bytes = Buffer.from(frames.bytes());
    frames.reset();
    const padding = sectorAlignUp(length + bytes.length) - length - bytes.length;
    parts.push(bytes, Buffer.alloc(padding));
    length += bytes.length + padding;
  }
  parts.push(Buffer.from(frames.bytes()));
  return Buffer.concat(parts);
}

function asView(value: unknown): Uint8Array | null {
  if (!(value instanceof Uint8Array)) return null;
  // msgpackr hands out Buffers (views into the source); expose plain Uint8Array
  // views so that callers see one type whatever the log implementation.
  return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
}

function decodeEntry(value: unknown): Entry | null {
  if (!Array.isArray(value) || value.length !== 4) return null;
  const [index, term, typeCode, rawData] = value as unknown[];
  if (!isIndex(index) || index < 1 || !isIndex(term)) return null;
  if (typeof typeCode !== 'number') return null;
  const type = ENTRY_TYPES[typeCode];
  if (type === undefined) return null;
  const data = asView(rawData);
  if (data === null) return null;
  return { index, term, type, data };
}

/** Offset after the last readUint (a module-level out-parameter: the decoder
 * runs once per record during recovery and must not allocate). */
let cursor = 0;

/** Reads a msgpack unsigned int of at most 32 bits at `at`; -1 when it is not one. */
function readUint(buf: Uint8Array, at: number, end: number): number {
  if (at >= end) return -1;
  const b = buf[at]!;
  if (b < 0x80) {
    cursor = at + 1;
    return b;
  }
  if (b === 0xcc && at + 2 <= end) {
    cursor = at + 2;
    return buf[at + 1]!;
  }
  if (b === 0xcd && at + 3 <= end) {
    cursor = at + 3;
    return (buf[at + 1]! << 8) | buf[at + 2]!;
  }
  if (b === 0xce && at + 5 <= end) {
    cursor = at + 5;
    return ((buf[at + 1]! << 24) | (buf[at + 2]! << 16) | (buf[at + 3]! << 8) | buf[at + 4]!) >>> 0;
  }
  return -1;
}

/** The fields of the entry parseEntryFast read last: its data is bytes [dataStart,
 * dataStart + dataLength) of the parsed buffer. One object, overwritten by each call (an
 * out-parameter: the parser runs once per record during recovery and must not allocate). */
export const parsedEntry = { index: 0, term: 0, typeCode: 0, dataStart: 0, dataLength: 0 };

/** Parses an entry payload in the exact form FrameBuffer writes (small ints, bin data)
 * into parsedEntry; false when it is not in that form. */
export function parseEntryFast(buf: Uint8Array, start: number, end: number): boolean {
  if (buf[start] !== 0x94) return false;
  const index = readUint(buf, start + 1, end);
  if (index < 1) return false;
  const term = readUint(buf, cursor, end);
  if (term < 0) return false;
  let at = cursor;
  if (at >= end) return false;
  const typeCode = buf[at++]!;
  if (ENTRY_TYPES[typeCode] === undefined || at >= end) return false;
  const tag = buf[at++]!;
  let length: number;
  if (tag === 0xc4 && at + 1 <= end) {
    length = buf[at]!;
    at += 1;
  } else if (tag === 0xc5 && at + 2 <= end) {
    length = (buf[at]! << 8) | buf[at + 1]!;
    at += 2;
  } else if (tag === 0xc6 && at + 4 <= end) {
    length = ((buf[at]! << 24) | (buf[at + 1]! << 16) | (buf[at + 2]! << 8) | buf[at + 3]!) >>> 0;
    at += 4;
  } else {
    return false;
  }
  if (at + length !== end) return false;
  parsedEntry.index = index;
  parsedEntry.term = term;
  parsedEntry.typeCode = typeCode;
  parsedEntry.dataStart = at;
  parsedEntry.dataLength = length;
  return true;
}

function decodeEntryFast(buf: Uint8Array, start: number, end: number): Entry | null {
  if (!parseEntryFast(buf, start, end)) return null;
  const p = parsedEntry;
  return entryInBuffer(p.index, p.term, p.typeCode, buf, p.dataStart, p.dataLength);
}

function decodeHardState(value: unknown): HardState | null {
  if (typeof value !== 'object' || value === null) return null;
  const v = value as Record<string, unknown>;
  if (!isIndex(v['term']) || !isIndex(v['vote']) || !isIndex(v['commit'])) return null;
  return { term: v['term'], vote: v['vote'], commit: v['commit'] };
}

function decodeWriteEnd(value: unknown): { start: number; sectors: Uint8Array } | null {
  if (typeof value !== 'object' || value === null) return null;
  const v = value as Record<string, unknown>;
  const start = v['start'];
  const sectors = asView(v['sectors']);
  if (!isIndex(start) || sectors === null || sectors.length % 4 !== 0) return null;
  return { start, sectors };
}

function decodeMarker(value: unknown): SnapshotMarker | null {
  if (typeof value !== 'object' || value === null) return null;
  const v = value as Record<string, unknown>;
  if (!isIndex(v['index']) || !isIndex(v['term']) || typeof v['keep'] !== 'boolean') return null;
  return { index: v['index'], term: v['term'], keep: v['keep'] };
}

/** Decodes one record's payload (bytes [start, end) of `buf`); null when it is not
 * a well-formed payload of that type. Never throws. */
export function decodePayload(type: number, buf: Uint8Array, start: number, end: number): LogRecord | null {
  if (type === RecordType.entry) {
    const fast = decodeEntryFast(buf, start, end);
    if (fast !== null) return { kind: 'entry', entry: fast };
    // Not in the exact form we write: fall through to the general msgpack decoder.
  }
  let value: unknown;
  try {
    value = packr.unpack(buf, { start, end });
  } catch {
    return null;
  }
  switch (type) {
    case RecordType.entry: {
      const entry = decodeEntry(value);
      return entry === null ? null : { kind: 'entry', entry };
    }
    case RecordType.hardState: {
      const state = decodeHardState(value);
      return state === null ? null : { kind: 'hardState', state };
    }
    case RecordType.snapshotMarker: {
      const marker = decodeMarker(value);
      return marker === null ? null : { kind: 'snapshotMarker', marker };
    }
    case RecordType.writeEnd: {
      const end = decodeWriteEnd(value);
      return end === null ? null : { kind: 'writeEnd', start: end.start, sectors: end.sectors };
    }
    default:
      return null;
  }
}
