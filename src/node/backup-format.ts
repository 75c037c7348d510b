// The backup file: a store snapshot framed so that a damaged or cut-short copy is refused
// before anything is restored from it. It is written by a node as it streams
// (GET /cluster/backup), so the parts known only at the end, the snapshot's byte length and
// the checksum, are in a footer rather than in the header.
//
//   offset 0       magic "CSBACKUP" (8 bytes)
//   8              header length H, u32 little-endian (at most BACKUP_HEADER_BYTES_MAX)
//   12             header: JSON, UTF-8 (BackupHeader: format, version, index, term, createdAt...)
//   12 + H         the store snapshot (src/store/snapshot.ts's msgpack encoding), N bytes
//   12 + H + N     footer: magic "CSBKEND1" (8), N as u32 lo + u32 hi, then the CRC-32C of
//                  every byte of the file before it (u32 little-endian)
//
// CRC-32C (@node-rs/crc32, as the log's records): a torn or altered file fails it; the
// format is no defence against someone who rewrites the checksum too (keep backups where
// only the operator can write).
import { crc32c } from '@node-rs/crc32';

export const BACKUP_FORMAT = 'collection-store/backup';
export const BACKUP_VERSION = 1;
export const BACKUP_MAGIC = Buffer.from('CSBACKUP', 'latin1');
export const BACKUP_FOOTER_MAGIC = Buffer.from('CSBKEND1', 'latin1');
/** magic + header length. */
export const BACKUP_PREFIX_BYTES = 12;
/** footer magic + data length (two u32) + crc. */
export const BACKUP_FOOTER_BYTES = 20;
/** The JSON header is a few hundred bytes; a bigger length field is damage, not a header. */
export const BACKUP_HEADER_BYTES_MAX = 64 * 1024;

/** What the header says about the snapshot that follows it. */
export interface BackupHeader {
  readonly format: typeof BACKUP_FORMAT;
  readonly version: number;
  /** The log index the state is consistent at: every entry up to it applied, none after. */
  readonly index: number;
  /** The source cluster's term when the state was captured (at least the term of the entry at `index`). */
  readonly term: number;
  /** When the state was captured, ISO 8601. */
  readonly createdAt: string;
  /** The node that served the backup. */
  readonly sourceNodeId: number;
  /** The version of the store snapshot inside (src/store/snapshot.ts). */
  readonly snapshotVersion: number;
}

/** A backup file that cannot be used: the message says where it is damaged. */
export class BackupFormatError extends Error {
  override readonly name = 'BackupFormatError';
}

/** The bytes before the snapshot: magic, header length, header. */
export function encodeBackupPrefix(header: BackupHeader): Buffer {
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  if (json.byteLength > BACKUP_HEADER_BYTES_MAX) throw new RangeError(`backup header of ${json.byteLength} bytes`);
  const prefix = Buffer.alloc(BACKUP_PREFIX_BYTES);
  BACKUP_MAGIC.copy(prefix, 0);
  prefix.writeUInt32LE(json.byteLength, 8);
  return Buffer.concat([prefix, json]);
}

/** The footer, given the snapshot's length and the CRC-32C of everything before the crc field. */
export function encodeBackupFooter(dataBytes: number, crcBefore: number): Buffer {
  const footer = Buffer.alloc(BACKUP_FOOTER_BYTES);
  BACKUP_FOOTER_MAGIC.copy(footer, 0);
  footer.writeUInt32LE(dataBytes % 2 ** 32, 8);
  footer.writeUInt32LE(Math.floor(dataBytes / 2 ** 32), 12);
  const crc = crc32c(footer.subarray(0, 16), crcBefore) >>> 0;
  footer.writeUInt32LE(crc, 16);
  return footer;
}

/** Computes the CRC-32C of a stream of chunks, and the footer that ends it. */
export class BackupChecksum {
  private crc = 0;
  private total = 0;

