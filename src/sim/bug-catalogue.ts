// The catalogue of deliberate bugs (RaftBugs): each is one switch in the real core, off in
// production, which the simulator must find by random search (`npm run sim -- --list-bugs`,
// `npm run sim -- --bug NAME --seeds 1000`; docs/simulation.md records the seeds each took).
// The Record type makes the catalogue complete: a new RaftBugs field without an entry here
// does not compile.

import type { RaftBugs } from '../raft/types.ts';

export type BugName = keyof RaftBugs;

export interface BugDescription {
  /** One line: what the broken core does. */
  readonly description: string;
  /** Which rule of Raft it breaks (the paper's figure or the thesis section). */
  readonly breaks: string;
}

export const BUG_CATALOGUE: Readonly<Record<BugName, BugDescription>> = Object.freeze({
  commitPreviousTermEntries: {
    description: "commits an earlier term's entry by counting its replicas",
    breaks: 'Figure 8 / §5.4.2: only entries of the current term commit by counting',
  },
  voteTwiceInTerm: {
    description: 'grants a vote to a second candidate in a term where it already voted',
    breaks: 'Figure 2 RequestVote: at most one votedFor per term (election safety)',
  },
  voteBeforeDurable: {
    description: 'sends a vote response before the vote is durable (pipelined driver)',
    breaks: 'Figure 2: persistent state is updated on stable storage before responding to RPCs',
  },
  ackBeforeDurable: {
    description: 'sends an AppendEntries acknowledgement before its entries are durable (pipelined driver)',
    breaks: 'Figure 2 / thesis §10.2.1: a follower acknowledges only durable entries',
  },
  sendBeforeDurable: {
    description: 'lets every message of a Ready leave before its hard state and entries are durable',
    breaks: 'Figure 2: persistent state is updated on stable storage before responding to RPCs',
  },
  skipLogUpToDateCheck: {
    description: "grants votes and pre-votes without comparing the candidate's last log term and index",
    breaks: '§5.4.1 election restriction (leader completeness)',
  },
  keepConflictingSuffix: {
    description: 'a follower appends only past its last index, keeping a conflicting suffix, and acknowledges',
    breaks: 'Figure 2 AppendEntries step 3: delete a conflicting entry and all that follow it (log matching)',
  },
  truncateOnStaleAppend: {
    description: 'a stale or duplicated AppendEntries whose entries all match truncates the log after them',
    breaks: 'Figure 2 AppendEntries step 3: truncate only on a conflict (acknowledged entries are kept)',
  },
  commitPastQuorumMatch: {
    description: "the leader's commit index follows the highest match index, not the majority's",
    breaks: '§5.3 / Figure 2: commit N only when a majority has matchIndex >= N',
  },
  readWithoutQuorumCheck: {
    description: 'answers ReadIndex at once, without the heartbeat round that confirms leadership',
    breaks: 'thesis §6.4: a read must confirm leadership with a quorum',
  },
  leaseReadExpired: {
    description: 'the leader lease lasts two election timeouts instead of one less a drift margin',
    breaks: "thesis §6.4.1: a lease must end before followers' promise not to elect another leader",
  },
  leaseAfterStepDown: {
    description: 'a leader that steps down (e.g. after a leadership transfer) keeps serving lease reads',
    breaks: 'thesis §6.4.1 / §3.10: only the current leader serves lease reads, and none after TimeoutNow',
  },
  applyBeforeCommit: {
    description: 'hands the state machine one entry past the commit index',
    breaks: 'Figure 2: apply log[lastApplied] only once commitIndex > lastApplied (state machine safety)',
  },
  followerCommitsAhead: {
    description: "a follower commits up to the last entry the leader sent, not up to the leader's commit index",
    breaks: 'Figure 2 AppendEntries step 5: commitIndex = min(leaderCommit, index of last new entry)',
  },
  snapshotDiscardsNewerEntries: {
    description: "a snapshot (received from the leader, or a follower's own) drops the acknowledged log entries after it",
    breaks: '§7: a snapshot replaces only the entries it covers; the entries that follow it are kept',
  },
  twoConfChangesInFlight: {
    description: 'accepts a membership change while another is uncommitted (or before the new leader commits its no-op)',
    breaks: 'thesis §4.1: one single-server change at a time, so majorities of successive configurations overlap',
  },
  learnerInQuorum: {
    description: "counts learners' match indexes towards the commit quorum",
    breaks: 'thesis §4.2.1: learners (non-voting members) never count in a majority',
  },
  preVoteRaisesTerm: {
    description: 'a node receiving a PreVote for a higher term adopts that term',
    breaks: "thesis §9.6: pre-votes change no server's term (terms come from campaigns only)",
  },
  transferLeaderKeepsWriting: {
    description: 'during a transfer the old leader keeps leading: takes proposals, keeps its lease, ignores the new term',
    breaks: 'thesis §3.10: a transferring leader stops taking requests; no lease once another may win without lease checks',
  },
});

export const BUG_NAMES: readonly BugName[] = Object.freeze(Object.keys(BUG_CATALOGUE) as BugName[]);

export function isBugName(name: string): name is BugName {
  return Object.prototype.hasOwnProperty.call(BUG_CATALOGUE, name);
}
