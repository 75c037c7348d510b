// What the bytes after the last valid record of a segment are, and whether
// recovery may drop them. Three cases:
// - zeros to the end of the file: the clean end of the data (segments are
//   zero-filled ahead of the records, see preallocation.ts);
// - nothing valid after the bad record: a torn tail, dropped with a warning;
// - valid records after it: corruption, unless it has the shape only a torn
//   last write over zero-filled space can leave (see judgeTail).
import { LogCorruptionError } from './errors.ts';
import { MAX_WRITE_BYTES } from './preallocation.ts';
import { decodeRecords, findValidRecordAfter, type DecodeStop } from './record.ts';
import { firstNonZero, hasZeroSector, nonZeroEnd } from './zero-bytes.ts';

export type TailVerdict =
  /** Only zeros follow the data. */
  | { readonly kind: 'clean' }
  /** Drop everything from the data end on (cut the file there) and warn. */
  | { readonly kind: 'torn'; readonly warning: string };

/**
 * Judges the bytes of segment `path` from `stop.offset`, where decoding stopped.
 * Throws LogCorruptionError (naming the file and offset) when dropping them could
 * lose records that were acknowledged as durable.
 *
 * A valid record after the bad one is accepted as a torn last write only when:
 * the segment is the last one; all non-zero bytes after the bad record end
 * within MAX_WRITE_BYTES of it (the reach of the one write a power loss can
 * tear); and every stretch of damage before a valid record contains a
 * sector-aligned all-zero sector (sectors of that write that never reached the
 * disk, over zero-filled space; a flipped bit or a garbled sector does not look
 * like that). Several such holes are accepted within that reach: a large write
 * goes to the device as several requests that may complete in any order.
 */
export function judgeTail(buf: Uint8Array, path: string, stop: DecodeStop, isLast: boolean): TailVerdict {
  const x = stop.offset;
  const dataEnd = nonZeroEnd(buf, x);
  if (dataEnd === x) return { kind: 'clean' };
  if (!isLast) throw new LogCorruptionError(path, x, `${stop.reason} record in a segment that is not the last one`);
  const next = findValidRecordAfter(buf, x);
  if (next === null) {
    return { kind: 'torn', warning: `log: truncated the torn tail of ${path} at byte offset ${x} (${stop.reason}; ${dataEnd - x} bytes dropped)` };
  }
  const refuse = (why: string): never => {
    throw new LogCorruptionError(path, x, `${stop.reason} record followed by a valid record at offset ${next}${why}`);
  };
  if (dataEnd - x > MAX_WRITE_BYTES) {
    refuse(`, with data up to offset ${dataEnd}: farther than one write (${MAX_WRITE_BYTES} bytes) can reach`);
  }
  let holes = 0;
  let gapStart = x;
  let gapEnd: number | null = next;
  while (gapEnd !== null) {
    if (!hasZeroSector(buf, gapStart, gapEnd)) {
      refuse(gapStart === x ? '' : ` (and damage at offset ${gapStart} that is not a hole of zeros)`);
    }
    holes++;
    const after = decodeRecords(buf, () => {}, gapEnd);
    if (after.stop === null || firstNonZero(buf, after.stop.offset) === buf.length) break;
    gapStart = after.stop.offset;
    gapEnd = findValidRecordAfter(buf, gapStart); // null: a torn record, then zeros
  }
  return {
    kind: 'torn',
    warning:
      `log: truncated the torn last write of ${path} at byte offset ${x} (${stop.reason}; ` +
      `${holes} hole(s) of zeros before valid-looking records up to offset ${dataEnd}; ${dataEnd - x} bytes dropped)`,
  };
}
