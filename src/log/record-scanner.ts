// Scanning a segment's bytes for records: walking them in order from an offset until the
// bytes end or a record does not check out, reporting the exact offset and reason where
// it stopped (so that recovery can tell a torn tail from corruption in the middle), and
// searching past damage for the next valid record or writeEnd. How records are framed
// and what their payloads hold is record.ts's.
import { crc32c } from '@node-rs/crc32';
import {
  decodePayload,
  entryInBuffer,
  MAX_RECORD_PAYLOAD_BYTES,
  parsedEntry,
  parseEntryFast,
  RECORD_HEADER_BYTES,
  RecordType,
  sectorAlignUp,
  type LogRecord,
} from './record.ts';
import { firstNonZero } from './zero-bytes.ts';

export type DecodeStopReason = 'torn' | 'bad-length' | 'bad-crc' | 'bad-type' | 'bad-payload' | 'bad-padding';

export interface DecodeStop {
  /** Byte offset of the record that could not be read. */
  readonly offset: number;
  readonly reason: DecodeStopReason;
}

export interface DecodeResult {
  /** Where the next record would begin: just past the last valid record, or past the
   * padding after a writeEnd, which may lie beyond the bytes (up to a sector boundary). */
  readonly end: number;
  /** Null when the bytes ended exactly at a record boundary. */
  readonly stop: DecodeStop | null;
}

/** What walkRecords calls for each valid record, in order. */
export interface RecordVisitor {
  /** An entry in the form FrameBuffer writes: its data is bytes [dataStart, dataStart +
   * dataLength) of the walked buffer (no Entry is built: recovery keeps them compact). */
  entry(index: number, term: number, typeCode: number, dataStart: number, dataLength: number, offset: number): void;
  /** Any other record (and an entry in another valid msgpack form). */
  record(record: LogRecord, offset: number, end: number): void;
}

/**
 * Walks records from `start`, calling the visitor for each valid one, in order.
 * Stops at the end of the bytes or at the first record that does not check out
 * (reported with its offset and reason). Never throws on bad input.
 */
export function walkRecords(buf: Uint8Array, visitor: RecordVisitor, start = 0): DecodeResult {
  let offset = start;
  while (offset < buf.length) {
    const end = frameEnd(buf, offset);
    if (end < 0) return { end: offset, stop: { offset, reason: STOP_REASONS[-end - 1]! } };
    const type = buf[offset + 8]!;
    const payloadStart = offset + RECORD_HEADER_BYTES;
    if (type === RecordType.entry && parseEntryFast(buf, payloadStart, end)) {
      const p = parsedEntry;
      visitor.entry(p.index, p.term, p.typeCode, p.dataStart, p.dataLength, offset);
    } else {
      const record = decodePayload(type, buf, payloadStart, end);
      if (record === null) return { end: offset, stop: { offset, reason: 'bad-payload' } };
      visitor.record(record, offset, end);
      if (record.kind === 'writeEnd') {
        // The next write begins at the next sector boundary; zeros in between. The
        // end may lie past the bytes (a file written without zero fill ends here).
        const next = sectorAlignUp(end);
        if (firstNonZero(buf, end, Math.min(next, buf.length)) !== Math.min(next, buf.length)) {
          return { end, stop: { offset: end, reason: 'bad-padding' } };
        }
        offset = next;
        continue;
      }
    }
    offset = end;
  }
  return { end: offset, stop: null };
}

/** walkRecords with an Entry built for every entry record. */
export function decodeRecords(buf: Uint8Array, visit: (record: LogRecord, offset: number, end: number) => void, start = 0): DecodeResult {
  return walkRecords(
    buf,
    {
      entry(index, term, typeCode, dataStart, dataLength, offset) {
        visit({ kind: 'entry', entry: entryInBuffer(index, term, typeCode, buf, dataStart, dataLength) }, offset, dataStart + dataLength);
      },
      record: visit,
    },
    start,
  );
}

/** Convenience form of decodeRecords that collects the records. */
export function decodeAllRecords(buf: Uint8Array, start = 0): DecodeResult & { readonly records: LogRecord[] } {
  const records: LogRecord[] = [];
  const result = decodeRecords(buf, (record) => records.push(record), start);
  return { ...result, records };
}

