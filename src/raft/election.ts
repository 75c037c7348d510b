// Leader election (paper §5.2, §5.4.1; thesis 3.4, 4.2.3, 6.2, 9.6): randomized timeouts,
// pre-vote, votes, the election restriction, lease protection against disruptive servers,
// and check-quorum on the leader.
import type { Message, PreVoteRequest, PreVoteResponse, VoteRequest, VoteResponse } from './types.ts';
import { type RaftState, isVoter, send } from './state.ts';
import { becomeCandidate, becomeFollower, becomeLeader, becomePreCandidate } from './roles.ts';
import { hasQuorum, voteResult } from './quorum.ts';
import { broadcastHeartbeat } from './replication.ts';
import { abortLeaderTransfer } from './leadership-transfer.ts';

export function resetRandomizedElectionTimeout(s: RaftState): void {
  const base = s.config.electionTicks;
  s.randomizedElectionTimeout = base + Math.floor(s.config.random() * base);
}

/** Only voters start elections; learners and removed servers never do. A voter whose own
 * removal is appended but not yet committed still may (thesis 4.2.2: it may lead until the
 * removal commits): when it steps down before that and the remaining voters lack the entry,
 * it is the only server that can be elected (with its latest configuration's votes, which it
 * can win since its log is the most up to date) to commit the removal. Without this, two
 * voters where the leader removes itself can deadlock. */
export function promotable(s: RaftState): boolean {
  if (isVoter(s, s.id)) return true;
  return s.conf.latestIndex() > s.log.committed && s.conf.at(s.log.committed).voters.includes(s.id);
}

/** Follower, pre-candidate and candidate tick: start an election when the timeout passes. */
export function tickElection(s: RaftState): void {
  s.electionElapsed++;
  if (s.electionElapsed >= s.config.electionTicks) s.bootLease = false;
  if (promotable(s) && s.electionElapsed >= s.randomizedElectionTimeout) {
    s.electionElapsed = 0;
    hup(s, false);
  }
}

/** Leader tick: heartbeats, check-quorum, and the leadership transfer deadline. */
export function tickLeader(s: RaftState): void {
  s.heartbeatElapsed++;
  s.electionElapsed++;
  if (s.electionElapsed >= s.config.electionTicks) {
    s.electionElapsed = 0;
    if (s.config.checkQuorum) {
      const voters = s.conf.current().voters;
      const active = (id: number): boolean => id === s.id || s.progress.get(id)?.recentActive === true;
      if (!hasQuorum(voters, active)) {
        // Thesis 6.2: a leader that cannot reach a majority steps down, so clients retry elsewhere.
        becomeFollower(s, s.term, 0);
        return;
      }
      for (const pr of s.progress.values()) pr.recentActive = false;
    }
    if (s.leadTransferee !== 0) abortLeaderTransfer(s);
  }
  if (s.heartbeatElapsed >= s.config.heartbeatTicks) {
    s.heartbeatElapsed = 0;
    broadcastHeartbeat(s);
  }
}

/** Starts an election: through pre-vote unless disabled or this is a leadership transfer. */
export function hup(s: RaftState, transfer: boolean): void {
  if (s.role === 'leader' || !promotable(s)) return;
  s.bootLease = false;
  if (s.config.preVote && !transfer) campaignPreVote(s);
  else campaign(s, transfer);
}

function otherVoters(s: RaftState): number[] {
  return s.conf.current().voters.filter((id) => id !== s.id);
}

function campaignPreVote(s: RaftState): void {
  becomePreCandidate(s);
  s.votes.set(s.id, true);
  for (const to of otherVoters(s)) {
    send(s, {
      type: 'PreVote',
      from: s.id,
      to,
      term: s.term + 1,
      lastLogIndex: s.log.lastIndex(),
      lastLogTerm: s.log.lastTerm(),
    });
  }
  tallyVotes(s);
}

function campaign(s: RaftState, transfer: boolean): void {
  becomeCandidate(s);
  s.votes.set(s.id, true);
  for (const to of otherVoters(s)) {
    send(s, {
      type: 'RequestVote',
      from: s.id,
      to,
      term: s.term,
      lastLogIndex: s.log.lastIndex(),
      lastLogTerm: s.log.lastTerm(),
      transfer,
    });
  }
  tallyVotes(s);
}

