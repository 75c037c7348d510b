// Raft's safety properties (paper, Figure 3), checked by the simulator after every step,
// on plain data the harness hands in: roles and terms, durable logs, applied entries.
// Each check is incremental (it looks at what changed) so that it can run on every step.
//
// - Election safety: at most one leader per term, over the whole run.
// - Log matching: two durable logs holding an entry with the same index and term hold the
//   same entries up to it. Checked inductively: every (index, term) maps to one entry
//   payload and one predecessor term, across all logs and all time.
// - Leader completeness: a committed entry is in the log of every leader of a later term.
// - State machine safety: no two nodes apply different entries at one index.
// - Commit monotonicity: a node's commit index never decreases within one incarnation.
// - Durability before acting: a granted vote or a successful append ack is backed by the
//   sender's durable state at the moment it is sent.
// - Terms come from campaigns: a node persists a new term only once some node has persisted a
//   vote for itself in it (a candidate); pre-votes never raise a term (thesis 9.6).
// - Apply after commit: a node applies an entry only at or below the commit index its core
//   had when it gave the entry out (not necessarily durable: a commit index alone is written
//   with the next write, and a crash may lose it; the entry is committed all the same).
// - One membership change at a time (thesis 4.1): a leader appends a conf entry only when
//   every earlier conf entry in its log is committed (its commit index covers them).

import type { Entry, HardState, Message } from '../raft/types.ts';
import type { SimDisk } from './disk.ts';
import { sameBytes } from './kv.ts';

export class InvariantViolation extends Error {
  constructor(
    readonly invariant: string,
    detail: string,
  ) {
    super(`invariant violated: ${invariant}: ${detail}`);
    this.name = 'InvariantViolation';
  }
}

interface LogSlot {
  readonly entry: Entry;
  readonly prevTerm: number;
  readonly node: number;
}

interface Committed {
  readonly entry: Entry;
  readonly node: number;
  /** The term in which the entry was committed, C (Figure 3 binds leaders of terms after C):
   * the lowest term of a leader whose commit index, observed after each of its ready() cycles,
   * covered the index; when no leader's advance was observed yet, at least C: the durable term
   * of the node that first reported it committed (it learned the commit from a leader of that
   * term or earlier, so that bound alone can exceed C and let leaders of terms between C and the
   * reporter's escape the check). An entry of an earlier term may commit indirectly in a much
   * later term, so the entry's own term is not C either. */
  readonly committedByTerm: number;
}

function sameEntry(a: Entry, b: Entry): boolean {
  return a.index === b.index && a.term === b.term && a.type === b.type && sameBytes(a.data, b.data);
}

function show(e: Entry): string {
  return `{index ${e.index}, term ${e.term}, ${e.type}, ${e.data.length} bytes}`;
}

export class InvariantChecker {
  /** term -> the node that led it. */
  private readonly leaders = new Map<number, number>();
  /** "index:term" -> the entry and its predecessor's term, as first seen in a durable log. */
  private readonly slots = new Map<string, LogSlot>();
  /** index -> the entry applied there (first node to apply it). */
  private readonly committed = new Map<number, Committed>();
  /** node -> [incarnation, last commit index seen]. */
  private readonly commits = new Map<number, { incarnation: number; commit: number }>();
  /** node -> last durable hard state. */
  private readonly hardStates = new Map<number, HardState>();
  /** Terms in which some node persisted a vote for itself (campaigned). */
  private readonly campaignTerms = new Set<number>();
  private highestCommitted = 0;
  checks = 0;

  get leaderTerms(): number {
    return this.leaders.size;
  }

  get committedCount(): number {
    return this.committed.size;
  }

  /** Election safety. Call for every live node after every step. */
  observeRole(node: number, role: string, term: number): void {
    this.checks++;
    if (role !== 'leader') return;
    const prev = this.leaders.get(term);
    if (prev === undefined) this.leaders.set(term, node);
    else if (prev !== node) {
      throw new InvariantViolation('election safety', `nodes ${prev} and ${node} were both leader in term ${term}`);
    }
  }

  /** Durable hard state: term never decreases, a vote is never changed within a term. */
  observeHardState(node: number, hs: HardState): void {
    this.checks++;
    const prev = this.hardStates.get(node);
    if (hs.vote === node) this.campaignTerms.add(hs.term);
    else if (hs.term > (prev?.term ?? 0) && !this.campaignTerms.has(hs.term)) {
      // Every term starts with a candidate, which persists its own vote before asking for
      // others' (sent only after that write): a node that reaches a term nobody campaigned in
      // took it from a message that is no campaign, such as a pre-vote.
      throw new InvariantViolation(
        'terms come from campaigns',
        `node ${node} persisted term ${hs.term} (vote ${hs.vote}) before any node campaigned in it`,
      );
    }
    if (prev !== undefined) {
      if (hs.term < prev.term) {
        throw new InvariantViolation('durable term', `node ${node} persisted term ${hs.term} after ${prev.term}`);
      }
      if (hs.term === prev.term && prev.vote !== 0 && hs.vote !== prev.vote) {
        throw new InvariantViolation('one vote per term', `node ${node} changed its durable vote in term ${hs.term} from ${prev.vote} to ${hs.vote}`);
      }
    }
    this.hardStates.set(node, hs);
  }

