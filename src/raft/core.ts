// RaftCore: the consensus module as a pure state machine (no I/O, no clocks, no unseeded randomness).
// The driver calls tick(), step(), propose(); drains ready(); persists, sends, applies; then
// calls advance(). This file holds the state, the term rules common to every message
// (Figure 2: "if RPC request or response contains term T > currentTerm ..."), dispatch to the
// files that implement each part of Raft, and the Ready/advance bookkeeping.
import type {
  ConfChange,
  Entry,
  HardState,
  Message,
  RaftConfig,
  RaftCoreApi,
  RaftRestartState,
  RaftStatus,
  Ready,
  Snapshot,
  SnapshotMeta,
  SoftState,
} from './types.ts';
import { RaftLog } from './raft-log.ts';
import { Configuration, encodeConfChange, rejectConfChange, sameConf } from './configuration.ts';
import {
  ReadOnly,
  canQueueRead,
  forwardReadIndex,
  handleReadIndexResponse,
  leaderReadIndex,
  leaseValid,
  markRoundsFlushed,
  releaseWaitingReads,
} from './read-only.ts';
import { type RaftState, hardStateOf, isVoter, send } from './state.ts';
import { becomeFollower } from './roles.ts';
import { isFromLeader } from './stalled-ticks.ts';
import { handleVoteRequest, handleVoteResponse, hup, inLease, resetRandomizedElectionTimeout, tickElection, tickLeader } from './election.ts';
import {
  appendEntries,
  flushAppends,
  handleAppendEntries,
  handleAppendEntriesResponse,
  handleHeartbeat,
  handleHeartbeatResponse,
  maybeCommit,
} from './replication.ts';
import { handleInstallSnapshot, handleInstallSnapshotResponse } from './snapshot.ts';
import { handleTimeoutNow, transferLeadership } from './leadership-transfer.ts';
import { assert } from '../assert.ts';

/** Bound on committed entries handed out per ready(). */
const MAX_COMMITTED_PER_READY = 4096;
/** Default for RaftConfig.snapshotCatchUpEntries (as etcd's SnapshotCatchUpEntries). */
export const DEFAULT_SNAPSHOT_CATCH_UP_ENTRIES = 5000;

/** What the last ready() handed out, so advance() acknowledges exactly that. */
interface Handed {
  readonly softState: SoftState;
  readonly hardState: HardState | null;
  readonly snapshot: Snapshot | null;
  readonly lastEntry: { index: number; term: number } | null;
  readonly lastCommitted: number;
}

/**
 * The outbox without messages of a term this node has left since they were queued (a vote
 * granted, an append acknowledged, a heartbeat answered in term T, then a message of term
 * T+1 arrived before the driver took them). Their receiver has no use for them, and they may
 * no longer be true: an acknowledgement of entries the new term's leader has since made this
 * node truncate, a vote its disk will never record. Dropping a message is always safe.
 * Pre-vote messages carry the term a node would campaign in, not its own: kept.
 */
function withoutStaleTerms(outbox: Message[], term: number): Message[] {
  if (outbox.every((m) => m.term >= term || m.type === 'PreVote' || m.type === 'PreVoteResponse')) return outbox;
  return outbox.filter((m) => m.term >= term || m.type === 'PreVote' || m.type === 'PreVoteResponse');
}

function sameHardState(a: HardState, b: HardState): boolean {
  return a.term === b.term && a.vote === b.vote && a.commit === b.commit;
}

export class RaftCore implements RaftCoreApi {
  private readonly s: RaftState;
  /** The hard state the driver has made durable (as of the last advance()). */
  private persistedHardState: HardState;
  private lastSoftState: SoftState;
  private handed: Handed | null = null;

