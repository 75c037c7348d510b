// A node's Raft metrics and cluster events, measured where things happen: the Ready loop
// hands each Ready's soft state, appended and committed indexes here (one call per cycle,
// nothing per write beyond a counter), the apply counts operations, the snapshot code and
// the membership change report theirs. Rates, CPU and the members' reachability are sampled
// once a second by one timer. GET /cluster/metrics and /metrics read raftMetrics().
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import { LATENCY_BUCKET_BOUNDS_MS, type LatencyBuckets } from '../log/latency-buckets.ts';
import type { LogStats } from '../log/types.ts';
import type { Ready } from '../raft/types.ts';
import type { MemberStatus, NodeStatus } from './backend.ts';
import { ClusterEvents } from './cluster-events.ts';
import { CommitTimes, connectivityChanges, ElectionTracker, memberChanges, RateWindow } from './raft-metrics.ts';

/** Interval of the sampler (throughput, CPU, members' reachability). */
export const METRICS_SAMPLE_MS = 1_000;
/** Throughput is the rate over the last 10 s: 11 samples a second apart. */
const THROUGHPUT_SAMPLES = 11;

/** A latency histogram in JSON: the count, mean and bucket estimates, in ms. */
export interface LatencySummary {
  readonly count: number;
  readonly mean_ms: number | null;
  /** Upper bound of the bucket holding the median / 99th percentile (an estimate). */
  readonly p50_ms: number | null;
  readonly p99_ms: number | null;
}

export interface FollowerLag {
  readonly node: number;
  readonly entries: number;
  readonly ms: number;
}

/** GET /cluster/metrics: the seed's RaftMetrics and more, as this node sees them. */
export interface RaftMetrics {
  readonly node_id: number;
  readonly role: NodeStatus['role'];
  readonly current_term: number;
  /** The leader's id, null when none is known. */
  readonly current_leader: number | null;
  /** Voters and learners in the configuration. */
  readonly cluster_size: number;
  /** Members this node is connected to, itself included. */
  readonly healthy_nodes: number;
  /** Leader: moving average of the time from appending a batch to knowing it committed; null elsewhere or before any. */
  readonly commit_latency_ms: number | null;
  readonly commit_latency: LatencySummary;
  /** Leader: per follower, how far behind in ms (the age of the oldest entry it lacks); {} elsewhere. */
  readonly replication_lag_ms: Readonly<Record<string, number>>;
  /** Leader: per follower, in entries and in ms. */
  readonly replication_lag: readonly FollowerLag[];
  /** Operations applied per second over the last 10 s (each document of a batched insert counts). */
  readonly throughput_ops_per_sec: number;
  /** Leaders elected that this node learned of, one per term, since it started. */
  readonly election_count: number;
  /** Terms this node saw begin since it started. */
  readonly elections_started: number;
  /** election_count / elections_started (null before any). */
  readonly election_success_rate: number | null;
  /** How long this node was without a leader before the last one (null: unknown). */
  readonly last_election_duration_ms: number | null;
  readonly average_election_duration_ms: number | null;
  /** ms since this node learned the current leader's election (null: none yet). */
  readonly time_since_last_election_ms: number | null;
  /** Entries in the log (those after the snapshot). */
  readonly log_size_entries: number;
  readonly last_applied_index: number;
  readonly commit_index: number;
  readonly last_log_index: number;
  /** Segment files on disk (preallocation included); 0 for a log in memory. */
  readonly log_bytes_on_disk: number;
  readonly snapshot_index: number;
  readonly snapshot_bytes: number;
  /** ms since this process took or installed the snapshot; null when it has not (one found at start is older). */
  readonly snapshot_age_ms: number | null;
  /** Time each log write batch took to become durable (the fsync). */
  readonly log_sync_latency: LatencySummary;
  /** CPU time of the process over the last second, in % of one core. */
  readonly process_cpu_percent: number;
  readonly process_resident_memory_bytes: number;
  readonly process_heap_used_bytes: number;
}

