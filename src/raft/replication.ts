// Log replication (paper §5.3, thesis 3.5, 10.2): the leader's AppendEntries and heartbeats,
// batched (maxEntriesPerMessage, maxBytesPerMessage) and pipelined (maxInflight per follower);
// the follower's consistency check; fast backtracking with conflictTerm/conflictIndex; and
// the commit rule that only counts replicas of current-term entries (Figure 8).
import type { AppendEntriesRequest, AppendEntriesResponse, Entry, EntryType, HeartbeatRequest, HeartbeatResponse } from './types.ts';
import { type RaftState, isVoter, matchIndexOf, send } from './state.ts';
import { quorumMin, quorumSize } from './quorum.ts';
import { assert } from '../assert.ts';
import { syncProgressWithConf } from './roles.ts';
import { sendSnapshot, snapshotHeartbeat } from './snapshot.ts';
import { onHeartbeatAck, startHeartbeatRound } from './read-only.ts';
import { maybeSendTimeoutNow } from './leadership-transfer.ts';

/** Every log append goes through here so the configuration follows the log (thesis 4.1). */
export function appendToLog(s: RaftState, entries: readonly Entry[]): void {
  if (entries.length === 0) return;
  if (s.role === 'leader') {
    assert(entries[0]!.index === s.log.lastIndex() + 1, 'a leader never overwrites its log');
  }
  s.log.append(entries);
  s.conf.onAppend(entries);
  if (entries.some((e) => e.type === 'conf')) syncProgressWithConf(s);
}

/** Leader: appends new entries of the current term; they go out in the next ready(). */
export function appendEntries(s: RaftState, items: readonly { type: EntryType; data: Uint8Array }[]): number {
  assert(s.role === 'leader', 'only the leader appends new entries');
  let index = s.log.lastIndex();
  const entries = items.map((item) => ({ index: ++index, term: s.term, type: item.type, data: item.data }));
  appendToLog(s, entries);
  s.appendPending = true;
  // A single-voter cluster may commit as soon as the entries are durable (see advance()).
  return index;
}

/**
 * Sends one AppendEntries to `to` if flow control allows. Returns true when a message went out.
 * When the entries it needs are compacted, starts a snapshot transfer instead.
 */
function maybeSendAppend(s: RaftState, to: number, sendIfEmpty: boolean): boolean {
  const pr = s.progress.get(to);
  if (!pr || pr.isPaused()) return false;
  const prevLogIndex = pr.nextIndex - 1;
  assert(prevLogIndex <= s.log.lastIndex(), `nextIndex ${pr.nextIndex} of ${to} past the leader's log`);
  const prevLogTerm = s.log.term(prevLogIndex);
  if (prevLogTerm === undefined) {
    sendSnapshot(s, pr);
    return false;
  }
  const last = s.log.lastIndex();
  const entries = pr.nextIndex <= last ? s.log.slice(pr.nextIndex, last + 1, s.config.maxBytesPerMessage, s.config.maxEntriesPerMessage) : [];
  if (entries.length === 0 && !sendIfEmpty) return false;
  const message: AppendEntriesRequest = {
    type: 'AppendEntries',
    from: s.id,
    to,
    term: s.term,
    prevLogIndex,
    prevLogTerm,
    entries,
    leaderCommit: s.log.committed,
  };
  send(s, message);
  pr.sentEntries(entries.length, prevLogIndex + entries.length);
  return true;
}

/** Leader, from ready(): sends what each follower is missing, pipelining up to the inflight
 * window in replicate state, and carries a new commit index (an empty append if needed). */
export function flushAppends(s: RaftState): void {
  if (s.role !== 'leader') return;
  const carryCommit = s.commitPending;
  s.appendPending = false;
  s.commitPending = false;
  for (const [id, pr] of s.progress) {
    let sent = maybeSendAppend(s, id, carryCommit || pr.nudge);
    pr.nudge = false;
    while (sent && pr.state === 'replicate' && pr.nextIndex <= s.log.lastIndex()) {
      sent = maybeSendAppend(s, id, false);
    }
  }
}

