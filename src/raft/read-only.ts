// Linearizable reads without writing to the log (thesis 6.4):
//  ReadIndex: the leader records its commit index as the read index (once it has committed an
//  entry of its term), confirms it is still leader with a round of heartbeats acknowledged by
//  a majority, then the read may be served once the state machine has applied the read index.
//  Leases (6.4.1): with check-quorum, followers refuse to elect anyone else for an election
//  timeout after hearing from the leader, so a leader acknowledged by a majority within the
//  last (electionTicks - margin) ticks may serve reads at once.
// Every heartbeat round carries a fresh context; reads join the round that will be sent next.
import type { ReadIndexRequest, ReadIndexResponse } from './types.ts';
import { type RaftState, MAX_QUEUED_READS, committedInCurrentTerm, send } from './state.ts';
import { hasQuorum, quorumMin } from './quorum.ts';
import { broadcastHeartbeat } from './replication.ts';

interface ReadRequest {
  /** Our own id for a local read, else the follower that forwarded it. */
  readonly from: number;
  readonly context: number;
}

interface HeartbeatRound {
  readonly id: number;
  readonly sentTick: number;
  /** Commit index when the round started: the read index of the reads it carries. */
  readonly index: number;
  readonly reads: ReadRequest[];
  readonly acks: Set<number>;
  /** Already handed to the driver: reads arriving now must wait for a later round. */
  flushed: boolean;
}

/** Bound on heartbeat rounds remembered (their reads are never dropped, see startHeartbeatRound). */
const MAX_ROUNDS = 256;

export class ReadOnly {
  nextRoundId = 1;
  rounds: HeartbeatRound[] = [];
  /** Reads received before the leader committed an entry of its term. */
  waiting: ReadRequest[] = [];
  /** Reads held in `waiting` and in rounds (bounded by MAX_QUEUED_READS). */
  queued = 0;

  reset(): void {
    this.rounds = [];
    this.waiting = [];
    this.queued = 0;
  }
}

/** May the leader accept one more read? */
export function canQueueRead(s: RaftState): boolean {
  return s.readOnly.queued < MAX_QUEUED_READS;
}

/**
 * Clock-drift margin for leases, in ticks. The lease lasts E − m of the leader's ticks after its
 * round was sent; a follower refuses other candidates for E − 1 of its own full ticks after
 * hearing it. So the lease is safe for tick rates differing by δ ≤ (m − 1)/(2E − m − 1), before
 * message delays: 1/27 ≈ 3.7 % at the default E = 15 (m = 2). docs/simulation.md, Clock drift.
 */
export function leaseMarginTicks(electionTicks: number): number {
  return Math.max(1, Math.ceil(electionTicks / 10));
}

/** Starts a heartbeat round (called by broadcastHeartbeat); returns its context. */
export function startHeartbeatRound(s: RaftState): number {
  const ro = s.readOnly;
  const round: HeartbeatRound = {
    id: ro.nextRoundId++,
    sentTick: s.now,
    index: s.log.committed,
    reads: [],
    acks: new Set([s.id]),
    flushed: false,
  };
  ro.rounds.push(round);
  if (ro.rounds.length > MAX_ROUNDS) {
    // Forget the oldest round, but not its reads: they join the next round, which was sent
    // after they arrived, so its quorum confirms leadership for them too (at a read index
    // that is at least theirs).
    const oldest = ro.rounds.shift()!;
    ro.rounds[0]!.reads.unshift(...oldest.reads);
  }
  return round.id;
}

/** ready() hands the outbox to the driver: rounds started so far are on their way. */
export function markRoundsFlushed(s: RaftState): void {
  for (const r of s.readOnly.rounds) r.flushed = true;
}

function answer(s: RaftState, req: ReadRequest, index: number): void {
  if (req.from === s.id) {
    s.readStates.push({ index, context: req.context });
    return;
  }
  const response: ReadIndexResponse = {
    type: 'ReadIndexResponse',
    from: s.id,
    to: req.from,
    term: s.term,
    index,
    context: req.context,
  };
  send(s, response);
}

/** Leader: a read from us or a follower. The caller checked canQueueRead() for local reads;
 * a follower's read beyond the bound gets no answer (its driver times it out, as for a lost
 * message). */
