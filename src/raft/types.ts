// Types shared by the Raft core and the layers that persist or carry its data
// (log/, transport/, node/). Names follow the Raft paper: term, vote, commit index.

/** What an entry carries. `normal` holds an application command; `noop` is the
 * empty entry a new leader appends at the start of its term; `conf` holds a
 * membership change (encoded by the core). */
export type EntryType = 'normal' | 'noop' | 'conf';

export interface Entry {
  readonly index: number;
  readonly term: number;
  readonly type: EntryType;
  /** Opaque to the core: an encoded command for `normal`, an encoded change for `conf`. */
  readonly data: Uint8Array;
}

/** State that must be durable before the node acts on it (votes, acks). */
export interface HardState {
  readonly term: number;
  /** Node id voted for in `term`, or 0 for none. */
  readonly vote: number;
  readonly commit: number;
}

/** Where a member is reached: `host:port` (peers and clients use the same port). */
export interface MemberAddress {
  readonly id: number;
  readonly address: string;
}

/** Cluster membership as of some log index. */
export interface ConfState {
  readonly voters: readonly number[];
  readonly learners: readonly number[];
  /** Members' addresses, by id ascending, one per member that has one; absent when none has
   * (configurations written before addresses were replicated, and the bootstrap one). The
   * core carries them and never reads them: quorums are counted on ids alone. */
  readonly addresses?: readonly MemberAddress[];
}

/** Describes a snapshot: the state machine as of `index` (whose entry had `term`),
 * and the membership in force at that index. */
export interface SnapshotMeta {
  readonly index: number;
  readonly term: number;
  readonly conf: ConfState;
}

export interface Snapshot {
  readonly meta: SnapshotMeta;
  readonly data: Uint8Array;
}

export const EMPTY_HARD_STATE: HardState = Object.freeze({ term: 0, vote: 0, commit: 0 });

// ---------------------------------------------------------------------------
// The core's interface with its driver (node/ in production, sim/ in tests).
// The core does no I/O: the driver calls tick() on a timer, step() for each
// message received, and drains ready(): persist hardState/entries/snapshot,
// then send messages, then apply committedEntries, then call advance().

export type Role = 'follower' | 'pre-candidate' | 'candidate' | 'leader';

interface MessageHeader {
  readonly from: number;
  readonly to: number;
  /** Sender's current term; for PreVote, the term the sender would campaign in. */
  readonly term: number;
}

export interface PreVoteRequest extends MessageHeader {
  readonly type: 'PreVote';
  readonly lastLogIndex: number;
  readonly lastLogTerm: number;
}
export interface PreVoteResponse extends MessageHeader {
  readonly type: 'PreVoteResponse';
  readonly granted: boolean;
}
export interface VoteRequest extends MessageHeader {
  readonly type: 'RequestVote';
  readonly lastLogIndex: number;
  readonly lastLogTerm: number;
  /** Set when campaigning because of TimeoutNow: voters skip their leader-lease check. */
  readonly transfer: boolean;
}
export interface VoteResponse extends MessageHeader {
  readonly type: 'RequestVoteResponse';
  readonly granted: boolean;
}
export interface AppendEntriesRequest extends MessageHeader {
  readonly type: 'AppendEntries';
  readonly prevLogIndex: number;
  readonly prevLogTerm: number;
  readonly entries: readonly Entry[];
  readonly leaderCommit: number;
}
export interface AppendEntriesResponse extends MessageHeader {
  readonly type: 'AppendEntriesResponse';
  readonly success: boolean;
  /** On success: the index of the last entry the follower now holds that matches the leader. */
  readonly matchIndex: number;
  /** On failure: fast backtracking hints (thesis 5.3): the conflicting term and its first index,
   * or conflictTerm 0 with conflictIndex = follower's lastIndex + 1 when its log is too short. */
  readonly conflictIndex: number;
  readonly conflictTerm: number;
}
/** Heartbeats carry the commit index (capped at the follower's match) and an
 * optional read context so that ReadIndex can be confirmed by a quorum. */