/** Leader: a heartbeat to every member, carrying a read context (read-only.ts) and, per
 * follower, the commit index capped at what that follower is known to hold. */
export function broadcastHeartbeat(s: RaftState): number {
  const context = startHeartbeatRound(s);
  for (const pr of s.progress.values()) {
    const message: HeartbeatRequest = {
      type: 'Heartbeat',
      from: s.id,
      to: pr.id,
      term: s.term,
      commit: Math.min(pr.matchIndex, s.log.committed),
      context,
    };
    send(s, message);
  }
  return context;
}

/** Leader: advances the commit index to the highest current-term index on a majority. */
export function maybeCommit(s: RaftState): boolean {
  if (s.role !== 'leader') return false;
  const index = s.config.bugs === undefined ? quorumMin(s.conf.current().voters, (id) => matchIndexOf(s, id)) : commitIndexWithBugs(s);
  if (index <= s.log.committed) return false;
  // Figure 8: counting replicas only commits entries of the current term; older entries
  // commit indirectly. The bug switch exists only to prove the simulator notices.
  if (s.log.term(index) !== s.term && s.config.bugs?.commitPreviousTermEntries !== true) return false;
  s.log.commitTo(index);
  s.commitPending = true;
  return true;
}

/** The quorum's match index as maybeCommit computes it, or as a deliberate bug miscounts it. */
function commitIndexWithBugs(s: RaftState): number {
  const voters = s.conf.current().voters;
  if (s.config.bugs?.commitPastQuorumMatch === true) {
    // Bug: the highest match index of any voter (often the leader's own log) commits entries
    // that no majority holds; a new leader without them loses committed entries (§5.3).
    return Math.max(...voters.map((id) => matchIndexOf(s, id)));
  }
  if (s.config.bugs?.learnerInQuorum === true) {
    // Bug: every member's match index (the progress map holds learners too) ranked against the
    // voters' quorum size, so learners stand in for voters (thesis 4.2.1: learners never count).
    const matches = [matchIndexOf(s, s.id), ...[...s.progress.values()].map((pr) => pr.matchIndex)].sort((a, b) => b - a);
    return matches[Math.min(matches.length, quorumSize(voters.length)) - 1] ?? 0;
  }
  return quorumMin(voters, (id) => matchIndexOf(s, id));
}

// ---------------------------------------------------------------------------------------
// Follower side.

function respond(s: RaftState, to: number, fields: Omit<AppendEntriesResponse, 'type' | 'from' | 'to' | 'term'>): void {
  send(s, { type: 'AppendEntriesResponse', from: s.id, to, term: s.term, ...fields });
}

/** AppendEntries receiver (Figure 2). The response is sent only after the entries appended
 * here are durable: ready() returns them together and the driver persists before sending. */
