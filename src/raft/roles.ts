// Role transitions (paper Figure 2 "Rules for Servers"; thesis 3.4). Every transition resets
// the per-term volatile state; term changes only go up and clear the vote.
import type { RaftState } from './state.ts';
import { Progress } from './progress.ts';
import { assert } from '../assert.ts';
import { resetRandomizedElectionTimeout } from './election.ts';
import { appendEntries } from './replication.ts';
import { leaseEndTick } from './read-only.ts';

function reset(s: RaftState, term: number): void {
  assert(term >= s.term, `term goes backwards: ${term} < ${s.term}`);
  // Bug switch leaseAfterStepDown: remember the lease this leader held (read-only.ts serves it
  // after the step-down; the lease is computed from acknowledgements alone, as if TimeoutNow
  // had never been sent).
  if (s.role === 'leader' && s.config.bugs?.leaseAfterStepDown === true) s.formerLeaseEndTick = leaseEndTick(s);
  if (term > s.term) {
    s.term = term;
    s.vote = 0;
  }
  s.leader = 0;
  s.leaderCommit = 0;
  s.electionElapsed = 0;
  s.heartbeatElapsed = 0;
  resetRandomizedElectionTimeout(s);
  s.votes.clear();
  s.progress.clear();
  s.leadTransferee = 0;
  s.timeoutNowSent = false;
  s.appendPending = false;
  s.commitPending = false;
  s.readOnly.reset();
  // A partial snapshot belongs to one leader in one term: never splice in another's chunks.
  s.receiver = null;
}

export function becomeFollower(s: RaftState, term: number, leader: number): void {
  reset(s, term);
  s.role = 'follower';
  s.leader = leader;
}

export function becomePreCandidate(s: RaftState): void {
  assert(s.role !== 'leader', 'leader cannot become pre-candidate');
  // Pre-vote changes neither term nor vote (thesis 9.6): only the role and the tally.
  s.role = 'pre-candidate';
  s.preVoteRounds++;
  s.leader = 0;
  s.leaderCommit = 0;
  s.votes.clear();
  s.electionElapsed = 0;
  resetRandomizedElectionTimeout(s);
}

export function becomeCandidate(s: RaftState): void {
  assert(s.role !== 'leader', 'leader cannot become candidate');
  reset(s, s.term + 1);
  s.role = 'candidate';
  s.vote = s.id;
}

export function becomeLeader(s: RaftState): void {
  assert(s.role === 'candidate', `only a candidate becomes leader (was ${s.role})`);
  reset(s, s.term);
  s.role = 'leader';
  s.leader = s.id;
  s.preVoteRounds = 0;
  syncProgressWithConf(s);
  // A conf entry from an earlier term may be uncommitted: allow no change until our no-op
  // (and so everything before it) commits (thesis 4.1, and the single-server change fix).
  s.pendingConfIndex = s.log.lastIndex() + 1;
  appendEntries(s, [{ type: 'noop', data: new Uint8Array(0) }]);
}

/** Leader: one Progress per member other than us; drop rows of removed members. */
export function syncProgressWithConf(s: RaftState): void {
  if (s.role !== 'leader') return;
  const conf = s.conf.current();
  const members = new Set([...conf.voters, ...conf.learners]);
  for (const id of [...s.progress.keys()]) {
    if (!members.has(id)) s.progress.delete(id);
  }
  for (const id of members) {
    if (id === s.id) continue;
    const learner = conf.learners.includes(id);
    const pr = s.progress.get(id);
    if (pr) pr.learner = learner;
    else {
      const created = new Progress(id, learner, s.log.lastIndex(), s.config.maxInflight);
      created.recentActive = true; // give new members one check-quorum round to answer
      s.progress.set(id, created);
    }
  }
  if (s.leadTransferee !== 0 && !conf.voters.includes(s.leadTransferee)) s.leadTransferee = 0;
}