export function leaderReadIndex(s: RaftState, req: ReadRequest): void {
  if (s.config.bugs?.readWithoutQuorumCheck === true) {
    answer(s, req, s.log.committed);
    return;
  }
  if (!committedInCurrentTerm(s)) {
    // Our commit index may be stale until our no-op commits (thesis 6.4 step 1).
    if (!canQueueRead(s)) return;
    s.readOnly.waiting.push(req);
    s.readOnly.queued++;
    return;
  }
  if (hasQuorum(s.conf.current().voters, (id) => id === s.id || id === req.from)) {
    // We and the asker are a majority (a single voter asking itself; a follower of three
    // voters): no heartbeat round. A follower's answer leaves after its request arrived, in our
    // term, and the follower takes it only in that same term (an answer of an older term is
    // dropped by step()). A leader of a later term elected before the request arrived would
    // have needed a vote from a majority, so from us or from the follower, and either would
    // have left this term for good by then: so at the request's arrival no other leader had
    // committed anything our commit index lacks (docs/architecture.md, Reads).
    answer(s, req, s.log.committed);
    return;
  }
  if (!canQueueRead(s)) return;
  const rounds = s.readOnly.rounds;
  let round = rounds[rounds.length - 1];
  if (round === undefined || round.flushed || round.index !== s.log.committed) {
    broadcastHeartbeat(s);
    round = rounds[rounds.length - 1]!;
  }
  round.reads.push(req);
  s.readOnly.queued++;
}

/** Leader: its first entry of the term committed; serve the reads that waited for it. */
export function releaseWaitingReads(s: RaftState): void {
  if (s.role !== 'leader' || s.readOnly.waiting.length === 0 || !committedInCurrentTerm(s)) return;
  const waiting = s.readOnly.waiting;
  s.readOnly.waiting = [];
  s.readOnly.queued -= waiting.length;
  for (const req of waiting) leaderReadIndex(s, req);
}

/** Leader: `from` answered the heartbeat round `context`. */
export function onHeartbeatAck(s: RaftState, from: number, context: number): void {
  const rounds = s.readOnly.rounds;
  const at = rounds.findIndex((r) => r.id === context);
  if (at < 0) return;
  const round = rounds[at]!;
  const pr = s.progress.get(from);
  if (pr) pr.leaseAckTick = Math.max(pr.leaseAckTick, round.sentTick);
  round.acks.add(from);
  if (!hasQuorum(s.conf.current().voters, (id) => round.acks.has(id))) return;
  // A majority confirmed us after every read in this and earlier rounds arrived.
  const done = rounds.splice(0, at + 1);
  for (const r of done) {
    s.readOnly.queued -= r.reads.length;
    for (const req of r.reads) answer(s, req, r.index);
  }
}

/** Follower side: forward a read to the leader. */
export function forwardReadIndex(s: RaftState, context: number): boolean {
  if (s.leader === 0) return false;
  const request: ReadIndexRequest = { type: 'ReadIndex', from: s.id, to: s.leader, term: s.term, context };
  send(s, request);
  return true;
}

export function handleReadIndexResponse(s: RaftState, m: ReadIndexResponse): void {
  // Answers only reads this node forwarded (or duplicates of those): drained by every ready().
  s.readStates.push({ index: m.index, context: m.context });
}

/** Leader lease (thesis 6.4.1): valid only with check-quorum, after committing an entry of
 * this term, when no TimeoutNow went out this term, and while a majority acknowledged a
 * heartbeat sent within the last electionTicks - margin ticks. */
export function leaseValid(s: RaftState): boolean {
  if (s.role !== 'leader') {
    // Bug switch leaseAfterStepDown: a former leader keeps the lease it held when it stepped
    // down (roles.ts remembers its end); after a transfer, voters elected the target without
    // waiting for that lease, so a new leader commits writes these reads do not see.
    return s.config.bugs?.leaseAfterStepDown === true && s.now < s.formerLeaseEndTick;
  }
  if (!s.config.checkQuorum || s.timeoutNowSent) return false;
  if (!committedInCurrentTerm(s)) return false;
  return s.now < leaseEndTick(s);
}

/** Leader: the tick at which its lease ends (thesis 6.4.1): an election timeout, less a
 * margin for clock drift, after the heartbeat round a majority last acknowledged was sent. */
export function leaseEndTick(s: RaftState): number {
  const voters = s.conf.current().voters;
  const start = quorumMin(voters, (id) => (id === s.id ? s.now : (s.progress.get(id)?.leaseAckTick ?? -Infinity)));
  // Bug switch leaseReadExpired: twice the election timeout, longer than followers refuse to
  // elect another leader after hearing from this one: an isolated leader serves stale reads.
  if (s.config.bugs?.leaseReadExpired === true) return start + 2 * s.config.electionTicks;
  return start + s.config.electionTicks - leaseMarginTicks(s.config.electionTicks);
}