  constructor(config: RaftConfig, restart: RaftRestartState) {
    assert(Number.isInteger(config.id) && config.id > 0, 'node id must be a positive integer');
    assert(config.heartbeatTicks >= 1 && config.electionTicks > config.heartbeatTicks, 'need electionTicks > heartbeatTicks >= 1');
    assert(config.maxEntriesPerMessage >= 1 && config.maxInflight >= 1, 'message and inflight bounds must be >= 1');
    const log = new RaftLog(restart.snapshot, restart.entries, restart.hardState.commit);
    const conf = new Configuration(restart.snapshot?.conf ?? restart.initialConf, restart.snapshot?.index ?? 0);
    conf.onAppend(log.confEntries());
    this.s = {
      config,
      id: config.id,
      term: restart.hardState.term,
      vote: restart.hardState.vote,
      log,
      conf,
      role: 'follower',
      leader: 0,
      now: 0,
      electionElapsed: 0,
      heartbeatElapsed: 0,
      randomizedElectionTimeout: config.electionTicks,
      bootLease: restart.hardState.term > 0,
      votes: new Map(),
      progress: new Map(),
      pendingConfIndex: 0,
      leadTransferee: 0,
      timeoutNowSent: false,
      formerLeaseEndTick: 0,
      leaderCommit: 0,
      preVoteRounds: 0,
      appendPending: false,
      commitPending: false,
      readOnly: new ReadOnly(),
      snapshot: null,
      receiver: null,
      supersededApplied: null,
      outbox: [],
      readStates: [],
    };
    resetRandomizedElectionTimeout(this.s);
    this.persistedHardState = hardStateOf(this.s);
    this.lastSoftState = { leader: 0, role: 'follower' };
  }

  // -- Time and messages ------------------------------------------------------------------

  tick(): void {
    const s = this.s;
    s.now++;
    if (s.role === 'leader') tickLeader(s);
    else tickElection(s);
    this.afterEvent();
  }

  step(m: Message): void {
    const s = this.s;
    if (m.to !== s.id || m.from === s.id) return;
    if (m.term > s.term) {
      if (s.role === 'leader' && s.leadTransferee !== 0 && s.config.bugs?.transferLeaderKeepsWriting === true) {
        // Bug switch transferLeaderKeepsWriting: the old leader takes the new term for part of
        // its own transfer and keeps leading until the transfer times out (Figure 2: a higher
        // term makes any server a follower at once).
        this.afterEvent();
        return;
      }
      if (m.type === 'PreVote' || m.type === 'RequestVote') {
        const transfer = m.type === 'RequestVote' && m.transfer;
        // Thesis 4.2.3: ignore, without even adopting the term, while a leader is alive.
        if (!transfer && inLease(s, m.type)) return;
      }
      if ((m.type === 'PreVote' && s.config.bugs?.preVoteRaisesTerm !== true) || (m.type === 'PreVoteResponse' && m.granted)) {
        // Pre-vote messages carry the term the sender would campaign in: not a real term.
        // (Bug switch preVoteRaisesTerm: the receiver of a PreVote adopts its term, as if a
        // candidate had campaigned in it; a node that cannot win disrupts the cluster, thesis 9.6.)
      } else {
        becomeFollower(s, m.term, isFromLeader(m) ? m.from : 0);
      }
    } else if (m.term < s.term) {
      if ((s.config.checkQuorum || s.config.preVote) && (m.type === 'AppendEntries' || m.type === 'Heartbeat')) {
        // A stale leader (e.g. rejoining after a partition) learns our term and steps down;
        // without this it would never hear a higher term, since we ignore it.
        send(s, {
          type: 'AppendEntriesResponse',
          from: s.id,
          to: m.from,
          term: s.term,
          success: false,
          matchIndex: 0,
          conflictIndex: 0,
          conflictTerm: 0,
        });
      } else if (m.type === 'PreVote') {
        send(s, { type: 'PreVoteResponse', from: s.id, to: m.from, term: s.term, granted: false });
      }
      this.afterEvent();
      return;
    }
    this.dispatch(m);
    this.afterEvent();
  }

