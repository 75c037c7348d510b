// Zero-fill ahead of the data. Appending to a file makes every O_DSYNC write
// also commit the new file size to the filesystem journal; overwriting bytes
// that already exist (zeros written and made durable earlier) does not, which
// roughly halves the cost of a durable group commit on ext4. So the writer
// extends each segment with zeros in chunks and writes records over them.
//
// Invariants recovery relies on:
// - every byte after the data end of a segment is zero (the chunk is written
//   before any record lands in it);
// - one data write covers at most MAX_WRITE_BYTES and is durable before the next
//   starts, so a power loss can tear only the last write, leaving some of its
//   sectors still zero. Recovery cuts such a write, even when later sectors of it
//   reached the disk before earlier ones, using the sector CRCs its writeEnd record
//   carries (see write-end.ts and segment-tail.ts);
// - a file ends inside a record only where a crash cut a write that extended it (sync
//   'none', or an older version's segment: with zero fill no write extends the file),
//   and only at a page boundary: the kernel copies a write into the page cache, and
//   writes it back, in whole pages, so a kill or a power loss stops it at one; the
//   pieces of a split write end on page boundaries too (segment-writer.ts). A file that
//   ends inside a record anywhere else was cut by something else (segment-tail.ts).
import type { FileHandle } from 'node:fs/promises';
import { assert } from '../assert.ts';

/** Largest single positional write of records (a bigger batch takes several). */
export const MAX_WRITE_BYTES = 1024 * 1024;
/** The first zero chunk of a segment: small, so that many small logs stay small. */
export const ZERO_CHUNK_MIN_BYTES = 64 * 1024;
/** Chunks grow with the file (doubling it) up to this size. Measured here (ext4,
 * O_DSYNC): zeroing 1 MiB costs about the same as 4 x 256 KiB, but stalls the
 * batch that pays for it 2-3 ms instead of 0.7 ms, so the smaller chunk keeps the
 * tail latency down at no cost in throughput. */
export const ZERO_CHUNK_MAX_BYTES = 256 * 1024;
/** Zero fill ends on these boundaries, and so do the writes a big batch is split into
 * (segment-writer.ts): a crash or a power loss leaves a file's length at one of them or at
 * the end of a write, which recovery uses to tell a cut file from a torn one (segment-tail.ts). */
export const PAGE_BYTES = 4096;

const ZERO_CHUNK = Buffer.alloc(ZERO_CHUNK_MAX_BYTES);

/**
 * New length of a segment zero-filled up to `zeroedTo` that must hold data up to
 * `end`: one chunk further (the chunk grows with the file), at least `end`, and
 * not beyond the segment size limit unless the data itself goes beyond it.
 */
export function zeroFillTarget(zeroedTo: number, end: number, segmentBytes: number): number {
  const chunk = Math.min(ZERO_CHUNK_MAX_BYTES, Math.max(ZERO_CHUNK_MIN_BYTES, zeroedTo));
  const wanted = Math.ceil(Math.max(end, zeroedTo + chunk) / PAGE_BYTES) * PAGE_BYTES;
  const target = Math.min(wanted, Math.max(end, segmentBytes));
  if (!(target >= end && target > zeroedTo)) assert(false, `zero fill target ${target} for data end ${end}, zeroed to ${zeroedTo}`);
  return target;
}

/** Writes zeros over [from, to) of the file, at most one chunk per write, in order. */
export async function writeZeros(handle: FileHandle, path: string, from: number, to: number): Promise<void> {
  for (let at = from; at < to;) {
    const n = Math.min(ZERO_CHUNK.length, to - at);
    const { bytesWritten } = await handle.write(ZERO_CHUNK, 0, n, at);
    if (bytesWritten <= 0) throw new Error(`zero fill of ${path} made no progress`);
    at += bytesWritten;
  }
}
