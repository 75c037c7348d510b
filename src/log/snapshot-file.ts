// Snapshot files: <dir>/snapshots/<index 20 digits>-<term>.snap
//   [magic 8 "CSSNAP01"][crc32c u32][meta length u32][data length u32 lo][u32 hi][meta msgpack][data]
// The crc covers everything after the crc field. Written to a temporary name,
// fsynced, renamed, then the directory is fsynced: a reader never sees half a file
// under the final name, and a valid file survives a crash.
import { crc32c } from '@node-rs/crc32';
import { Packr } from 'msgpackr';
import { readFileSync } from 'node:fs';
import { open, readFile, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { isMemberAddress } from '../raft/configuration.ts';
import type { ConfState, MemberAddress, SnapshotMeta, Snapshot } from '../raft/types.ts';
import { LogReadError } from './errors.ts';
import { fsyncDir, SNAPSHOT_NAME, snapshotFileName } from './segment-files.ts';

const MAGIC = Buffer.from('CSSNAP01', 'latin1');
const HEADER_BYTES = 24;
const packr = new Packr({ useRecords: false, moreTypes: false });

function encodeHeader(meta: SnapshotMeta, data: Uint8Array): Buffer {
  const metaBytes = packr.pack({
    index: meta.index,
    term: meta.term,
    conf: {
      voters: [...meta.conf.voters],
      learners: [...meta.conf.learners],
      // Members' addresses (issue 13); a file without them is read as before.
      ...(meta.conf.addresses !== undefined ? { addresses: meta.conf.addresses.map(({ id, address }) => ({ id, address })) } : {}),
    },
  });
  const header = Buffer.alloc(HEADER_BYTES + metaBytes.length);
  MAGIC.copy(header, 0);
  header.writeUInt32LE(metaBytes.length, 12);
  header.writeUInt32LE(data.length % 2 ** 32, 16);
  header.writeUInt32LE(Math.floor(data.length / 2 ** 32), 20);
  header.set(metaBytes, HEADER_BYTES);
  const crc = crc32c(data, crc32c(header.subarray(12)));
  header.writeUInt32LE(crc >>> 0, 8);
  return header;
}

/** Writes the snapshot file durably; returns its path. */
export async function writeSnapshotFile(dir: string, meta: SnapshotMeta, data: Uint8Array): Promise<string> {
  const name = snapshotFileName(meta.index, meta.term);
  const path = join(dir, name);
  const temp = `${path}.tmp`;
  const header = encodeHeader(meta, data);
  const handle = await open(temp, 'w');
  try {
    try {
      await handle.writev([header, data]);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, path);
  } catch (error) {
    // A full disk stays full while the part written is kept: remove it (recovery would too).
    await unlink(temp).catch(() => {});
    throw error;
  }
  await fsyncDir(dir);
  return path;
}

function isIdList(value: unknown): value is number[] {
  return Array.isArray(value) && value.every((v) => Number.isSafeInteger(v) && (v as number) >= 0);
}

function isAddressList(value: unknown): value is MemberAddress[] {
  return (
    Array.isArray(value) &&
    value.every((a) => typeof a === 'object' && a !== null && isIdList([(a as MemberAddress).id]) && isMemberAddress((a as MemberAddress).address))
  );
}

function decodeMeta(bytes: Uint8Array): SnapshotMeta | null {
  let value: unknown;
  try {
    value = packr.unpack(bytes);
  } catch {
    return null;
  }
  if (typeof value !== 'object' || value === null) return null;
  const v = value as Record<string, unknown>;
  const conf = v['conf'] as Record<string, unknown> | undefined;
  if (!Number.isSafeInteger(v['index']) || !Number.isSafeInteger(v['term'])) return null;
  if (typeof conf !== 'object' || conf === null || !isIdList(conf['voters']) || !isIdList(conf['learners'])) return null;
  const addresses = conf['addresses'];
  if (addresses !== undefined && !isAddressList(addresses)) return null;
  const confState: ConfState = { voters: conf['voters'], learners: conf['learners'], ...(addresses !== undefined ? { addresses } : {}) };
  return { index: v['index'] as number, term: v['term'] as number, conf: confState };
}

/** Reads and verifies a snapshot file; returns the snapshot or the reason its bytes make it
 * unusable. A file that cannot be read at all throws LogReadError: that says nothing of its bytes. */
export async function readSnapshotFile(path: string, name: string): Promise<Snapshot | string> {
  let buf: Buffer;
  try {
    buf = await readFile(path);
  } catch (error) {
    throw new LogReadError(path, error);
  }
  return parseSnapshotFile(buf, name);
}

/** The snapshot a file's bytes hold, verified, or the reason they make it unusable. */
function parseSnapshotFile(buf: Buffer, name: string): Snapshot | string {
  const match = SNAPSHOT_NAME.exec(name);
  if (match === null) return 'not a snapshot file name';
  if (buf.length < HEADER_BYTES || !buf.subarray(0, 8).equals(MAGIC)) return 'bad header';
  const metaLength = buf.readUInt32LE(12);
  const dataLength = buf.readUInt32LE(16) + buf.readUInt32LE(20) * 2 ** 32;
  if (HEADER_BYTES + metaLength + dataLength !== buf.length) return `bad length (file has ${buf.length} bytes)`;
  if (crc32c(buf.subarray(12)) >>> 0 !== buf.readUInt32LE(8)) return 'checksum mismatch';
  const meta = decodeMeta(buf.subarray(HEADER_BYTES, HEADER_BYTES + metaLength));
  if (meta === null) return 'bad metadata';
  if (meta.index !== Number(match[1]) || meta.term !== Number(match[2])) return 'metadata does not match the file name';
  const start = HEADER_BYTES + metaLength;
  return { meta, data: new Uint8Array(buf.buffer, buf.byteOffset + start, dataLength) };
}

/**
 * The snapshot of the file `<dir>/<name of meta>`, whose bytes stay in the file: `data` reads
 * and verifies it each time (synchronously; LogStorage.releaseSnapshotData says who may ask).
 * A file gone or changed since throws: the log removes only older snapshots' files.
 */
export function fileBackedSnapshot(dir: string, meta: SnapshotMeta): Snapshot {
  const name = snapshotFileName(meta.index, meta.term);
  const path = join(dir, name);
  return {
    meta,
    get data(): Uint8Array {
      let buf: Buffer;
      try {
        buf = readFileSync(path);
      } catch (error) {
        throw new LogReadError(path, error);
      }
      const snapshot = parseSnapshotFile(buf, name);
      if (typeof snapshot === 'string') throw new Error(`snapshot file ${path}: ${snapshot}`);
      return snapshot.data;
    },
  };
}

export async function removeFile(path: string): Promise<void> {
  try {
    await unlink(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
}