/** Offset of the first complete, valid record starting after `from`, or null: used
 * to tell a torn tail (nothing valid follows) from corruption in the middle of a
 * segment. Runs of zeros (the zero-filled space after the data) are skipped
 * without trying each offset: a record's length field is never zero, so a record
 * starts at most 3 bytes before the next non-zero byte. */
export function findValidRecordAfter(buf: Uint8Array, from: number): number | null {
  return scanForRecord(buf, from, () => true)?.offset ?? null;
}

/** The first valid writeEnd record starting after `from` (found the way
 * findValidRecordAfter finds any record), or null. */
export function findWriteEndAfter(
  buf: Uint8Array,
  from: number,
): { readonly offset: number; readonly start: number; readonly sectors: Uint8Array } | null {
  const found = scanForRecord(buf, from, (record) => record.kind === 'writeEnd');
  return found !== null && found.record.kind === 'writeEnd'
    ? { offset: found.offset, start: found.record.start, sectors: found.record.sectors }
    : null;
}

function scanForRecord(
  buf: Uint8Array,
  from: number,
  wanted: (record: LogRecord) => boolean,
): { readonly offset: number; readonly record: LogRecord } | null {
  for (let offset = from + 1; offset + RECORD_HEADER_BYTES < buf.length; offset++) {
    if (buf[offset] === 0) {
      const nonZero = firstNonZero(buf, offset);
      if (nonZero - 3 > offset) {
        offset = nonZero - 4; // the loop's increment brings it to nonZero - 3
        continue;
      }
    }
    const end = frameEnd(buf, offset);
    if (end < 0) continue;
    const record = decodePayload(buf[offset + 8]!, buf, offset + RECORD_HEADER_BYTES, end);
    if (record === null) continue;
    if (wanted(record)) return { offset, record };
    // A valid record: the next one starts at its end (the loop's increment adds one).
    offset = end - 1;
  }
  return null;
}

// Checking one record's frame (length, type, CRC), without decoding its payload.

const STOP_REASONS: readonly DecodeStopReason[] = ['torn', 'bad-length', 'bad-crc', 'bad-type'];

/** End offset of the valid record framed at `offset`, or -(1 + i) for STOP_REASONS[i]
 * (a number, not an object: this runs once per record on recovery). */
function frameEnd(buf: Uint8Array, offset: number): number {
  const remaining = buf.length - offset;
  if (remaining < RECORD_HEADER_BYTES) return -1;
  const length = readU32(buf, offset);
  if (length === 0 || length > MAX_RECORD_PAYLOAD_BYTES) return -2;
  const end = offset + RECORD_HEADER_BYTES + length;
  if (end > buf.length) return -1;
  // The type before the CRC: the scans for a valid record (findValidRecordAfter) try
  // every offset, and most fail here instead of paying for a CRC over a long length.
  if (!isKnownType(buf[offset + 8]!)) return -4;
  const crc = readU32(buf, offset + 4);
  // A plain Uint8Array view: cheaper than Buffer#subarray on this hot path.
  const covered = new Uint8Array(buf.buffer, buf.byteOffset + offset + 8, length + 1);
  if (crc32c(covered) >>> 0 !== crc) return -3;
  return end;
}

/**
 * Whether the record framed at `offset` reads back whole, as it was written: its length
 * fits and its CRC holds, whatever its type (frameEnd refuses an unknown type before it
 * checks the CRC). A crash leaves such a record only by a 1-in-2^32 chance.
 */
export function frameChecksumHolds(buf: Uint8Array, offset: number): boolean {
  if (buf.length - offset < RECORD_HEADER_BYTES) return false;
  const length = readU32(buf, offset);
  if (length === 0 || length > MAX_RECORD_PAYLOAD_BYTES || offset + RECORD_HEADER_BYTES + length > buf.length) return false;
  const covered = new Uint8Array(buf.buffer, buf.byteOffset + offset + 8, length + 1);
  return crc32c(covered) >>> 0 === readU32(buf, offset + 4);
}

function isKnownType(type: number): boolean {
  return type >= RecordType.entry && type <= RecordType.writeEnd;
}

function readU32(buf: Uint8Array, offset: number): number {
  return (buf[offset]! | (buf[offset + 1]! << 8) | (buf[offset + 2]! << 16) | (buf[offset + 3]! << 24)) >>> 0;
}