export interface HeartbeatRequest extends MessageHeader {
  readonly type: 'Heartbeat';
  readonly commit: number;
  readonly context: number;
}
export interface HeartbeatResponse extends MessageHeader {
  readonly type: 'HeartbeatResponse';
  readonly context: number;
}
export interface InstallSnapshotRequest extends MessageHeader {
  readonly type: 'InstallSnapshot';
  readonly meta: SnapshotMeta;
  /** Byte offset of this chunk in the snapshot data; chunks are sent in order. */
  readonly offset: number;
  readonly chunk: Uint8Array;
  readonly done: boolean;
  /** CRC-32C of the whole snapshot data (every chunk carries it): the receiver keeps chunks
   * of one transfer together only when it matches, and verifies the assembled data against
   * it before installing. Optional on the wire for compatibility; the core always sets it. */
  readonly crc32c?: number;
  /** Bytes of the whole snapshot data (every chunk carries it): the receiver drops a transfer
   * that sends more, or ends with fewer, and a node may refuse one it cannot hold. */
  readonly size: number;
}
export interface InstallSnapshotResponse extends MessageHeader {
  readonly type: 'InstallSnapshotResponse';
  readonly snapshotIndex: number;
  /** Next offset the follower expects (resumable transfer); -1 to restart from 0. */
  readonly nextOffset: number;
  readonly done: boolean;
}
export interface TimeoutNowRequest extends MessageHeader {
  readonly type: 'TimeoutNow';
}
/** A follower (or learner) forwards a linearizable read to its leader (thesis 6.4). */
export interface ReadIndexRequest extends MessageHeader {
  readonly type: 'ReadIndex';
  /** The requester's own read context, echoed back in the response. */
  readonly context: number;
}
/** The leader's answer once a quorum confirmed its leadership: serve the read after applying `index`. */
export interface ReadIndexResponse extends MessageHeader {
  readonly type: 'ReadIndexResponse';
  readonly index: number;
  readonly context: number;
}

export type Message =
  | PreVoteRequest
  | PreVoteResponse
  | VoteRequest
  | VoteResponse
  | AppendEntriesRequest
  | AppendEntriesResponse
  | HeartbeatRequest
  | HeartbeatResponse
  | InstallSnapshotRequest
  | InstallSnapshotResponse
  | TimeoutNowRequest
  | ReadIndexRequest
  | ReadIndexResponse;

export type MessageType = Message['type'];

/** A read that is now safe to serve once the state machine has applied `index`. */
export interface ReadState {
  readonly index: number;
  readonly context: number;
}

/** A membership change, one server at a time (thesis 4.1). */
/** A membership change. `address` (host:port) on an add records where the member is reached;
 * `setAddress` changes only that (a conf entry too, one change at a time like the others). */
export type ConfChange =
  | { readonly type: 'addLearner'; readonly node: number; readonly address?: string }
  | { readonly type: 'addVoter'; readonly node: number; readonly address?: string } // also promotes a learner
  | { readonly type: 'remove'; readonly node: number }
  | { readonly type: 'setAddress'; readonly node: number; readonly address: string };

export interface SoftState {
  readonly leader: number; // 0 when unknown
  readonly role: Role;
}

/** Work the driver must do, in this order: persist (hardState, snapshot, entries),
 * send messages, apply snapshot then committedEntries, deliver readStates once
 * applied index >= their index, then call advance().
 *
 * Durability (ready-durability.ts, `readyDurability(rd, durableHardState)`, the one statement
 * of the rule): `messages` leave only once the Ready's hard state, snapshot and entries are
 * durable (Figure 2: persistent state is updated on stable storage before responding to RPCs),
 * except the leader's AppendEntries and Heartbeats, which may leave while its own entries are
 * written (thesis 10.2.1), and only when the Ready changes neither term nor vote. A Ready
 * must be synced (etcd's MustSync) when it carries entries, a snapshot, or a new term or vote;
 * a new commit index alone need not be. A driver may always send everything after the write. */
export interface Ready {
  readonly softState: SoftState;
  readonly hardState: HardState | null;
  readonly snapshot: Snapshot | null;
  readonly entries: readonly Entry[];
  readonly messages: readonly Message[];
  readonly committedEntries: readonly Entry[];
  readonly readStates: readonly ReadState[];
}