  update(chunk: Uint8Array): void {
    this.crc = crc32c(chunk, this.crc) >>> 0;
    this.total += chunk.byteLength;
  }

  get bytes(): number {
    return this.total;
  }

  footer(dataBytes: number): Buffer {
    return encodeBackupFooter(dataBytes, this.crc);
  }
}

/** Parses and checks a header's JSON; throws BackupFormatError. */
export function parseBackupHeader(bytes: Uint8Array): BackupHeader {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch {
    throw new BackupFormatError('the header is not JSON');
  }
  if (typeof value !== 'object' || value === null) throw new BackupFormatError('the header is not an object');
  const h = value as Record<string, unknown>;
  if (h['format'] !== BACKUP_FORMAT) throw new BackupFormatError(`the header's format is ${JSON.stringify(h['format'])}, not ${BACKUP_FORMAT}`);
  if (h['version'] !== BACKUP_VERSION)
    throw new BackupFormatError(`backup version ${JSON.stringify(h['version'])} is not supported (this binary reads ${BACKUP_VERSION})`);
  for (const field of ['index', 'term', 'sourceNodeId', 'snapshotVersion'] as const) {
    if (!Number.isSafeInteger(h[field]) || (h[field] as number) < 0)
      throw new BackupFormatError(`the header's ${field} is not a non-negative integer`);
  }
  if (typeof h['createdAt'] !== 'string') throw new BackupFormatError("the header's createdAt is not a string");
  return value as BackupHeader;
}

/** A whole backup file checked: its header, and the snapshot bytes (a view into `file`). */
export interface VerifiedBackup {
  readonly header: BackupHeader;
  readonly data: Uint8Array;
}

/**
 * Checks a whole backup file: magic, lengths (a file cut short or with bytes appended is
 * refused), the checksum, and the header. Throws BackupFormatError naming what is wrong.
 * The snapshot inside is not decoded here (restore does that, which checks its shape).
 */
export function verifyBackup(file: Uint8Array): VerifiedBackup {
  const buf = Buffer.from(file.buffer, file.byteOffset, file.byteLength);
  if (buf.byteLength < BACKUP_PREFIX_BYTES + BACKUP_FOOTER_BYTES || !buf.subarray(0, 8).equals(BACKUP_MAGIC)) {
    throw new BackupFormatError('not a collection-store backup (no CSBACKUP header)');
  }
  const headerBytes = buf.readUInt32LE(8);
  if (headerBytes > BACKUP_HEADER_BYTES_MAX) throw new BackupFormatError(`header length ${headerBytes} is over ${BACKUP_HEADER_BYTES_MAX} bytes`);
  const footerAt = buf.byteLength - BACKUP_FOOTER_BYTES;
  if (!buf.subarray(footerAt, footerAt + 8).equals(BACKUP_FOOTER_MAGIC)) {
    throw new BackupFormatError(`the file ends without its footer (${buf.byteLength} bytes): it was cut short or damaged`);
  }
  const dataBytes = buf.readUInt32LE(footerAt + 8) + buf.readUInt32LE(footerAt + 12) * 2 ** 32;
  const expected = BACKUP_PREFIX_BYTES + headerBytes + dataBytes + BACKUP_FOOTER_BYTES;
  if (expected !== buf.byteLength) {
    throw new BackupFormatError(`the file has ${buf.byteLength} bytes, its footer says ${expected}: it was cut short or damaged`);
  }
  const crc = crc32c(buf.subarray(0, buf.byteLength - 4)) >>> 0;
  if (crc !== buf.readUInt32LE(buf.byteLength - 4)) throw new BackupFormatError('checksum mismatch: the file is damaged');
  const header = parseBackupHeader(buf.subarray(BACKUP_PREFIX_BYTES, BACKUP_PREFIX_BYTES + headerBytes));
  const start = BACKUP_PREFIX_BYTES + headerBytes;
  return { header, data: buf.subarray(start, start + dataBytes) };
}
