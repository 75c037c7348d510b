// msgpackr keeps, in module variables shared by every decoder, the last buffer it decoded and a
// DataView of it, until it decodes another. After a snapshot (or a log segment read at
// recovery) that is the whole of it, held for as long as nothing else is decoded: on an
// embedded database, which applies its own commands without decoding them, for good.
import { clearSource, Unpackr } from 'msgpackr';

const unpackr = new Unpackr({ useRecords: false });
/** msgpack nil: one byte, decoded only to take the place of the last buffer. */
const NIL = new Uint8Array([0xc0]);

/** Lets msgpackr drop the last buffer it decoded (call after decoding a large one). */
export function releaseMsgpackSource(): void {
  unpackr.unpack(NIL);
  clearSource();
}