  private dispatch(m: Message): void {
    const s = this.s;
    switch (m.type) {
      case 'PreVote':
      case 'RequestVote':
        handleVoteRequest(s, m);
        return;
      case 'PreVoteResponse':
      case 'RequestVoteResponse':
        handleVoteResponse(s, m);
        return;
      case 'AppendEntries':
        this.heardFromLeader(m.from);
        handleAppendEntries(s, m);
        return;
      case 'Heartbeat':
        this.heardFromLeader(m.from);
        handleHeartbeat(s, m);
        return;
      case 'InstallSnapshot':
        this.heardFromLeader(m.from);
        handleInstallSnapshot(s, m);
        return;
      case 'AppendEntriesResponse':
        if (s.role === 'leader') handleAppendEntriesResponse(s, m);
        return;
      case 'HeartbeatResponse':
        if (s.role === 'leader') handleHeartbeatResponse(s, m);
        return;
      case 'InstallSnapshotResponse':
        if (s.role === 'leader') handleInstallSnapshotResponse(s, m);
        return;
      case 'TimeoutNow':
        handleTimeoutNow(s);
        return;
      case 'ReadIndex':
        if (s.role === 'leader') leaderReadIndex(s, { from: m.from, context: m.context });
        return;
      case 'ReadIndexResponse':
        handleReadIndexResponse(s, m);
        return;
    }
  }

  /** Same-term message from the leader: follow it and reset the election timer. */
  private heardFromLeader(leader: number): void {
    const s = this.s;
    assert(s.role !== 'leader', `two leaders in term ${s.term}: ${s.id} and ${leader}`);
    if (s.role !== 'follower') becomeFollower(s, s.term, leader);
    assert(s.leader === 0 || s.leader === leader, `two leaders in term ${s.term}: ${s.leader} and ${leader}`);
    s.leader = leader;
    s.electionElapsed = 0;
    s.bootLease = false;
    s.preVoteRounds = 0;
  }

  /** Checks that follow any event: reads waiting for a commit, a removed leader stepping down. */
  private afterEvent(): void {
    const s = this.s;
    if (s.role !== 'leader') return;
    releaseWaitingReads(s);
    // Thesis 4.2.2: a leader not in the configuration steps down once that change commits.
    if (!isVoter(s, s.id) && s.log.committed >= s.conf.latestIndex()) becomeFollower(s, s.term, 0);
  }

  // -- Client operations -----------------------------------------------------------------

  campaign(): void {
    hup(this.s, false);
    this.afterEvent();
  }

  propose(data: Uint8Array): number | null {
    const s = this.s;
    // Bug switch transferLeaderKeepsWriting: proposals are still taken during a transfer
    // (thesis 3.10: the leader stops taking them so the target can catch up and take over).
    if (s.role !== 'leader' || (s.leadTransferee !== 0 && s.config.bugs?.transferLeaderKeepsWriting !== true)) return null;
    return appendEntries(s, [{ type: 'normal', data }]);
  }

  proposeConfChange(change: ConfChange): number | null {
    const s = this.s;
    if (s.role !== 'leader' || s.leadTransferee !== 0) return null;
    // One change at a time (thesis 4.1); the bug switch twoConfChangesInFlight lets a second
    // one in, whose majority need not overlap the majority of the configuration before the first.
    if (s.pendingConfIndex > s.log.committed && s.config.bugs?.twoConfChangesInFlight !== true) return null;
    if (rejectConfChange(s.conf.current(), change) !== null) return null;
    const index = appendEntries(s, [{ type: 'conf', data: encodeConfChange(change, s.conf.current()) }]);
    s.pendingConfIndex = index;
    return index;
  }

  readIndex(context: number): boolean {
    const s = this.s;
    if (s.role === 'leader') {
      if (!canQueueRead(s)) return false; // refused, never accepted and then dropped
      leaderReadIndex(s, { from: s.id, context });
      return true;
    }
    return forwardReadIndex(s, context);
  }

  leaseValid(): boolean {
    return leaseValid(this.s);
  }

  transferLeadership(to: number): boolean {
    return transferLeadership(this.s, to);
  }

  /** Metadata the driver must use for a snapshot at `index` (term and configuration there).
   * Also answers for the index the driver had applied when a snapshot received from the
   * leader replaced the log and is not applied yet (snapshotTaken will then ignore it). */
  snapshotMeta(index: number): SnapshotMeta {
    const s = this.s;
    const superseded = s.supersededApplied;
    if (superseded !== null && index === superseded.index) return { index, term: superseded.term, conf: superseded.conf };
    const term = s.log.term(index);
    assert(term !== undefined, `no term known for index ${index} (log holds ${s.log.snapshotIndex}..${s.log.lastIndex()})`);
    return { index, term, conf: s.conf.at(index) };
  }

