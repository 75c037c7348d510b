// Commands travel through the log as msgpack bytes in Entry.data. The same
// encoding is used embedded and in a cluster, so a log written by one can be
// replayed by the other.
import { Packr } from 'msgpackr';
import type { Command } from '../store/commands.ts';
import { validateCommand } from '../store/validate.ts';

// Plain maps, no shared structures: every entry decodes on its own, on any node,
// whatever was encoded before it.
const packr = new Packr({ useRecords: false, mapsAsObjects: true, variableMapSize: true });

export function encodeCommand(command: Command): Uint8Array {
  return packr.pack(command);
}

/** Decodes and shape-checks a command read from the log or a peer. The documents it
 * carries are validated (and copied) by the store when it applies them, so they are
 * not validated twice here. */
export function decodeCommand(data: Uint8Array): Command {
  const value: unknown = packr.unpack(data);
  validateCommand(value, { documents: false });
  return value;
}