export interface RaftConfig {
  readonly id: number;
  /** Ticks between heartbeats. */
  readonly heartbeatTicks: number;
  /** Base election timeout in ticks; each election waits a random value in [base, 2*base). */
  readonly electionTicks: number;
  readonly preVote: boolean;
  readonly checkQuorum: boolean;
  /** Max entries per AppendEntries and max in-flight AppendEntries per follower. */
  readonly maxEntriesPerMessage: number;
  readonly maxBytesPerMessage: number;
  readonly maxInflight: number;
  /** Bytes per InstallSnapshot chunk. */
  readonly snapshotChunkBytes: number;
  /** InstallSnapshot chunks in flight per follower (pipelined transfer); default 4. */
  readonly snapshotInflightChunks?: number;
  /** Entries kept in the in-memory log below a snapshot taken with snapshotTaken(), so that a
   * follower slightly behind catches up from the log rather than by a whole snapshot (etcd's
   * SnapshotCatchUpEntries); default 5000. 0 compacts up to the snapshot index. */
  readonly snapshotCatchUpEntries?: number;
  /** Seeded source of randomness in [0, 1): the core never uses an unseeded generator. */
  readonly random: () => number;
  /** Deliberate bugs, only for proving that the simulator's checkers catch them. Never set in production. */
  readonly bugs?: RaftBugs;
}

export interface RaftBugs {
  /** Commit entries of earlier terms by counting replicas (violates the paper's Figure 8 rule). */
  readonly commitPreviousTermEntries?: boolean;
  /** Grant a vote to a second candidate in a term where this node already voted (Figure 2:
   * votedFor is one candidate per term). */
  readonly voteTwiceInTerm?: boolean;
  /** readyDurability() lets vote responses leave before the vote is durable (only votes). */
  readonly voteBeforeDurable?: boolean;
  /** readyDurability() lets AppendEntries acknowledgements leave before the entries they
   * acknowledge are durable (only acks). */
  readonly ackBeforeDurable?: boolean;
  /** readyDurability() lets every message of a Ready leave before the Ready is durable: votes
   * and acks that a crash during the write can take back. */
  readonly sendBeforeDurable?: boolean;
  /** Grant votes and pre-votes without the election restriction (§5.4.1: the candidate's log
   * must be at least as up to date as the voter's). */
  readonly skipLogUpToDateCheck?: boolean;
  /** A follower appends only the entries past its last index and keeps a conflicting suffix
   * (Figure 2: delete the existing entry and all that follow it on a conflict). */
  readonly keepConflictingSuffix?: boolean;
  /** A stale or duplicated AppendEntries whose entries all match truncates the log after them
   * (Figure 2: only a conflict truncates; entries acknowledged before are lost). */
  readonly truncateOnStaleAppend?: boolean;
  /** The leader's commit index follows the highest match index instead of the quorum's (§5.3). */
  readonly commitPastQuorumMatch?: boolean;
  /** Answer ReadIndex immediately, without confirming leadership with a quorum. */
  readonly readWithoutQuorumCheck?: boolean;
  /** The leader lease lasts twice the election timeout: longer than followers promise not to
   * elect anyone else (thesis 6.4.1). */
  readonly leaseReadExpired?: boolean;
  /** A leader that steps down keeps serving lease reads until the lease it held would have
   * ended: after a leadership transfer (voters skip their lease check) a new leader commits
   * writes meanwhile. */
  readonly leaseAfterStepDown?: boolean;
  /** Hand out committed entries up to one past the commit index (Figure 2: apply only
   * committed entries). */
  readonly applyBeforeCommit?: boolean;
  /** A follower sets its commit index to the last entry of an AppendEntries it accepted,
   * ignoring the leader's commit index (Figure 2 AppendEntries step 5). */
  readonly followerCommitsAhead?: boolean;
  /** A snapshot drops the log entries after it: one received from the leader whose last entry
   * matches ours, or one a follower takes of its own state (§7: keep the entries following a
   * snapshot's last entry; they may be acknowledged). */
  readonly snapshotDiscardsNewerEntries?: boolean;
  /** proposeConfChange accepts a change while another is uncommitted, including the first
   * change of a new leader before its no-op commits (thesis 4.1). */
  readonly twoConfChangesInFlight?: boolean;
  /** The commit rule counts learners' match indexes against the voters' quorum size. */
  readonly learnerInQuorum?: boolean;
  /** A node receiving a PreVote for a higher term adopts that term (thesis 9.6: pre-votes
   * must not change any server's term). */
  readonly preVoteRaisesTerm?: boolean;
  /** During a transfer the old leader keeps acting as a leader: it takes proposals, its lease
   * stays valid after TimeoutNow, and it ignores higher terms until the transfer times out,
   * while the target is elected without lease checks (thesis 3.10). */
  readonly transferLeaderKeepsWriting?: boolean;
}

