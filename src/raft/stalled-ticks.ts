// What a driver does with the ticks it owes after its event loop stalled, around a message
// that waited meanwhile (node/raft-node.ts drives production; sim/sim-node.ts mirrors it, so
// both call this one rule). Pure: no clock, no I/O.
import type { Message, Role } from './types.ts';

/** Messages only a leader sends: hearing one is hearing from a leader. */
export function isFromLeader(message: Message): boolean {
  return message.type === 'AppendEntries' || message.type === 'Heartbeat' || message.type === 'InstallSnapshot';
}

/**
 * Whether the ticks owed must be ticked before `message` is stepped: they are time that
 * passed before it. Yes for a node that does not lead, and for a leader that a leader's
 * message of a higher term is about to make a follower. A follower promises its leader to
 * help elect no one else for an election timeout after hearing it (the leader's lease counts
 * on it, read-only.ts); ticking a stall after the heartbeat would count it as time since the
 * heartbeat, and the follower could acknowledge the round and grant a vote at once
 * (docs/found-bugs.md, 6). A leader steps its own term's messages first, so a stall alone does
 * not trip check-quorum: an ack extends the lease from when its round was sent, whenever it
 * is stepped.
 */
export function ticksFirst(message: Message, role: Role, currentTerm: number): boolean {
  return (isFromLeader(message) && message.term > currentTerm) || role !== 'leader';
}