function tallyVotes(s: RaftState): void {
  const result = voteResult(s.conf.current().voters, s.votes);
  if (result === 'won') {
    if (s.role === 'pre-candidate') campaign(s, false);
    else becomeLeader(s);
  } else if (result === 'lost') {
    becomeFollower(s, s.term, 0);
  }
}

/** Lease protection (thesis 4.2.3, 9.6): while we believe a leader is alive, refuse to help
 * elect another. Applies to pre-votes always, and to votes when check-quorum is on. */
export function inLease(s: RaftState, type: Message['type']): boolean {
  if (s.leader === 0 && !s.bootLease) return false;
  if (s.electionElapsed >= s.config.electionTicks) return false;
  return s.config.checkQuorum || type === 'PreVote';
}

/**
 * Two servers that time out together (the leader died: both stopped hearing it at the same
 * moment; on a starved machine their timers fire in the same burst) would each grant the
 * other's pre-vote, both raise their term, vote for themselves and split the vote: one more
 * election timeout without a leader (seen as a skipped term in chaos runs). Pre-votes change
 * no state, so refusing one affects only liveness: in our first pre-vote round since we last
 * heard a leader, we refuse the pre-vote for the same term of a rival whose log is exactly as
 * up to date as ours and whose id is higher. The lower id goes on, the higher one yields (it
 * grants ours, we refuse its): exactly one of the two refuses, so one of them can win. A rival
 * with a more up-to-date log is granted as before. Only the first round: a pre-candidate that
 * cannot win (its answers are lost) grants from its second round on, so it delays a rival by
 * one election timeout at most, never for good. With three voters the two survivors of a
 * leader need each other's vote, so the one refusal settles it; with more voters, others out of
 * their lease may still grant both rivals.
 */
function yieldsToUs(s: RaftState, m: PreVoteRequest): boolean {
  return (
    s.role === 'pre-candidate' &&
    s.preVoteRounds === 1 &&
    m.term === s.term + 1 &&
    m.from > s.id &&
    m.lastLogTerm === s.log.lastTerm() &&
    m.lastLogIndex === s.log.lastIndex()
  );
}

/** RequestVote / PreVote receiver (Figure 2). The caller has handled terms: m.term >= s.term. */
export function handleVoteRequest(s: RaftState, m: PreVoteRequest | VoteRequest): void {
  const preVote = m.type === 'PreVote';
  // We can vote for m.from if we already did in this term, or have voted for no one and know
  // of no leader; a pre-vote for a future term is always possible (it commits us to nothing).
  // Bug switch voteTwiceInTerm: a second candidate of the same term gets a vote too, so two
  // candidates can both collect a majority in one term (Figure 2: one votedFor per term).
  const canVote =
    (s.vote === m.from ||
      (s.vote === 0 && s.leader === 0) ||
      (preVote && m.term > s.term) ||
      (!preVote && s.config.bugs?.voteTwiceInTerm === true)) &&
    !(preVote && yieldsToUs(s, m));
  // Bug switch skipLogUpToDateCheck: without the election restriction (§5.4.1) a candidate
  // missing committed entries can win and overwrite them (leader completeness).
  const granted = canVote && (s.log.isUpToDate(m.lastLogIndex, m.lastLogTerm) || s.config.bugs?.skipLogUpToDateCheck === true);
  if (granted && !preVote) {
    s.electionElapsed = 0;
    s.vote = m.from;
  }
  const response: PreVoteResponse | VoteResponse = {
    type: preVote ? 'PreVoteResponse' : 'RequestVoteResponse',
    from: s.id,
    to: m.from,
    // A granted pre-vote answers in the future term so the pre-candidate counts it.
    term: granted ? m.term : s.term,
    granted,
  };
  send(s, response);
}

export function handleVoteResponse(s: RaftState, m: PreVoteResponse | VoteResponse): void {
  if (m.type === 'PreVoteResponse') {
    if (s.role !== 'pre-candidate') return;
    if (m.granted && m.term !== s.term + 1) return; // a stale pre-vote from an older round
  } else if (s.role !== 'candidate') {
    return;
  }
  if (!s.votes.has(m.from)) s.votes.set(m.from, m.granted);
  tallyVotes(s);
}
