// What the bytes after the last valid record of a segment are, and whether
// recovery may drop them. The cases:
// - zeros to the end of the file: the clean end of the data (segments are
//   zero-filled ahead of the records, see preallocation.ts);
// - nothing valid after the bad record: a torn tail, dropped with a warning;
// - valid records after it, all from the last write, with a hole of zero sectors
//   between: that write was torn by a power loss (never acknowledged), dropped with
//   a warning;
// - anything else before valid records: corruption of records that may have been
//   acknowledged, refused (see judgeTail).
import { LogCorruptionError } from './errors.ts';
import { findValidRecordAfter, findWriteEndAfter, type DecodeStop } from './record.ts';
import { hasZeroSector, nonZeroEnd } from './zero-bytes.ts';

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
 * writeEnd record naming where it began, so a power loss can damage only the last
 * write, and that write was never acknowledged. Its sectors may reach the disk in any
 * order: a hole of zeros (never-written sectors of the zero-filled space) can sit
 * before valid records of the same write. Damage of another kind (a flipped bit, a
 * garbled sector) is not what a power loss does to a write, so it is refused even
 * there. A hole of zero sectors between the bad record and the next valid one is in
 * the last write, and dropping it and all after it is safe, when
 * - no writeEnd follows it but the segment has writeEnds before it
 *   (`sawWriteEnd`): the write that holds it never finished (its own end is lost),
 *   and no later write began, since a later write ends with a writeEnd too; or
 * - the first writeEnd after it began at or before it (it ends the damaged write) and
 *   no valid record follows that writeEnd.
 * Anything else is refused: a writeEnd that began after the bad record ends a later
 * write, so the damaged one had finished and been acknowledged. A segment written
 * before writeEnds existed tells its writes apart by nothing (user data may hold runs
 * of zero bytes too), so any valid record after the bad one is refused there.
 * What this cannot tell from a torn write is damage to the last acknowledged write
 * that also destroys or precedes its own writeEnd: recovery treats the last write as
 * the tail, as it treats a bad last record.
 */
export function judgeTail(buf: Uint8Array, path: string, stop: DecodeStop, isLast: boolean, sawWriteEnd: boolean): TailVerdict {
  const x = stop.offset;
  const dataEnd = nonZeroEnd(buf, x);
  if (dataEnd === x) return { kind: 'clean' };
  if (!isLast) throw new LogCorruptionError(path, x, `${stop.reason} record in a segment that is not the last one`);
  const torn = (what: string): TailVerdict => ({
    kind: 'torn',
    warning: `log: truncated the torn tail of ${path} at byte offset ${x} (${stop.reason}; ${what}; ${dataEnd - x} bytes dropped)`,
  });
  const next = findValidRecordAfter(buf, x);
  if (next === null) return torn('nothing valid after it');
  if (!hasZeroSector(buf, x, next)) {
    throw new LogCorruptionError(path, x, `${stop.reason} record followed by a valid record at offset ${next}, with no hole of zero sectors between`);
  }
  const writeEnd = findWriteEndAfter(buf, x);
  if (writeEnd === null) {
    if (sawWriteEnd) return torn(`the last write, unfinished: valid records from offset ${next} on, no write end after it`);
    throw new LogCorruptionError(path, x, `${stop.reason} record followed by a valid record at offset ${next}`);
  }
  if (writeEnd.start > x) {
    throw new LogCorruptionError(
      path,
      x,
      `${stop.reason} record in a write that finished before the one that began at offset ${writeEnd.start} (ended at offset ${writeEnd.offset})`,
    );
  }
  const later = findValidRecordAfter(buf, writeEnd.offset);
  if (later !== null) {
    throw new LogCorruptionError(
      path,
      x,
      `${stop.reason} record in the write ended at offset ${writeEnd.offset}, which a valid record at offset ${later} follows`,
    );
  }
  return torn(`the last write, which began at offset ${writeEnd.start} and ends at offset ${writeEnd.offset}`);
}
