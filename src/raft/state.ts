// The state shared by the files that implement Raft (election, replication, read-only
// requests, snapshots, membership, leadership transfer). RaftCore (core.ts) owns one and
// passes it to plain functions, so each concern lives in its own file.
import type { ConfState, HardState, Message, RaftConfig, ReadState, Role, Snapshot } from './types.ts';
import type { RaftLog } from './raft-log.ts';
import type { Configuration } from './configuration.ts';
import type { Progress } from './progress.ts';
import type { ReadOnly } from './read-only.ts';
import type { SnapshotReceiver } from './snapshot.ts';
import { assert } from '../assert.ts';

export interface RaftState {
  readonly config: RaftConfig;
  readonly id: number;

  // Persistent state on all servers (paper Figure 2).
  term: number;
  /** votedFor in `term`, 0 for none. */
  vote: number;
  readonly log: RaftLog;
  readonly conf: Configuration;

  // Volatile state.
  role: Role;
  /** Leader of `term` as far as we know, 0 when unknown. */
  leader: number;
  /** Follower: the highest commit index `leader` has told us in this term (AppendEntries'
   * leaderCommit, a heartbeat's capped commit), 0 until told. Our applied index below it is
   * how far this node trails the cluster (a node catching up after a restart). */
  leaderCommit: number;
  /** Logical clock: ticks since this core was created. */
  now: number;
  electionElapsed: number;
  heartbeatElapsed: number;
  /** This election's timeout, drawn from [electionTicks, 2*electionTicks). */
  randomizedElectionTimeout: number;
  /** After a restart we may have acknowledged a leader just before crashing: refuse to help
   * elect another one for an election timeout, as if that leader were still alive (protects
   * leader leases across restarts). */
  bootLease: boolean;
  /** Pre-vote rounds this node started since it last heard from a leader (the tie-break of
   * election.ts acts in the first only). */
  preVoteRounds: number;
  /** Pre-vote or vote answers in the current (pre-)election: true = granted. */
  readonly votes: Map<number, boolean>;

  // Volatile state on leaders.
  /** nextIndex/matchIndex and flow control for every other member (voters and learners). */
  readonly progress: Map<number, Progress>;
  /** Index of the latest conf entry that may still be uncommitted (one change at a time). */
  pendingConfIndex: number;
  /** Target of a leadership transfer in progress, 0 for none. */
  leadTransferee: number;
  /** TimeoutNow was sent in this term: another server may win without a lease check. */
  timeoutNowSent: boolean;
  /** Only for the deliberate bug leaseAfterStepDown: the lease end (tick) held when this node
   * last stepped down as leader. */
  formerLeaseEndTick: number;
  /** New entries or a new commit index must go out in the next ready(). */
  appendPending: boolean;
  commitPending: boolean;
  readonly readOnly: ReadOnly;

  /** The latest snapshot we hold data for (to send to lagging followers). */
  snapshot: Snapshot | null;
  /** A snapshot being received in chunks from the leader. */
  receiver: SnapshotReceiver | null;
  /** While a snapshot received from the leader waits to be applied: the index the driver had
   * applied before it replaced our log, with its term and configuration (snapshotMeta). */
  supersededApplied: { readonly index: number; readonly term: number; readonly conf: ConfState } | null;

  /** Output, drained by ready(). */
  outbox: Message[];
  readStates: ReadState[];
}

/** Bound on the reads a leader holds unanswered (waiting for its first commit or for a
 * heartbeat round). Beyond it, readIndex() refuses local reads (returns false) rather than
 * accept one it would drop. ReadStates themselves are never dropped: the queue holds only
 * answers to accepted reads and is drained by every ready(). */
export const MAX_QUEUED_READS = 8192;

export function send(s: RaftState, message: Message): void {
  assert(message.to !== s.id, `message ${message.type} addressed to self`);
  assert(message.from === s.id, `message ${message.type} not from self`);
  s.outbox.push(message);
}

export function hardStateOf(s: RaftState): HardState {
  return { term: s.term, vote: s.vote, commit: s.log.committed };
}

export function isVoter(s: RaftState, id: number): boolean {
  return s.conf.current().voters.includes(id);
}

/** Our own durable log counts for us in the majority (thesis 10.2.1: a leader writes its
 * log in parallel with replication, but counts itself only once the entries are durable). */
export function matchIndexOf(s: RaftState, id: number): number {
  if (id === s.id) return s.log.stable;
  return s.progress.get(id)?.matchIndex ?? 0;
}

/** Has the leader committed an entry of its own term yet (needed before serving reads)? */
export function committedInCurrentTerm(s: RaftState): boolean {
  return s.log.term(s.log.committed) === s.term;
}