  /** Log matching, for the entries a node just made durable (`from` = first new index). */
  observeDurableEntries(node: number, disk: SimDisk, from: number): void {
    for (let i = Math.max(from, disk.snapshotIndex + 1); i <= disk.lastIndex; i++) {
      this.checks++;
      const entry = disk.entryAt(i)!;
      if (entry.type === 'conf' && this.leaders.get(entry.term) === node) this.checkOneConfChange(node, disk, entry);
      const prevTerm = disk.termAt(i - 1);
      if (prevTerm === undefined) throw new Error(`sim: disk of node ${node} has a hole before ${i}`);
      const key = `${entry.index}:${entry.term}`;
      const slot = this.slots.get(key);
      if (slot === undefined) {
        this.slots.set(key, { entry, prevTerm, node });
        continue;
      }
      if (!sameEntry(slot.entry, entry)) {
        throw new InvariantViolation(
          'log matching',
          `index ${entry.index} term ${entry.term}: node ${slot.node} holds ${show(slot.entry)}, node ${node} holds ${show(entry)}`,
        );
      }
      if (slot.prevTerm !== prevTerm) {
        throw new InvariantViolation(
          'log matching',
          `entry at index ${entry.index} term ${entry.term} follows term ${slot.prevTerm} on node ${slot.node} but term ${prevTerm} on node ${node}`,
        );
      }
    }
  }

  /** One membership change at a time: `node` led entry.term, so it appended this conf entry;
   * it may do so only once the previous conf entry in its log is committed (its commit index,
   * as last observed, covers it; one compacted away is committed). */
  private checkOneConfChange(node: number, disk: SimDisk, entry: Entry): void {
    const commit = this.commits.get(node)?.commit ?? 0;
    for (let i = entry.index - 1; i > Math.max(commit, disk.snapshotIndex); i--) {
      if (disk.entryAt(i)?.type !== 'conf') continue;
      throw new InvariantViolation(
        'one membership change at a time',
        `node ${node}, leader of term ${entry.term}, appended conf entry ${entry.index} while conf entry ${i} was uncommitted (its commit index ${commit})`,
      );
    }
  }

  /** Commit index a leader reached in each term (only raised). */
  private readonly leaderCommitByTerm = new Map<number, number>();

  /** A node leading `term` has commit index `commit` (after one of its ready() cycles). */
  observeLeaderCommit(term: number, commit: number): void {
    if (commit > (this.leaderCommitByTerm.get(term) ?? 0)) this.leaderCommitByTerm.set(term, commit);
    if (commit > this.highestLeaderCommit) this.highestLeaderCommit = commit;
  }

  /** The highest commit index any leader reached (the max of leaderCommitByTerm). */
  private highestLeaderCommit = 0;

  /** The lowest term whose leader's commit index covers `index` (Infinity when none yet). */
  private commitTerm(index: number): number {
    let lowest = Infinity;
    for (const [term, commit] of this.leaderCommitByTerm) if (commit >= index && term < lowest) lowest = term;
    return lowest;
  }

  /** An entry at or below a node's commit index, in its durable log: committed. Two nodes
   * must never consider different entries committed at one index. Returns true when new. */
  observeCommitted(node: number, entry: Entry): boolean {
    this.checkLeaderCommitted(node, entry, 'considers committed');
    return this.record(node, entry, 'commit safety', 'considers committed');
  }

  /** Committed means a leader committed it: a node's commit index (and so what it applies)
   * never runs past the highest commit index a leader has reached. A node that looked only
   * at itself could advance its commit index past the leader's (Figure 2 AppendEntries step
   * 5: min(leaderCommit, index of last new entry)) and the check above would agree with it. */
  private checkLeaderCommitted(node: number, entry: Entry, verb: string): void {
    this.checks++;
    if (entry.index <= this.highestLeaderCommit) return;
    throw new InvariantViolation(
      'committed by a leader',
      `node ${node} ${verb} ${show(entry)}, past every leader's commit index (highest ${this.highestLeaderCommit})`,
    );
  }

  /** State machine safety. Returns true when this index was not known committed before.
   * `commit`: the node's commit index when its core gave the entry out, which must cover it. */
  observeApplied(node: number, entry: Entry, commit: number): boolean {
    if (entry.index > commit) {
      throw new InvariantViolation('apply after commit', `node ${node} applied entry ${show(entry)} with commit index ${commit}`);
    }
    this.checkLeaderCommitted(node, entry, 'applied');
    return this.record(node, entry, 'state machine safety', 'applied');
  }