export function handleAppendEntries(s: RaftState, m: AppendEntriesRequest): void {
  const log = s.log;
  s.leaderCommit = Math.max(s.leaderCommit, m.leaderCommit);
  if (m.prevLogIndex < log.committed) {
    // Everything up to our commit index matches the leader already.
    respond(s, m.from, { success: true, matchIndex: log.committed, conflictIndex: 0, conflictTerm: 0 });
    return;
  }
  if (log.matchTerm(m.prevLogIndex, m.prevLogTerm)) {
    const lastNew = m.prevLogIndex + m.entries.length;
    const conflict = log.findConflict(m.entries);
    if (conflict !== 0) {
      assert(conflict > log.committed, `leader ${m.from} conflicts with committed entry ${conflict}`);
      // Bug switch keepConflictingSuffix: append only what lies past our last index, keeping
      // the conflicting entries, and still acknowledge the leader's entries (Figure 2 step 3).
      const from = s.config.bugs?.keepConflictingSuffix === true ? Math.max(conflict, log.lastIndex() + 1) : conflict;
      appendToLog(s, m.entries.slice(from - m.prevLogIndex - 1));
    } else if (s.config.bugs?.truncateOnStaleAppend === true && m.entries.length > 0 && lastNew < log.lastIndex()) {
      // Bug: a stale or duplicated append whose entries all match rewrites them and drops the
      // entries after them, which this node may have acknowledged already (Figure 2: truncate
      // only on a conflict).
      appendToLog(s, m.entries);
    }
    // Commit only what we know matches the leader: up to the last entry of this message.
    // Bug switch followerCommitsAhead: commit what the leader sent, committed or not.
    log.commitTo(s.config.bugs?.followerCommitsAhead === true ? lastNew : Math.min(m.leaderCommit, lastNew));
    respond(s, m.from, { success: true, matchIndex: lastNew, conflictIndex: 0, conflictTerm: 0 });
    return;
  }
  // Fast backtracking hints (thesis 5.3): our log is too short, or the term at prevLogIndex
  // differs: report that term and the first index we hold for it, so the leader can skip
  // the whole term in one round trip.
  if (m.prevLogIndex > log.lastIndex()) {
    respond(s, m.from, { success: false, matchIndex: 0, conflictIndex: log.lastIndex() + 1, conflictTerm: 0 });
    return;
  }
  const conflictTerm = log.term(m.prevLogIndex)!;
  const conflictIndex = log.firstIndexOfTerm(conflictTerm, m.prevLogIndex);
  respond(s, m.from, { success: false, matchIndex: 0, conflictIndex, conflictTerm });
}

export function handleHeartbeat(s: RaftState, m: HeartbeatRequest): void {
  s.leaderCommit = Math.max(s.leaderCommit, m.commit);
  s.log.commitTo(m.commit);
  const response: HeartbeatResponse = {
    type: 'HeartbeatResponse',
    from: s.id,
    to: m.from,
    term: s.term,
    context: m.context,
  };
  send(s, response);
}

// ---------------------------------------------------------------------------------------
// Leader side.

export function handleAppendEntriesResponse(s: RaftState, m: AppendEntriesResponse): void {
  const pr = s.progress.get(m.from);
  if (!pr) return;
  pr.recentActive = true;
  if (!m.success) {
    if (pr.state === 'snapshot') return; // stale: sent before the snapshot started
    let next: number;
    if (m.conflictTerm === 0) {
      next = m.conflictIndex;
    } else {
      // If we hold entries of conflictTerm, the logs agree up to our last one of them.
      const last = s.log.lastIndexOfTerm(m.conflictTerm);
      next = last > 0 ? last + 1 : m.conflictIndex;
    }
    next = Math.max(1, Math.min(next, s.log.lastIndex() + 1));
    if (pr.maybeDecrTo(next)) s.appendPending = true;
    return;
  }
  assert(m.matchIndex <= s.log.lastIndex(), `follower ${m.from} matches past the leader's log`);
  if (pr.maybeUpdate(m.matchIndex)) {
    if (pr.state === 'probe') {
      pr.becomeReplicate();
    } else if (pr.state === 'snapshot') {
      if (pr.matchIndex >= pr.pendingSnapshot) {
        pr.becomeProbe();
        pr.becomeReplicate();
      }
    } else {
      pr.inflights.freeLE(m.matchIndex);
    }
    if (isVoter(s, m.from)) maybeCommit(s);
    s.appendPending = true;
    maybeSendTimeoutNow(s, m.from);
  }
}

export function handleHeartbeatResponse(s: RaftState, m: HeartbeatResponse): void {
  const pr = s.progress.get(m.from);
  if (!pr) return;
  pr.recentActive = true;
  pr.probeSent = false;
  // A heartbeat answered means the follower is alive: let one more append through so a
  // lost message cannot stall a full window forever.
  if (pr.state === 'replicate' && pr.inflights.full()) pr.inflights.freeFirstOne();
  if (pr.state === 'snapshot') snapshotHeartbeat(s, pr);
  else if (pr.matchIndex < s.log.lastIndex()) {
    pr.nudge = true;
    s.appendPending = true;
  }
  if (m.context !== 0) onHeartbeatAck(s, m.from, m.context);
}
