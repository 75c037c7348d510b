// Commands travel through the log as msgpack bytes in Entry.data. The same
// encoding is used embedded and in a cluster, so a log written by one can be
// replayed by the other.
import { Packr, RESET_BUFFER_MODE, REUSE_BUFFER_MODE } from 'msgpackr';
import type { Command } from '../store/commands.ts';

// Plain maps, no shared structures: every entry decodes on its own, on any node,
// whatever was encoded before it.
const packr = new Packr({ useRecords: false, mapsAsObjects: true, variableMapSize: true });

/** Encodes into msgpackr's reused buffer, then copies into a buffer of exactly the right
 * size: the log keeps entries in memory until the next snapshot, and msgpackr's own results
 * are views that keep ~3x their size of its larger buffers alive. */
export function encodeCommand(command: Command): Uint8Array {
  const target = packr.pack(command, REUSE_BUFFER_MODE | RESET_BUFFER_MODE) as Buffer & { start: number; end: number };
  const out = Buffer.allocUnsafe(target.end - target.start);
  target.copy(out, 0, target.start, target.end);
  return out;
}

/** Decodes a command read from the log. Its shape is not checked here: Store.apply checks
 * every command it is given (it validates while it copies) and turns a malformed one into
 * a failed command that consumes its index, the same way on every replica; checking here
 * too would do that work twice per entry. */
export function decodeCommand(data: Uint8Array): Command {
  // msgpackr caches a DataView on the array it decodes (as a property it adds). Entries stay
  // in the log until the next snapshot: decoding their data directly would give each one a
  // DataView to keep (about 100 MB per 1,000,000 entries, all copied by the young-generation
  // GC on a replay). A throwaway view takes the DataView with it.
  return packr.unpack(new Uint8Array(data.buffer, data.byteOffset, data.byteLength)) as Command;
}
