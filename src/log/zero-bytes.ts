// Fast scans for runs of zero bytes. Segment files are zero-filled ahead of the
// data (see preallocation.ts), so recovery meets megabytes of zeros after the
// last record: these helpers step over them with native compares instead of
// looking at one byte at a time.

/** Zero bytes compared against whole chunks of the input. */
const ZEROS = Buffer.alloc(64 * 1024);
/** A run shorter than this is cheaper to walk byte by byte than to compare. */
const SHORT_RUN_BYTES = 32;

/** Offset of the first non-zero byte in [from, to), or `to` when they are all zero. */
export function firstNonZero(buf: Uint8Array, from: number, to = buf.length): number {
  let at = from;
  const shortEnd = Math.min(to, from + SHORT_RUN_BYTES);
  for (; at < shortEnd; at++) if (buf[at] !== 0) return at;
  while (at < to) {
    const n = Math.min(ZEROS.length, to - at);
    if (ZEROS.compare(buf, at, at + n, 0, n) !== 0) {
      for (let i = at; i < at + n; i++) if (buf[i] !== 0) return i;
    }
    at += n;
  }
  return to;
}

/** Offset just past the last non-zero byte in [from, buf.length), or `from` when they are all zero. */
export function nonZeroEnd(buf: Uint8Array, from: number): number {
  let end = buf.length;
  while (end > from) {
    const n = Math.min(ZEROS.length, end - from);
    if (ZEROS.compare(buf, end - n, end, 0, n) !== 0) {
      for (let i = end - 1; i >= end - n; i--) if (buf[i] !== 0) return i + 1;
    }
    end -= n;
  }
  return from;
}
