// A follower whose log lost entries it had acknowledged (a last log segment cut short at a
// page boundary, where recovery cannot tell the cut from a torn write: log/segment-tail.ts)
// hears of it from its leader: a heartbeat's commit index is capped at what this node
// acknowledged holding (raft/replication.ts, broadcastHeartbeat), so a correct leader never
// sends one past our last index. The core asserts on that ("commit N beyond last index M"),
// which says nothing of what to do and comes back at every restart; the node checks first
// and stops with what happened and the remedy instead (RaftNode.onMessage, NODE_FAILED).
//
// AppendEntries is not checked: its leaderCommit is the leader's whole commit index, past
// the end of any lagging follower's log, and the core commits from it only up to the
// entries the message itself matched.
import { REJOIN_REMEDY, REMEDY_DOC } from '../log/errors.ts';
import type { Message } from '../raft/types.ts';

/** The node's log lacks entries it had acknowledged: only rejoining empty repairs it. */
export class LostEntriesError extends Error {
  readonly code = 'LOG_LOST_ENTRIES';

  constructor(message: string) {
    super(message);
    this.name = 'LostEntriesError';
  }
}

/** What the check needs of the core: its term, and the last index of its log. */
export interface CoreView {
  currentTerm(): number;
  lastIndex(): number;
}

/**
 * The error to stop node `nodeId` with when `message`, about to be stepped into `core`, is a
 * heartbeat the core would act on whose commit index is past the end of our log; else null.
 */
export function lostEntriesIn(message: Message, nodeId: number, core: CoreView): LostEntriesError | null {
  // Heartbeats of an older term are only answered with ours (the core does not commit from them).
  if (message.type !== 'Heartbeat' || message.to !== nodeId || message.term < core.currentTerm()) return null;
  const lastIndex = core.lastIndex();
  if (message.commit <= lastIndex) return null;
  return new LostEntriesError(
    `this node's log lost entries it had acknowledged: leader ${message.from} (term ${message.term}) says index ${message.commit} is committed ` +
      `and held here, but this node's log ends at index ${lastIndex} (a log segment cut short or replaced?). ` +
      `What to do: copy the data directory somewhere safe; ${REJOIN_REMEDY} (see ${REMEDY_DOC})`,
  );
}
