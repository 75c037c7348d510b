// msgpackr keeps, in module variables shared by every decoder, the last buffer it decoded and a
// DataView of it, until it decodes another. After a snapshot (or a log segment read at
// recovery) that is the whole of it, held for as long as nothing else is decoded: on an
// embedded database, which applies its own commands without decoding them, for good.
import { Unpackr } from 'msgpackr';

const unpackr = new Unpackr({ useRecords: false });
/** msgpack nil: one byte, decoded only to take the place of the last buffer. */
const NIL = new Uint8Array([0xc0]);

/**
 * Lets msgpackr drop the last buffer it decoded (call after decoding a large one, never from
 * inside a decode): decoding NIL puts it in the place of the last buffer (msgpackr's `src`,
 * `dataView` and string caches), and a finished decode lets `src` go. clearSource() is not
 * called: it would break a decode in progress, and drops nothing more.
 */
export function releaseMsgpackSource(): void {
  unpackr.unpack(NIL);
}