/**
 * Entries kept in a compact form and built as Entry objects only when read: a node may
 * restart with millions of entries, and an object per entry (with a view of its data)
 * would be most of its memory and of its restart time. Immutable: an index always gives
 * an equal entry, whatever the log that handed it out does afterwards.
 */
export interface StoredEntries {
  /** The entries held are [firstIndex, lastIndex] (none when lastIndex < firstIndex). */
  readonly firstIndex: number;
  readonly lastIndex: number;
  term(index: number): number;
  type(index: number): EntryType;
  /** An equal entry on every call (often a new object: callers must not keep it longer than they need). */
  entry(index: number): Entry;
}

/** What the core restarts from: whatever log/ recovered. */
export interface RaftRestartState {
  readonly hardState: HardState;
  readonly snapshot: SnapshotMeta | null;
  /** The log after the snapshot, in index order (may start at or below the snapshot's index). */
  readonly entries: readonly Entry[] | StoredEntries;
  /** Membership at bootstrap when there is no snapshot and no conf entries in the log. */
  readonly initialConf: ConfState;
}

/** Per-peer replication state as the leader sees it (for status pages and tests). */
export interface PeerProgress {
  readonly id: number;
  readonly learner: boolean;
  readonly matchIndex: number;
  readonly nextIndex: number;
  readonly state: 'probe' | 'replicate' | 'snapshot';
  readonly recentActive: boolean;
}

export interface RaftStatus {
  readonly id: number;
  readonly role: Role;
  readonly term: number;
  readonly vote: number;
  readonly leader: number;
  readonly commitIndex: number;
  readonly appliedIndex: number;
  readonly firstIndex: number;
  readonly lastIndex: number;
  readonly conf: ConfState;
  /** Only on the leader: one row per other member. */
  readonly progress: readonly PeerProgress[];
}

/**
 * The public surface of the consensus core (src/raft/core.ts implements it as
 * `RaftCore`, constructed with `(config: RaftConfig, restart: RaftRestartState)`).
 * Every method is synchronous and deterministic given the config's random source.
 */
export interface RaftCoreApi {
  /** Advances logical time by one tick (heartbeats, election timeouts, check-quorum). */
  tick(): void;
  /** Handles a message from a peer. Messages for other nodes or stale terms are handled per the paper. */
  step(message: Message): void;
  /** Starts an election now (tests, bootstrapping). */
  campaign(): void;
  /** Appends a command on the leader. Returns the index it will have, or null when not leader
   * (or while a leadership transfer is in progress). */
  propose(data: Uint8Array): number | null;
  /** Proposes a membership change; null when not leader or a change is already pending. */
  proposeConfChange(change: ConfChange): number | null;
  /** Requests a linearizable read; a ReadState with this context appears in a later ready()
   * once leadership is confirmed. Returns false when no leader is known to forward to, or on a
   * leader that already holds too many unanswered reads (the read is refused, never dropped). */
  readIndex(context: number): boolean;
  /** True on a leader whose lease (check-quorum, within the election timeout) is valid now:
   * it may serve a read from its applied state at commitIndex without a round trip. */
  leaseValid(): boolean;
  transferLeadership(to: number): boolean;
  /** The application made a snapshot of its state at `index` (<= applied): the core keeps it to
   * send to lagging followers and drops its in-memory log up to it. */
  snapshotTaken(snapshot: Snapshot): void;
  hasReady(): boolean;
  ready(): Ready;
  /** Leader, while a Ready is being written: the heartbeats that may leave now (core.ts). */
  takeHeartbeats(): Message[];
  /** Acknowledges the last ready() after its work is done (persisted, sent, applied). */
  advance(): void;
  status(): RaftStatus;
}