/** What NodeMetrics reads from its node. */
export interface NodeMetricsHost {
  readonly nodeId: number;
  readonly logger: Logger;
  /** The node's status now (members, indexes); may throw while the node stops. */
  status(): NodeStatus;
  currentTerm(): number;
}

/** What raftMetrics() needs besides what NodeMetrics measures. */
export interface RaftMetricsSources {
  readonly status: NodeStatus;
  readonly firstIndex: number;
  readonly lastIndex: number;
  readonly logStats: LogStats | undefined;
}

function summary(latency: { count: number; sumMs: number; quantileMs(q: number): number | null }): LatencySummary {
  // Past the last bound the estimate is "more than it": the last bound is reported.
  const finite = (v: number | null): number | null => (v === Infinity ? LATENCY_BUCKET_BOUNDS_MS[LATENCY_BUCKET_BOUNDS_MS.length - 1]! : v);
  return {
    count: latency.count,
    mean_ms: latency.count === 0 ? null : latency.sumMs / latency.count,
    p50_ms: finite(latency.quantileMs(0.5)),
    p99_ms: finite(latency.quantileMs(0.99)),
  };
}

export class NodeMetrics {
  readonly events: ClusterEvents;
  readonly elections: ElectionTracker;
  readonly commits = new CommitTimes();
  /** Operations applied (a batched insert counts each document); read by the sampler. */
  opsApplied = 0;
  private readonly throughput = new RateWindow(THROUGHPUT_SAMPLES);
  private wasLeader = false;
  private members: readonly MemberStatus[] | null = null;
  private connected = new Map<number, boolean>();
  private snapshotAtMs: number | null = null;
  private cpuPercent = 0;
  private cpuMark = process.cpuUsage();
  private cpuMarkAtMs = performance.now();
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly host: NodeMetricsHost) {
    this.events = new ClusterEvents(host.nodeId, host.logger);
    this.elections = new ElectionTracker(host.currentTerm(), performance.now());
  }

  /** Starts the sampler; the members known now are the baseline of member events. */
  start(): void {
    this.baseline();
    this.throughput.sample(this.opsApplied, performance.now());
    this.timer = setInterval(() => this.sample(), METRICS_SAMPLE_MS);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  /** One call per Ready cycle, as it starts. */
  ready(rd: Ready, term: number): void {
    const now = performance.now();
    const leading = rd.softState.role === 'leader';
    if (leading) {
      if (rd.entries.length > 0) this.commits.appended(rd.entries[rd.entries.length - 1]!.index, now);
      if (rd.hardState !== null) this.commits.committed(rd.hardState.commit, now);
    } else if (this.wasLeader) {
      this.commits.reset();
    }
    this.wasLeader = leading;
    const change = this.elections.observe(term, rd.softState.leader, now);
    if (change === null) return;
    if (change.kind === 'elected') {
      const duration = change.durationMs === null ? null : Math.round(change.durationMs);
      this.events.emit({ type: 'leader_elected', leader: change.leader, election_duration_ms: duration }, change.term);
    } else {
      this.events.emit({ type: 'leader_lost', leader: change.leader }, change.term);
    }
  }

  /** A configuration entry was applied: events for the members it changed. */
  confApplied(): void {
    const before = this.members;
    const after = this.safeStatus()?.members;
    if (after === undefined) return;
    this.members = after;
    for (const m of after) if (!this.connected.has(m.id)) this.connected.set(m.id, m.connected);
    if (before === null) return;
    for (const change of memberChanges(before, after)) this.events.emit(change, this.host.currentTerm());
  }

  snapshotTaken(index: number, bytes: number): void {
    this.snapshotAtMs = performance.now();
    this.events.emit({ type: 'snapshot_taken', index, bytes }, this.host.currentTerm());
  }

  snapshotInstalled(index: number): void {
    this.snapshotAtMs = performance.now();
    this.events.emit({ type: 'snapshot_installed', index }, this.host.currentTerm());
  }

  /** Once a second: throughput, CPU, and which members this node reaches. */
  sample(): void {
    const now = performance.now();
    this.throughput.sample(this.opsApplied, now);
    const cpu = process.cpuUsage(this.cpuMark);
    const elapsedMs = now - this.cpuMarkAtMs;
    if (elapsedMs > 0) this.cpuPercent = ((cpu.user + cpu.system) / 1000 / elapsedMs) * 100;
    this.cpuMark = process.cpuUsage();
    this.cpuMarkAtMs = now;
    const status = this.safeStatus();
    if (status === null) return;
    const { joined, left } = connectivityChanges(this.connected, status.members);
    this.connected = new Map(status.members.map((m) => [m.id, m.connected]));
    const term = this.host.currentTerm();
    for (const member of joined) this.events.emit({ type: 'node_joined', member }, term);
    for (const member of left) this.events.emit({ type: 'node_left', member }, term);
  }

  raftMetrics(sources: RaftMetricsSources): RaftMetrics {
    const now = performance.now();
    const { status, logStats } = sources;
    const leading = status.role === 'leader';
    const lags: FollowerLag[] = [];
    if (leading) {
      for (const m of status.members) {
        if (m.id === status.nodeId) continue;
        lags.push({ node: m.id, entries: m.lag, ms: Math.round(this.commits.lagMs(m.matchIndex, now)) });
      }
    }
    const memory = process.memoryUsage();
    const elected = this.elections.lastElectedAt;
    return {
      node_id: status.nodeId,
      role: status.role,
      current_term: status.term,
      current_leader: status.leader === null ? null : status.leader.id,
      cluster_size: status.members.length,
      healthy_nodes: status.members.filter((m) => m.connected).length,
      commit_latency_ms: leading ? this.commits.averageLatencyMs : null,
      commit_latency: summary(this.commits.latency),
      replication_lag_ms: Object.fromEntries(lags.map((l) => [String(l.node), l.ms])),
      replication_lag: lags,
      throughput_ops_per_sec: this.throughput.perSecond(),
      election_count: this.elections.electionCount,
      elections_started: this.elections.electionsStarted,
      election_success_rate: this.elections.successRate,
      last_election_duration_ms: this.elections.lastDuration,
      average_election_duration_ms: this.elections.averageDurationMs,
      time_since_last_election_ms: elected === null || status.leader === null ? null : Math.round(now - elected),
      log_size_entries: Math.max(0, sources.lastIndex - sources.firstIndex + 1),
      last_applied_index: status.appliedIndex,
      commit_index: status.commitIndex,
      last_log_index: status.lastLogIndex,
      log_bytes_on_disk: logStats?.segmentBytes ?? 0,
      snapshot_index: status.snapshotIndex,
      snapshot_bytes: logStats?.snapshotBytes ?? 0,
      snapshot_age_ms: this.snapshotAtMs === null ? null : Math.round(now - this.snapshotAtMs),
      log_sync_latency: logStats === undefined ? summary({ count: 0, sumMs: 0, quantileMs: () => null }) : summary(logStats.syncLatency),
      process_cpu_percent: this.cpuPercent,
      process_resident_memory_bytes: memory.rss,
      process_heap_used_bytes: memory.heapUsed,
    };
  }

  private baseline(): void {
    const status = this.safeStatus();
    if (status === null) return;
    this.members = status.members;
    this.connected = new Map(status.members.map((m) => [m.id, m.connected]));
  }

  private safeStatus(): NodeStatus | null {
    try {
      return this.host.status();
    } catch {
      return null; // stopping: nothing to compare
    }
  }
}

/** What a backend hands the server: the metrics, and the histograms behind two of them. */
export interface RaftMetricsReport {
  readonly metrics: RaftMetrics;
  /** The leader's commit latency (GET /metrics exports its buckets). */
  readonly commitLatency: LatencyBuckets;
  /** The log's fsync latency; null for a log in memory. */
  readonly logSyncLatency: LatencyBuckets | null;
}