  snapshotTaken(snapshot: Snapshot): void {
    const s = this.s;
    const { index, term, conf } = snapshot.meta;
    // Older than what we hold, or superseded by a snapshot received from the leader (the
    // driver snapshotted while that one was on its way to being applied): nothing to keep.
    if (s.snapshot !== null && index < s.snapshot.meta.index) return;
    if (index < s.log.snapshotIndex || s.log.pendingSnapshot !== null) return;
    assert(index <= s.log.applied, `snapshot ${index} beyond applied ${s.log.applied}`);
    assert(s.log.term(index) === term, `snapshot term ${term} does not match log at ${index}`);
    assert(sameConf(conf, s.conf.at(index)), `snapshot configuration does not match the log at ${index}`);
    s.snapshot = snapshot;
    // Keep the last snapshotCatchUpEntries entries: a follower a little behind (restarted,
    // slow) catches up from the log instead of needing the whole snapshot.
    const keep = Math.max(0, s.config.snapshotCatchUpEntries ?? DEFAULT_SNAPSHOT_CATCH_UP_ENTRIES);
    const compactTo = index - keep;
    if (compactTo > s.log.snapshotIndex) {
      s.log.compact(compactTo);
      s.conf.compact(compactTo);
    }
    // Bug switch snapshotDiscardsNewerEntries (also in snapshot.ts): a follower cuts its log back
    // to the snapshot, dropping the uncommitted entries after it that it has acknowledged and its
    // leader counts on (§7: a snapshot replaces only the entries it covers).
    if (s.config.bugs?.snapshotDiscardsNewerEntries === true && s.role !== 'leader') s.log.discardAfter(s.log.committed);
  }

  // -- Ready / advance ---------------------------------------------------------------------

  hasReady(): boolean {
    const s = this.s;
    const soft = this.softState();
    return (
      soft.leader !== this.lastSoftState.leader ||
      soft.role !== this.lastSoftState.role ||
      !sameHardState(hardStateOf(s), this.persistedHardState) ||
      s.log.pendingSnapshot !== null ||
      s.log.stable < s.log.lastIndex() ||
      s.outbox.length > 0 ||
      s.readStates.length > 0 ||
      (s.role === 'leader' && (s.appendPending || s.commitPending)) ||
      s.log.nextCommittedEntries(1).length > 0
    );
  }

  /** What the driver must do now. At most `maxCommittedEntries` committed entries are handed
   * out (the rest come in the next Ready): a driver may apply part of them while the disk
   * writes the next entries, instead of all of them before. */
  ready(maxCommittedEntries: number = MAX_COMMITTED_PER_READY): Ready {
    const s = this.s;
    assert(this.handed === null, 'ready() called again before advance()');
    assert(Number.isSafeInteger(maxCommittedEntries) && maxCommittedEntries >= 1, `maxCommittedEntries must be >= 1, got ${maxCommittedEntries}`);
    flushAppends(s);
    markRoundsFlushed(s);
    const hardState = hardStateOf(s);
    const entries = s.log.unstableEntries();
    // Bug switch applyBeforeCommit: hands out one entry past the commit index, which a new
    // leader may still overwrite (Figure 2: apply only committed entries).
    const pastCommit = s.config.bugs?.applyBeforeCommit === true ? 1 : 0;
    const committedEntries = s.log.nextCommittedEntries(Math.min(maxCommittedEntries, MAX_COMMITTED_PER_READY), pastCommit);
    const last: Entry | undefined = entries[entries.length - 1];
    const softState = this.softState();
    const ready: Ready = {
      softState,
      hardState: sameHardState(hardState, this.persistedHardState) ? null : hardState,
      snapshot: s.log.pendingSnapshot,
      entries,
      messages: withoutStaleTerms(s.outbox, s.term),
      committedEntries,
      readStates: s.readStates,
    };
    s.outbox = [];
    s.readStates = [];
    this.handed = {
      softState,
      hardState: ready.hardState,
      snapshot: ready.snapshot,
      lastEntry: last ? { index: last.index, term: last.term } : null,
      lastCommitted: committedEntries.length > 0 ? committedEntries[committedEntries.length - 1]!.index : 0,
    };
    return ready;
  }

