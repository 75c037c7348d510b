// Which work of a Ready must be durable before which messages leave: the one place that states
// the rule, for every driver (node/raft-node.ts in production, sim/sim-node.ts in the simulator).
//
// Raft's persistent state (paper, Figure 2: currentTerm, votedFor, log[]) is "updated on stable
// storage before responding to RPCs". etcd-io/raft says it with MustSync(hardState, prev,
// entries): a Ready must be synced when it carries entries or changes the term or the vote; a
// new commit index alone need not be (after a crash it is learned again). And its
// Ready.Messages are sent only after the Ready's entries are stable, with one exception the
// thesis (10.2.1) allows: the leader may send AppendEntries while it writes the same entries
// itself, because it counts itself towards a commit only once its own write is durable.
//
// So, for one Ready and the hard state already durable:
//  - votes, vote and pre-vote responses, append and heartbeat responses, snapshot responses,
//    read-index messages, TimeoutNow: only after the write;
//  - the leader's AppendEntries and Heartbeats: before the write, unless this Ready changes the
//    term or the vote. A single voter becomes leader in the very Ready that raises its term: it
//    must not replicate (to learners) in a term that a crash could forget.

import type { HardState, Message, RaftBugs, Ready } from './types.ts';

export interface ReadyDurability {
  /** etcd's MustSync: the Ready carries entries, a snapshot, or a new term or vote, which must be
   * on stable storage before `afterSync` leaves. */
  readonly mustSync: boolean;
  /** The Ready's hard state changes the term or the vote: its write must be synced before
   * `afterSync` leaves. False when only the commit index moved (that write may ride along with
   * the next sync) or there is no new hard state. */
  readonly hardStateMustSync: boolean;
  /** May leave at once, while the Ready's writes are in progress. */
  readonly beforeSync: readonly Message[];
  /** Leave only once the Ready's hard state, snapshot and entries are durable. */
  readonly afterSync: readonly Message[];
}

/** Splits a Ready's messages by when they may leave (see the rule at the top of this file).
 * `durable` is the hard state already on stable storage; `bugs` only for the simulator. */
export function readyDurability(rd: Ready, durable: HardState, bugs?: RaftBugs): ReadyDurability {
  const hardStateMustSync = rd.hardState !== null && (rd.hardState.term !== durable.term || rd.hardState.vote !== durable.vote);
  const mustSync = hardStateMustSync || rd.entries.length > 0 || rd.snapshot !== null;
  if (bugs?.sendBeforeDurable === true) return { mustSync, hardStateMustSync, beforeSync: rd.messages, afterSync: [] };
  if (bugs !== undefined && (bugs.voteBeforeDurable === true || bugs.ackBeforeDurable === true)) {
    return withEarlyReplies(rd, mustSync, hardStateMustSync, bugs);
  }
  if (hardStateMustSync || rd.softState.role !== 'leader') return { mustSync, hardStateMustSync, beforeSync: [], afterSync: rd.messages };
  const beforeSync: Message[] = [];
  const afterSync: Message[] = [];
  for (const m of rd.messages) (mayLeaveBeforeSync(m) ? beforeSync : afterSync).push(m);
  return { mustSync, hardStateMustSync, beforeSync, afterSync };
}

/** Bug switches voteBeforeDurable and ackBeforeDurable: the rule above, except that vote
 * responses (or append acknowledgements) also leave before the write. A crash during the write
 * then takes back a vote a candidate counted (two leaders in one term), or entries a leader
 * counted towards a commit (a committed entry lost). */
function withEarlyReplies(rd: Ready, mustSync: boolean, hardStateMustSync: boolean, bugs: RaftBugs): ReadyDurability {
  const leaderMayReplicate = !hardStateMustSync && rd.softState.role === 'leader';
  const beforeSync: Message[] = [];
  const afterSync: Message[] = [];
  for (const m of rd.messages) {
    const early =
      (leaderMayReplicate && mayLeaveBeforeSync(m)) ||
      (m.type === 'RequestVoteResponse' && bugs.voteBeforeDurable === true) ||
      (m.type === 'AppendEntriesResponse' && bugs.ackBeforeDurable === true);
    (early ? beforeSync : afterSync).push(m);
  }
  return { mustSync, hardStateMustSync, beforeSync, afterSync };
}

/** On a leader whose term and vote are durable: its replication (thesis 10.2.1). */
function mayLeaveBeforeSync(m: Message): boolean {
  return m.type === 'AppendEntries' || m.type === 'Heartbeat';
}