  private record(node: number, entry: Entry, invariant: string, verb: string): boolean {
    this.checks++;
    const prev = this.committed.get(entry.index);
    if (prev === undefined) {
      const reporterBound = Math.max(entry.term, this.hardStates.get(node)?.term ?? 0);
      const committedByTerm = Math.min(reporterBound, this.commitTerm(entry.index));
      this.committed.set(entry.index, { entry, node, committedByTerm });
      if (entry.index > this.highestCommitted) this.highestCommitted = entry.index;
      return true;
    }
    if (!sameEntry(prev.entry, entry)) {
      throw new InvariantViolation(
        invariant,
        `index ${entry.index}: node ${prev.node} committed or applied ${show(prev.entry)}, node ${node} ${verb} ${show(entry)}`,
      );
    }
    return false;
  }

  /** A node installed a snapshot up to (index, term): the entry there must be the committed one. */
  observeSnapshotApplied(node: number, index: number, term: number): void {
    this.checks++;
    const prev = this.committed.get(index);
    if (prev !== undefined && prev.entry.term !== term) {
      throw new InvariantViolation(
        'state machine safety',
        `node ${node} installed a snapshot at index ${index} term ${term}, but node ${prev.node} applied term ${prev.entry.term} there`,
      );
    }
  }

  /** Leader completeness: `node` leads `term` and `disk` is its durable log (which, right
   * after its ready() was persisted, is its whole log). Every entry committed in an earlier
   * term must be in it (or covered by its snapshot). */
  observeLeaderLog(node: number, term: number, disk: SimDisk): void {
    for (const [index, c] of this.committed) {
      this.checks++;
      // Leaders of terms after the one the entry committed in (Figure 3): a stale leader of an
      // earlier term (still leading without check-quorum) may lack an entry a later term committed.
      if (c.committedByTerm >= term || index <= disk.snapshotIndex) continue;
      const held = disk.entryAt(index);
      if (held === undefined || !sameEntry(held, c.entry)) {
        throw new InvariantViolation(
          'leader completeness',
          `node ${node}, leader of term ${term}, lacks committed entry ${show(c.entry)} (applied by node ${c.node}); it holds ${held === undefined ? 'nothing' : show(held)} at index ${index}`,
        );
      }
    }
  }

  /** Leader completeness for one newly committed entry against a current leader of a later term. */
  checkLeaderHolds(node: number, term: number, disk: SimDisk, entry: Entry): void {
    this.checks++;
    const committedByTerm = this.committed.get(entry.index)?.committedByTerm ?? entry.term;
    if (committedByTerm >= term || entry.index <= disk.snapshotIndex) return;
    const held = disk.entryAt(entry.index);
    if (held === undefined || !sameEntry(held, entry)) {
      throw new InvariantViolation(
        'leader completeness',
        `entry ${show(entry)} committed while node ${node} leads term ${term} without it (holds ${held === undefined ? 'nothing' : show(held)})`,
      );
    }
  }

  /** Commit monotonicity within one incarnation of a node. */
  observeCommit(node: number, incarnation: number, commit: number): void {
    this.checks++;
    const prev = this.commits.get(node);
    if (prev !== undefined && prev.incarnation === incarnation && commit < prev.commit) {
      throw new InvariantViolation('commit monotonicity', `node ${node} commit index went from ${prev.commit} back to ${commit} without a restart`);
    }
    this.commits.set(node, { incarnation, commit });
  }

  /** Durability before acting: checked for each message at the moment it is sent. */
  observeSend(message: Message, disk: SimDisk): void {
    this.checks++;
    const hs = disk.hardState;
    switch (message.type) {
      case 'RequestVoteResponse':
        if (message.granted && (hs.term !== message.term || hs.vote !== message.to)) {
          throw new InvariantViolation(
            'vote durable before sent',
            `node ${message.from} granted its term-${message.term} vote to ${message.to} with durable term ${hs.term} vote ${hs.vote}`,
          );
        }
        break;
      case 'AppendEntriesResponse':
        if (message.success) {
          const m = message.matchIndex;
          if (m > disk.lastIndex) {
            throw new InvariantViolation(
              'entries durable before ack',
              `node ${message.from} acked match index ${m} to ${message.to} in term ${message.term} with durable last index ${disk.lastIndex}`,
            );
          }
        }
        break;
      default:
        break;
    }
    if (message.term > hs.term && message.type !== 'PreVote' && message.type !== 'PreVoteResponse') {
      throw new InvariantViolation(
        'term durable before sent',
        `node ${message.from} sent ${message.type} in term ${message.term} with durable term ${hs.term}`,
      );
    }
  }

  /** Highest index known committed (applied somewhere). */
  get maxCommitted(): number {
    return this.highestCommitted;
  }
}
