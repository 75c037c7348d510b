// StoredEntries over an array of entries: the simulator restarts its nodes through it, so
// that the core's compact-restart path (what a node restarting from its files takes) runs
// under every fault schedule, not only after a real open.
import type { Entry, EntryType, StoredEntries } from './types.ts';
import { assert } from '../assert.ts';

export function storedEntriesOf(entries: readonly Entry[]): StoredEntries {
  const held = entries.slice();
  for (let i = 1; i < held.length; i++) {
    if (held[i]!.index !== held[i - 1]!.index + 1) assert(false, `stored entries not contiguous at ${held[i]!.index}`);
  }
  const firstIndex = held.length > 0 ? held[0]!.index : 1;
  const at = (index: number): Entry => {
    const entry = held[index - firstIndex];
    if (entry === undefined) assert(false, `stored entries: index ${index} not held`);
    return entry;
  };
  return {
    firstIndex,
    lastIndex: firstIndex + held.length - 1,
    term: (index: number): number => at(index).term,
    type: (index: number): EntryType => at(index).type,
    entry: (index: number): Entry => at(index),
  };
}
