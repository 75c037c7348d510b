// Coverage of interesting states: how often a run reached each state where Raft bugs live.
// A search that never reaches "a leader holds uncommitted entries of an earlier term" cannot
// find the Figure 8 bug, however many seeds it runs; the report shows what was reached.

export const COVERAGE_STATES = [
  /** A leader's log holds entries after its commit index from an earlier term (Figure 8). */
  'leaderWithEarlierTermTail',
  /** A follower's disk dropped a conflicting suffix (an entry of another term at that index). */
  'followerTruncatedSuffix',
  /** An AppendEntries of a lower term than the receiver's was delivered. */
  'staleAppendEntriesDelivered',
  /** A RequestVote reached a node whose log is more up to date than the candidate's. */
  'voteRefusedLogCheck',
  /** A PreVote was answered "no". */
  'preVoteRejected',
  /** A PreVote reached a pre-candidate of the same future term with the same log and a lower id:
   * two servers timed out together, where the tie-break (election.ts, yieldsToUs) refuses the
   * rival when it is the pre-candidate's first round. */
  'preVoteTie',
  /** A leader's answer to a follower's ReadIndex reached it after it moved to a later term
   * (with three voters the answer confirms the read only in the leader's term: read-only.ts). */
  'staleReadIndexAnswerDelivered',
  /** A read was answered by a node whose term changed since the read arrived. */
  'readServedAcrossTermChange',
  /** A lease read found no valid lease and went through ReadIndex instead (as in production). */
  'leaseReadFellBack',
  /** A lease read was served. */
  'leaseReadServed',
  /** A follower installed a snapshot from the leader. */
  'snapshotInstalled',
  /** A configuration change was applied. */
  'confChangeApplied',
  /** A node won an election after a TimeoutNow (leadership transfer completed). */
  'transferCompleted',
  /** A crash lost entries of a write that had not reached the disk. */
  'crashLostUnsyncedTail',
  /** A commit index alone was recorded to ride along with the next write (no write of its own). */
  'commitRidingNextWrite',
  /** A crash lost a commit index no write had carried yet: the node restarts with an older one. */
  'crashLostCommitIndex',
  /** A leader stepped down while alive (deposed by a higher term or check-quorum). */
  'leaderDeposed',
  /** Two live nodes believed they led, in different terms, at once. */
  'twoLiveLeaders',
  /** A node's event loop stalled (pause fault): no ticks, messages or requests for a while. */
  'pausedNode',
  /** A lease read arrived while ticks were owed after a pause and went through ReadIndex. */
  'leaseReadRefusedAfterPause',
] as const;

export type CoverageState = (typeof COVERAGE_STATES)[number];

export type CoverageCounts = Readonly<Record<CoverageState, number>>;

export class Coverage {
  private readonly counts: Record<CoverageState, number>;

  constructor() {
    this.counts = Object.fromEntries(COVERAGE_STATES.map((s) => [s, 0])) as Record<CoverageState, number>;
  }

  hit(state: CoverageState): void {
    this.counts[state]++;
  }

  snapshot(): CoverageCounts {
    return { ...this.counts };
  }
}

/** Coverage over many runs: per state, runs that reached it and total hits. */
export class CoverageTotals {
  readonly runs: Record<CoverageState, number>;
  readonly hits: Record<CoverageState, number>;

  constructor() {
    this.runs = Object.fromEntries(COVERAGE_STATES.map((s) => [s, 0])) as Record<CoverageState, number>;
    this.hits = Object.fromEntries(COVERAGE_STATES.map((s) => [s, 0])) as Record<CoverageState, number>;
  }

  add(run: CoverageCounts): void {
    for (const s of COVERAGE_STATES) {
      if (run[s] > 0) this.runs[s]++;
      this.hits[s] += run[s];
    }
  }

  /** States reached at least once. */
  get covered(): number {
    return COVERAGE_STATES.filter((s) => this.runs[s] > 0).length;
  }

  /** A short table: state, runs that reached it, total hits. */
  table(): string {
    const width = Math.max(...COVERAGE_STATES.map((s) => s.length));
    const lines = [`${'state'.padEnd(width)}  ${'runs'.padStart(7)}  ${'hits'.padStart(9)}`];
    for (const s of COVERAGE_STATES) lines.push(`${s.padEnd(width)}  ${String(this.runs[s]).padStart(7)}  ${String(this.hits[s]).padStart(9)}`);
    return lines.join('\n');
  }
}
