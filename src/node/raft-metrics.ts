// The computations behind a node's Raft metrics, with time passed in (testable without a
// clock): elections as this node sees them, the leader's commit latency and its followers'
// lag in milliseconds, and rates over a sliding window. None allocates per write: the
// leader records one (index, time) pair per log append batch in preallocated arrays.
import { LatencyBuckets } from '../log/latency-buckets.ts';
import type { MemberStatus } from './backend.ts';

/** What an ElectionTracker reports about a change of leader. */
export interface LeaderChange {
  readonly kind: 'elected' | 'lost';
  readonly term: number;
  /** elected: the new leader; lost: the one lost. */
  readonly leader: number;
  /** elected: ms this node spent without a leader before it (null: it saw no gap). */
  readonly durationMs: number | null;
}

/**
 * Elections as one node sees them. An election's duration is the time this node spent
 * without a leader (from its election timeout, or its start, to learning the new leader);
 * the time to notice a dead leader (up to an election timeout) comes before it. A term is
 * counted as started when the node first sees it; it succeeded when the node learned a
 * leader for it, so the success rate is the share of terms seen that got a leader.
 */
export class ElectionTracker {
  private term: number;
  private leader = 0;
  private leaderlessSinceMs: number | null;
  private lastLeaderTerm = -1;
  private termsStarted = 0;
  private initialTermCounted = false;
  private readonly initialTerm: number;
  private elected = 0;
  private durationsMs = 0;
  private timedElections = 0;
  private lastDurationMs: number | null = null;
  private lastElectedAtMs: number | null = null;

  constructor(term: number, startedAtMs: number) {
    this.term = term;
    this.initialTerm = term;
    this.leaderlessSinceMs = startedAtMs;
  }

  /** The node's soft state after a Ready: returns the change of leader, if any. */
  observe(term: number, leader: number, nowMs: number): LeaderChange | null {
    if (term > this.term) {
      this.termsStarted += term - this.term;
      this.term = term;
    }
    if (leader === this.leader) return null;
    const previous = this.leader;
    this.leader = leader;
    if (leader === 0) {
      this.leaderlessSinceMs = nowMs;
      return { kind: 'lost', term, leader: previous, durationMs: null };
    }
    const durationMs = this.leaderlessSinceMs === null ? null : nowMs - this.leaderlessSinceMs;
    this.leaderlessSinceMs = null;
    if (term !== this.lastLeaderTerm) {
      this.lastLeaderTerm = term;
      // A leader of the term the node started in: that term had an election too.
      if (term === this.initialTerm && !this.initialTermCounted) {
        this.initialTermCounted = true;
        this.termsStarted++;
      }
      this.elected++;
      this.lastElectedAtMs = nowMs;
      this.lastDurationMs = durationMs;
      if (durationMs !== null) {
        this.durationsMs += durationMs;
        this.timedElections++;
      }
    }
    return { kind: 'elected', term, leader, durationMs };
  }

  /** Leaders elected that this node learned of (one per term). */
  get electionCount(): number {
    return this.elected;
  }

  /** Terms this node saw begin (each began with an election somewhere). */
  get electionsStarted(): number {
    return this.termsStarted;
  }

  /** Share of the terms seen that got a leader, 0..1; null before any term was seen. */
  get successRate(): number | null {
    return this.termsStarted === 0 ? null : Math.min(1, this.elected / this.termsStarted);
  }

  get lastDuration(): number | null {
    return this.lastDurationMs;
  }

  get averageDurationMs(): number | null {
    return this.timedElections === 0 ? null : this.durationsMs / this.timedElections;
  }

  get lastElectedAt(): number | null {
    return this.lastElectedAtMs;
  }
}

/** Append batches the leader remembers (index and time): a ring, overwritten when full. */
export const APPEND_TIMES_MAX = 4096;

/**
 * The leader's commit latency and its followers' lag in time. Each append batch of the
 * leader is recorded as (last index, time); when the commit index passes it, the time since
 * is one observation of the commit latency (append to known-committed on a majority). A
 * follower whose match index is m is as far behind as the oldest batch above m is old.
 */
export class CommitTimes {
  private readonly indexes = new Float64Array(APPEND_TIMES_MAX);
  private readonly timesMs = new Float64Array(APPEND_TIMES_MAX);
  /** Records are in [oldest, end) modulo the ring size; [uncommitted, end) not yet committed. */
  private oldest = 0;
  private uncommitted = 0;
  private end = 0;
  readonly latency = new LatencyBuckets();
  /** The latest observation, and a moving average (weight 0.2 per observation). */
  private lastMs: number | null = null;
  private averageMs: number | null = null;

