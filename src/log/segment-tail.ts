// What the bytes after the last valid record of a segment are, and whether
// recovery may drop them. Three cases:
// - zeros to the end of the file: the clean end of the data (segments are
//   zero-filled ahead of the records, see preallocation.ts);
// - nothing valid after the bad record: a torn tail, dropped with a warning;
// - valid records after it: corruption, refused (see judgeTail).
import { LogCorruptionError } from './errors.ts';
import { findValidRecordAfter, type DecodeStop } from './record.ts';
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
 * A valid record after the bad one is always refused. A power loss can leave a hole
 * of zeros (never-written sectors of the zero-filled space) before valid records of
 * the last write, which was never acknowledged and could be dropped; but nothing on
 * disk tells that write apart from acknowledged records around a damaged sector
 * (user data may hold runs of zero bytes too), so dropping it could lose
 * acknowledged writes. Refusing keeps them, and names where to look.
 */
export function judgeTail(buf: Uint8Array, path: string, stop: DecodeStop, isLast: boolean): TailVerdict {
  const x = stop.offset;
  const dataEnd = nonZeroEnd(buf, x);
  if (dataEnd === x) return { kind: 'clean' };
  if (!isLast) throw new LogCorruptionError(path, x, `${stop.reason} record in a segment that is not the last one`);
  const next = findValidRecordAfter(buf, x);
  if (next !== null) throw new LogCorruptionError(path, x, `${stop.reason} record followed by a valid record at offset ${next}`);
  return { kind: 'torn', warning: `log: truncated the torn tail of ${path} at byte offset ${x} (${stop.reason}; ${dataEnd - x} bytes dropped)` };
}
