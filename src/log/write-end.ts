// The writeEnd record closes every write the segment writer makes. It names where the
// write began and carries a CRC32C of each disk sector the write covers, so that
// recovery can tell what a power loss does to the last write (some of its sectors
// still hold what was there before: zeros, since segments are zero-filled ahead)
// from any other damage (a sector that holds neither). See segment-tail.ts.
import { crc32c } from '@node-rs/crc32';
import { RECORD_HEADER_BYTES, SECTOR_BYTES } from './record.ts';
import { firstNonZero } from './zero-bytes.ts';

export { SECTOR_BYTES };

/** Number of sector-aligned blocks that overlap [start, end). */
function blockCount(start: number, end: number): number {
  if (end <= start) return 0;
  return Math.ceil(end / SECTOR_BYTES) - Math.floor(start / SECTOR_BYTES);
}

/**
 * CRC32C of each part of `bytes` that falls in one disk sector, for `bytes` written
 * at file offset `at`: one u32 (little-endian) per sector-aligned block overlapping
 * [at, at + bytes.length), computed over the bytes of the write in that block only.
 */
export function sectorCrcs(bytes: Uint8Array, at: number): Uint8Array {
  const count = blockCount(at, at + bytes.length);
  const out = new Uint8Array(count * 4);
  const view = new DataView(out.buffer);
  let from = 0;
  for (let i = 0; i < count; i++) {
    const blockEnd = (Math.floor((at + from) / SECTOR_BYTES) + 1) * SECTOR_BYTES;
    const to = Math.min(bytes.length, blockEnd - at);
    view.setUint32(i * 4, crc32c(viewOf(bytes, from, to)) >>> 0, true);
    from = to;
  }
  return out;
}

/** Upper bound on the framed size of the writeEnd of a write of `bodyBytes` bytes. */
export function writeEndMaxBytes(bodyBytes: number): number {
  // map header + "start" + float64 + "sectors" + bin32 header, then a CRC per sector
  // (the body touches at most one sector more than its length fills)
  return RECORD_HEADER_BYTES + 40 + 4 * (Math.ceil(bodyBytes / SECTOR_BYTES) + 1);
}

export type WriteSectors =
  /** Every sector holds what the write put there. */
  | { readonly kind: 'whole' }
  /** Each sector holds what the write put there or zeros, and some hold zeros. */
  | { readonly kind: 'torn' }
  /** The sector part at `offset` holds neither: not what a power loss leaves. */
  | { readonly kind: 'damaged'; readonly offset: number };

/**
 * Compares bytes [start, end) of a segment with the sector CRCs of the writeEnd found
 * at `end`. A block may hold zeros instead of what was written (a sector that did not
 * land) except the one that shares its sector with the writeEnd: that sector landed,
 * since the writeEnd in it reads back whole.
 */
export function checkWriteSectors(buf: Uint8Array, start: number, end: number, crcs: Uint8Array): WriteSectors {
  if (end > buf.length || crcs.length !== blockCount(start, end) * 4) return { kind: 'damaged', offset: start };
  const found = new DataView(sectorCrcs(buf.subarray(start, end), start).buffer);
  const recorded = new DataView(crcs.buffer, crcs.byteOffset, crcs.byteLength);
  const firstBlock = Math.floor(start / SECTOR_BYTES) * SECTOR_BYTES;
  const landedFrom = Math.floor(end / SECTOR_BYTES) * SECTOR_BYTES;
  let torn = false;
  for (let i = 0; i * 4 < crcs.length; i++) {
    if (found.getUint32(i * 4, true) === recorded.getUint32(i * 4, true)) continue;
    // the write's part of block i
    const from = Math.max(start, firstBlock + i * SECTOR_BYTES);
    const to = Math.min(end, firstBlock + (i + 1) * SECTOR_BYTES);
    if (to > landedFrom || firstNonZero(buf, from, to) !== to) return { kind: 'damaged', offset: from };
    torn = true;
  }
  return torn ? { kind: 'torn' } : { kind: 'whole' };
}

/** A view of bytes [from, to): no copy, and no Buffer object per sector. */
function viewOf(buf: Uint8Array, from: number, to: number): Uint8Array {
  return new Uint8Array(buf.buffer, buf.byteOffset + from, to - from);
}
