// What the bytes after the last valid record of a segment are, and whether
// recovery may drop them. The cases:
// - zeros to the end of the file: the clean end of the data (segments are
//   zero-filled ahead of the records, see preallocation.ts);
// - a record whose CRC holds but that this version cannot read (bad payload, unknown
//   type): written whole, not by a crash, refused wherever it is;
// - the file ending inside a record, in a segment with writeEnds, at a length where no
//   crash leaves a file (not a page boundary, see preallocation.ts): cut by something
//   other than a crash (by hand, a copy cut short), refused;
// - nothing valid after the bad record: a torn tail, dropped with a warning;
// - valid records after it, all from the last write, which a power loss left with
//   some of its sectors still zero: that write was never acknowledged, dropped with
//   a warning;
// - anything else before valid records: damage to records that may have been
//   acknowledged, refused (see judgeTail).
import { LogCorruptionError } from './errors.ts';
import { MAX_WRITE_BYTES, PAGE_BYTES } from './preallocation.ts';
import { findValidRecordAfter, findWriteEndAfter, frameChecksumHolds, type DecodeStop } from './record-scanner.ts';
import { checkWriteSectors } from './write-end.ts';
import { nonZeroEnd } from './zero-bytes.ts';

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
 * The segment writer makes its writes durable one after another and ends each with a
 * writeEnd record: where the write began, and a CRC of each disk sector it covers
 * (write-end.ts). A power loss can damage only the last write, which was never
 * acknowledged, and only by leaving some of its sectors as they were: zeros (the
 * zero-filled space). When valid records follow the bad one, it is that write, and
 * dropping it from the bad record on is safe, when
 * - no writeEnd follows the bad record but the segment has writeEnds before it
 *   (`sawWriteEnd`): the write holding it never finished, since a finished one ends
 *   with a writeEnd, and no later write began, since that would end with one too
 *   (only a second, separate fault could hide either); or
 * - the first writeEnd after it began at or before it (so it ends the damaged
 *   write), nothing valid follows that writeEnd, and each sector of the write holds
 *   what the write put there or zeros.
 * Anything else is refused: a writeEnd that began after the bad record ends a later
 * write, so the damaged one had finished; a sector holding neither is not what a
 * power loss leaves (a flipped bit, a garbled sector); and a segment written before
 * writeEnds existed tells its writes apart by nothing.
 *
 * Before all that, a file that ends inside a record where no crash leaves one (see
 * crashCanEndFileAt) is refused: the segment was cut short, and the records after the cut
 * may have been acknowledged. `lastWriteStart` is where the write after the segment's last
 * writeEnd before `stop` began (null: the segment has none there, as an older version wrote it).
 */
export function judgeTail(buf: Uint8Array, path: string, stop: DecodeStop, isLast: boolean, lastWriteStart: number | null): TailVerdict {
  const sawWriteEnd = lastWriteStart !== null;
  const x = stop.offset;
  const dataEnd = nonZeroEnd(buf, x);
  if (dataEnd === x) return { kind: 'clean' };
  if (!isLast) {
    // 'torn' here is the file ending inside a record: not what a crash leaves in this segment.
    const what = stop.reason === 'torn' ? 'the file ends inside a record' : `${stop.reason} record`;
    throw new LogCorruptionError(
      path,
      x,
      `${what} in a segment that is not the last one: the segment was cut short or damaged (a crash only ever cuts the last segment)`,
    );
  }
  const torn = (what: string): TailVerdict => ({
    kind: 'torn',
    warning: `log: truncated the torn tail of ${path} at byte offset ${x} (${stop.reason}; ${what}; ${dataEnd - x} bytes dropped)`,
  });
  const refuse = (why: string): LogCorruptionError => new LogCorruptionError(path, x, `${stop.reason} record ${why}`);
  // A record whose CRC holds was written whole, as it reads: a crash did not make it
  // unreadable (our writer wrote what it cannot read back, or a newer version wrote it).
  if (stop.reason === 'bad-payload') throw refuse('whose checksum holds: a whole record whose payload this version cannot decode');
  if (stop.reason === 'bad-type' && frameChecksumHolds(buf, x)) {
    throw refuse(`whose checksum holds: a whole record of type ${buf[x + 8]!}, which this version does not know`);
  }
  const next = findValidRecordAfter(buf, x);
  if (next === null) {
    if (stop.reason === 'torn' && lastWriteStart !== null && !crashCanEndFileAt(buf.length, lastWriteStart)) {
      throw new LogCorruptionError(
        path,
        x,
        `the file ends inside the record at offset ${x}, at a length of ${buf.length} bytes, which is not a multiple of ${PAGE_BYTES}: ` +
          `a crash leaves a file cut inside a record only at a page boundary, so the segment was cut short (by hand, or a copy that did not finish) ` +
          `and the records after offset ${x} are gone`,
      );
    }
    return torn('nothing valid after it');
  }
  // Nothing valid lies between x and `next`: the search for a writeEnd starts there
  // instead of scanning the damaged bytes a second time.
  const writeEnd = findWriteEndAfter(buf, next - 1);
  if (writeEnd === null) {
    if (sawWriteEnd) return torn(`the last write, unfinished: valid records from offset ${next} on, no write end after it`);
    throw refuse(`followed by a valid record at offset ${next}`);
  }
  if (writeEnd.start > x) {
    throw refuse(`in a write that finished before the one that began at offset ${writeEnd.start} (ended at offset ${writeEnd.offset})`);
  }
  const later = findValidRecordAfter(buf, writeEnd.offset);
  if (later !== null) throw refuse(`in the write ended at offset ${writeEnd.offset}, which a valid record at offset ${later} follows`);
  const sectors = checkWriteSectors(buf, writeEnd.start, writeEnd.offset, writeEnd.sectors);
  if (sectors.kind === 'damaged') {
    throw refuse(`in the last write, whose bytes at offset ${sectors.offset} are neither what it wrote there nor zeros (not a torn write)`);
  }
  if (sectors.kind === 'whole') throw refuse(`in the last write, whose sectors all hold what it wrote (not a torn write)`);
  return torn(`the last write, which began at offset ${writeEnd.start} and ends at offset ${writeEnd.offset}, has sectors still zero`);
}

/**
 * Whether a crash can leave a segment with writeEnds ending inside a record at `length`
 * (see preallocation.ts): a write that extended the file (sync 'none': zero fill means no
 * write ever does) cut by a kill or a power loss stops at a page boundary, and so do the
 * pieces of a split write. A version before the pieces ended on page boundaries split a
 * write on sector boundaries, MAX_WRITE_BYTES apart from where the write began
 * (`writeStart`, always a sector boundary then): still accepted.
 */
function crashCanEndFileAt(length: number, writeStart: number): boolean {
  return length % PAGE_BYTES === 0 || (length > writeStart && (length - writeStart) % MAX_WRITE_BYTES === 0);
}