  /** The leader appended entries up to `lastIndex` at `nowMs`. */
  appended(lastIndex: number, nowMs: number): void {
    if (this.end > this.oldest && this.indexes[(this.end - 1) % APPEND_TIMES_MAX]! >= lastIndex) return;
    if (this.end - this.oldest === APPEND_TIMES_MAX) {
      this.oldest++;
      if (this.uncommitted < this.oldest) this.uncommitted = this.oldest;
    }
    const slot = this.end % APPEND_TIMES_MAX;
    this.indexes[slot] = lastIndex;
    this.timesMs[slot] = nowMs;
    this.end++;
  }

  /** The leader knows entries up to `commitIndex` committed at `nowMs`. */
  committed(commitIndex: number, nowMs: number): void {
    while (this.uncommitted < this.end && this.indexes[this.uncommitted % APPEND_TIMES_MAX]! <= commitIndex) {
      const ms = nowMs - this.timesMs[this.uncommitted % APPEND_TIMES_MAX]!;
      this.latency.observe(ms);
      this.lastMs = ms;
      this.averageMs = this.averageMs === null ? ms : this.averageMs + 0.2 * (ms - this.averageMs);
      this.uncommitted++;
    }
  }

  /** No longer leader: what it appended is no longer its to time. */
  reset(): void {
    this.oldest = this.uncommitted = this.end = 0;
  }

  /** ms a member with `matchIndex` is behind: the age of the oldest batch above it (0 when it
   * has everything recorded; at least the age of the oldest record when older ones are gone). */
  lagMs(matchIndex: number, nowMs: number): number {
    if (this.end === this.oldest || this.indexes[(this.end - 1) % APPEND_TIMES_MAX]! <= matchIndex) return 0;
    for (let i = this.oldest; i < this.end; i++) {
      if (this.indexes[i % APPEND_TIMES_MAX]! > matchIndex) return Math.max(0, nowMs - this.timesMs[i % APPEND_TIMES_MAX]!);
    }
    return 0;
  }

  get lastLatencyMs(): number | null {
    return this.lastMs;
  }

  get averageLatencyMs(): number | null {
    return this.averageMs;
  }
}

/** Samples of a growing count over a sliding window: its rate per second. */
export class RateWindow {
  private readonly counts: number[] = [];
  private readonly timesMs: number[] = [];

  constructor(private readonly samplesMax: number) {}

  sample(count: number, nowMs: number): void {
    this.counts.push(count);
    this.timesMs.push(nowMs);
    if (this.counts.length > this.samplesMax) {
      this.counts.shift();
      this.timesMs.shift();
    }
  }

  /** Per second between the oldest and newest sample; 0 with fewer than two. */
  perSecond(): number {
    const n = this.counts.length;
    if (n < 2) return 0;
    const seconds = (this.timesMs[n - 1]! - this.timesMs[0]!) / 1000;
    const delta = this.counts[n - 1]! - this.counts[0]!;
    return seconds > 0 && delta > 0 ? delta / seconds : 0;
  }
}

/** A change between two member lists, as cluster events name them. */
export type MemberChange =
  | { readonly type: 'member_added'; readonly member: number; readonly url: string; readonly voter: boolean }
  | { readonly type: 'member_removed'; readonly member: number }
  | { readonly type: 'member_promoted'; readonly member: number }
  | { readonly type: 'member_address_changed'; readonly member: number; readonly url: string; readonly previous_url: string };

export function memberChanges(before: readonly MemberStatus[], after: readonly MemberStatus[]): MemberChange[] {
  const changes: MemberChange[] = [];
  const old = new Map(before.map((m) => [m.id, m]));
  for (const m of after) {
    const was = old.get(m.id);
    if (was === undefined) changes.push({ type: 'member_added', member: m.id, url: m.url, voter: m.voter });
    else {
      if (!was.voter && m.voter) changes.push({ type: 'member_promoted', member: m.id });
      // An address learned (none known before) is no change.
      if (was.url !== m.url && m.url !== '' && was.url !== '')
        changes.push({ type: 'member_address_changed', member: m.id, url: m.url, previous_url: was.url });
    }
  }
  const now = new Set(after.map((m) => m.id));
  for (const m of before) if (!now.has(m.id)) changes.push({ type: 'member_removed', member: m.id });
  return changes;
}

/** Members that became reachable (joined) or unreachable (left) from this node. */
export function connectivityChanges(before: ReadonlyMap<number, boolean>, after: readonly MemberStatus[]): { joined: number[]; left: number[] } {
  const joined: number[] = [];
  const left: number[] = [];
  for (const m of after) {
    const was = before.get(m.id);
    if (was === undefined) continue; // a new member: member_added says it
    if (!was && m.connected) joined.push(m.id);
    if (was && !m.connected) left.push(m.id);
  }
  return { joined, left };
}
