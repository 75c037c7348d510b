// Majority math (paper §5.2, §5.3): the only place that knows what "a quorum" means.
// Learners never appear here: callers pass the voters only.

export type VoteResult = 'won' | 'lost' | 'pending';

export function quorumSize(voters: number): number {
  return Math.floor(voters / 2) + 1;
}

/** Outcome of an election given the answers so far (true = granted). */
export function voteResult(voters: readonly number[], votes: ReadonlyMap<number, boolean>): VoteResult {
  if (voters.length === 0) return 'lost';
  let granted = 0;
  let rejected = 0;
  for (const id of voters) {
    const v = votes.get(id);
    if (v === true) granted++;
    else if (v === false) rejected++;
  }
  const q = quorumSize(voters.length);
  if (granted >= q) return 'won';
  if (voters.length - rejected < q) return 'lost';
  return 'pending';
}

/** True when a majority of voters satisfy `active`. */
export function hasQuorum(voters: readonly number[], active: (id: number) => boolean): boolean {
  let n = 0;
  for (const id of voters) if (active(id)) n++;
  return voters.length > 0 && n >= quorumSize(voters.length);
}

/** The largest value that a majority of voters have reached: given each voter's match index,
 * the highest index replicated on a majority (the commit rule); given lease acknowledgement
 * ticks, the start of the lease. -Infinity when there are no voters. */
export function quorumMin(voters: readonly number[], value: (id: number) => number): number {
  if (voters.length === 0) return -Infinity;
  const values = voters.map(value).sort((a, b) => b - a);
  return values[quorumSize(voters.length) - 1]!;
}
