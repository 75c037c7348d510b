// Leadership transfer (thesis 3.10): the leader stops accepting proposals, brings the target's
// log up to date, then sends TimeoutNow; the target campaigns at once, without pre-vote and
// with `transfer: true` so voters skip their lease check. Aborted after an election timeout.
import type { TimeoutNowRequest } from './types.ts';
import { type RaftState, isVoter, send } from './state.ts';
import { hup, promotable } from './election.ts';

export function transferLeadership(s: RaftState, to: number): boolean {
  if (s.role !== 'leader' || to === s.id || !isVoter(s, to) || !s.progress.has(to)) return false;
  if (s.leadTransferee === to) return true;
  s.leadTransferee = to;
  // The transfer must finish within one election timeout (checked in tickLeader).
  s.electionElapsed = 0;
  if (!maybeSendTimeoutNow(s, to)) s.appendPending = true;
  return true;
}

/** Sends TimeoutNow once the transfer target has every entry we have. */
export function maybeSendTimeoutNow(s: RaftState, from: number): boolean {
  if (s.role !== 'leader' || s.leadTransferee !== from) return false;
  const pr = s.progress.get(from);
  if (!pr || pr.matchIndex !== s.log.lastIndex()) return false;
  const message: TimeoutNowRequest = { type: 'TimeoutNow', from: s.id, to: from, term: s.term };
  send(s, message);
  // From now on another server may win without lease checks: no more lease reads here. The bug
  // switch transferLeaderKeepsWriting forgets it, so the old leader keeps its lease.
  if (s.config.bugs?.transferLeaderKeepsWriting !== true) s.timeoutNowSent = true;
  return true;
}

export function abortLeaderTransfer(s: RaftState): void {
  s.leadTransferee = 0;
}

export function handleTimeoutNow(s: RaftState): void {
  if (s.role === 'leader' || !promotable(s)) return;
  hup(s, true);
}