  /**
   * Leader, while the driver is still writing the last Ready: the heartbeats queued since,
   * which may leave at once instead of waiting for that write and the next ready(). A
   * leader's heartbeats need nothing durable but its term and vote (ready-durability.ts),
   * and those are, unless the Ready being written changes them: then there are none to take.
   * Their read rounds count as sent from now, so a read that arrives later joins a later
   * round (a round's quorum confirms leadership only for reads that came before its
   * heartbeats left). Without this, a long log write (a large entry, a slow disk) holds every
   * heartbeat back, and followers campaign against a healthy leader.
   */
  takeHeartbeats(): Message[] {
    const s = this.s;
    if (s.role !== 'leader' || s.term !== this.persistedHardState.term || s.vote !== this.persistedHardState.vote) return [];
    if (!s.outbox.some((m) => m.type === 'Heartbeat')) return [];
    const heartbeats = s.outbox.filter((m) => m.type === 'Heartbeat');
    s.outbox = s.outbox.filter((m) => m.type !== 'Heartbeat');
    markRoundsFlushed(s);
    return heartbeats;
  }

  advance(): void {
    const s = this.s;
    const handed = this.handed;
    assert(handed !== null, 'advance() without ready()');
    this.handed = null;
    this.lastSoftState = handed.softState;
    if (handed.hardState) this.persistedHardState = handed.hardState;
    if (handed.snapshot) {
      if (s.log.pendingSnapshot === handed.snapshot) {
        s.log.pendingSnapshot = null;
        s.supersededApplied = null;
      }
      if (handed.snapshot.meta.index > s.log.applied) s.log.appliedTo(handed.snapshot.meta.index);
    }
    if (handed.lastEntry) s.log.stableTo(handed.lastEntry.index, handed.lastEntry.term);
    if (handed.lastCommitted > s.log.applied) s.log.appliedTo(handed.lastCommitted);
    // Our own entries just became durable: they may complete a majority.
    maybeCommit(s);
    this.afterEvent();
  }

  // -- Introspection -----------------------------------------------------------------------

  /** Whether this node leads and takes proposals now (cheaper than status(): the write path asks per write). */
  acceptsProposals(): boolean {
    return this.s.role === 'leader' && this.s.leadTransferee === 0;
  }

  currentTerm(): number {
    return this.s.term;
  }

  /** Index of the last entry of the log (held in memory, stable or not): cheaper than status(). */
  lastIndex(): number {
    return this.s.log.lastIndex();
  }

  /** The commit index: cheaper than status() (the write trace asks after every message). */
  commitIndex(): number {
    return this.s.log.committed;
  }

  /** Follower: the highest commit index the leader has told this node in this term (0 on a
   * leader or candidate, or before a leader spoke). Compared with the node's applied index it
   * says how far the node trails the cluster (restarted, cut off, slow disk). */
  leaderCommitIndex(): number {
    return this.s.role === 'follower' ? this.s.leaderCommit : 0;
  }

  /** Committed entries not yet handed out for applying. */
  committedBacklog(): number {
    const log = this.s.log;
    return Math.max(0, Math.min(log.committed, log.stable) - log.applied);
  }

  private softState(): SoftState {
    return { leader: this.s.leader, role: this.s.role };
  }

  status(): RaftStatus {
    const s = this.s;
    return {
      id: s.id,
      role: s.role,
      term: s.term,
      vote: s.vote,
      leader: s.leader,
      commitIndex: s.log.committed,
      appliedIndex: s.log.applied,
      firstIndex: s.log.firstIndex(),
      lastIndex: s.log.lastIndex(),
      conf: s.conf.current(),
      progress: s.role === 'leader' ? [...s.progress.values()].map((pr) => pr.view()) : [],
    };
  }
}
