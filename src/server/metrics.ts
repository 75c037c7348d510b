// Prometheus metrics of one server. Each server has its own Registry (tests and
// the local `cluster` command run many servers in one process), holding HTTP
// request counts and latencies by route and status, and gauges read from the
// backend's status and Raft metrics at scrape time (issue #13: every field of GET
// /cluster/metrics has a series here; docs/operations.md, Monitoring, lists them).
// Histograms measured below (the log's fsync, the leader's commit latency) are kept
// there as bucket counts and exported as they are (ExportedHistogram).
import type { FastifyInstance } from 'fastify';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { LatencyBuckets } from '../log/latency-buckets.ts';
import type { DatabaseBackend } from '../node/backend.ts';
import type { RaftMetrics } from '../node/node-metrics.ts';

const PREFIX = 'collection_store_';
/** Label for requests that matched no route, so unknown paths cannot grow label sets. */
const UNMATCHED_ROUTE = 'unmatched';

type ExportedValue = { value: number; labels: Partial<Record<'le', string | number>>; metricName?: string };

/** A histogram whose buckets are counted elsewhere (a LatencyBuckets in ms), exported in seconds. */
class ExportedHistogram extends Histogram {
  private source: LatencyBuckets | null = null;
  private readonly metricName: string;
  private readonly helpText: string;

  constructor(name: string, help: string, registry: Registry) {
    super({ name, help, registers: [registry] });
    this.metricName = name;
    this.helpText = help;
  }

  use(source: LatencyBuckets | null): void {
    this.source = source;
  }

  /** prom-client's registry formats the text from this (and get() builds on it). */
  async getForPromString(): Promise<{ name: string; help: string; type: string; values: ExportedValue[]; aggregator: string }> {
    return { name: this.metricName, help: this.helpText, type: 'histogram', values: this.exported(), aggregator: 'sum' };
  }

  private exported(): ExportedValue[] {
    const source = this.source;
    if (source === null) return [];
    const values: ExportedValue[] = [];
    const cumulative = source.cumulative();
    cumulative.forEach((value, i) => {
      const bound = source.boundsMs[i];
      values.push({ metricName: `${this.metricName}_bucket`, labels: { le: bound === undefined ? '+Inf' : bound / 1000 }, value });
    });
    values.push({ metricName: `${this.metricName}_sum`, labels: {}, value: source.sumMs / 1000 });
    values.push({ metricName: `${this.metricName}_count`, labels: {}, value: source.count });
    return values;
  }
}

/** null (unknown) is exported as NaN, which Prometheus stores and alert rules skip. */
function known(value: number | null): number {
  return value === null ? NaN : value;
}

export class ServerMetrics {
  readonly registry = new Registry();
  private readonly requests: Counter<'method' | 'route' | 'status'>;
  private readonly latency: Histogram<'method' | 'route' | 'status'>;
  private readonly term: Gauge;
  private readonly commitIndex: Gauge;
  private readonly appliedIndex: Gauge;
  private readonly lastLogIndex: Gauge;
  private readonly snapshotIndex: Gauge;
  private readonly isLeader: Gauge;
  private readonly memberLag: Gauge<'member'>;
  private readonly memberMatchIndex: Gauge<'member'>;
  private readonly changeStreams: Gauge;
  // Raft metrics (GET /cluster/metrics has the same, in JSON):
  private readonly leaderId: Gauge;
  private readonly clusterSize: Gauge;
  private readonly healthyNodes: Gauge;
  private readonly commitLatencyAverage: Gauge;
  private readonly commitLatency: ExportedHistogram;
  private readonly lagSeconds: Gauge<'member'>;
  private readonly throughput: Gauge;
  private readonly elections: Gauge;
  private readonly electionsStarted: Gauge;
  private readonly electionSuccess: Gauge;
  private readonly electionLast: Gauge;
  private readonly electionAverage: Gauge;
  private readonly sinceElection: Gauge;
  private readonly logEntries: Gauge;
  private readonly logBytes: Gauge;
  private readonly snapshotBytes: Gauge;
  private readonly snapshotAge: Gauge;
  private readonly logSync: ExportedHistogram;
  private readonly cpu: Gauge;
  private readonly rss: Gauge;
  private readonly heapUsed: Gauge;

  constructor(private readonly backend: DatabaseBackend) {
    const registers = [this.registry];
    this.requests = new Counter({
      name: `${PREFIX}http_requests_total`,
      help: 'HTTP requests by method, route and status',
      labelNames: ['method', 'route', 'status'],
      registers,
    });
    this.latency = new Histogram({
      name: `${PREFIX}http_request_duration_seconds`,
      help: 'HTTP request latency by method, route and status',
      labelNames: ['method', 'route', 'status'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    });
    const gauge = (name: string, help: string): Gauge => new Gauge({ name: `${PREFIX}${name}`, help, registers });
    this.term = gauge('raft_term', 'Current Raft term');
    this.commitIndex = gauge('raft_commit_index', 'Highest log index known committed');
    this.appliedIndex = gauge('raft_applied_index', 'Highest log index applied to the store');
    this.lastLogIndex = gauge('raft_last_log_index', 'Index of the last log entry');
    this.snapshotIndex = gauge('raft_snapshot_index', 'Log index of the latest snapshot');
    this.isLeader = gauge('raft_is_leader', '1 when this node is the leader, else 0');
    this.changeStreams = gauge('change_streams', 'Open _changes streams');
    this.memberLag = new Gauge({
      name: `${PREFIX}raft_member_lag`,
      help: "Entries a member is behind the leader's last index (leader's view)",
      labelNames: ['member'],
      registers,
    });
    this.memberMatchIndex = new Gauge({
      name: `${PREFIX}raft_member_match_index`,
      help: 'Highest log index known replicated on a member (leader view)',
      labelNames: ['member'],
      registers,
    });
    this.leaderId = gauge('raft_leader_id', 'Id of the leader this node knows (NaN: none)');
    this.clusterSize = gauge('raft_cluster_size', 'Members in the configuration (voters and learners)');
    this.healthyNodes = gauge('raft_healthy_nodes', 'Members this node is connected to, itself included');
    this.commitLatencyAverage = gauge(
      'raft_commit_latency_average_seconds',
      'Leader: moving average of the time from appending a batch to knowing it committed (NaN elsewhere)',
    );
    this.commitLatency = new ExportedHistogram(
      `${PREFIX}raft_commit_latency_seconds`,
      'Leader: time from appending a batch to knowing it committed on a majority',
      this.registry,
    );
    this.lagSeconds = new Gauge({
      name: `${PREFIX}raft_replication_lag_seconds`,
      help: 'Leader: how far a follower is behind in time (age of the oldest entry it lacks)',
      labelNames: ['member'],
      registers,
    });
    this.throughput = gauge('raft_throughput_ops_per_second', 'Operations applied per second over the last 10 s');
    this.elections = gauge('raft_elections', 'Leaders elected that this node learned of since it started (one per term)');
    this.electionsStarted = gauge('raft_elections_started', 'Terms this node saw begin since it started');
    this.electionSuccess = gauge('raft_election_success_ratio', 'Elections that got a leader over terms started (NaN before any)');
    this.electionLast = gauge('raft_last_election_duration_seconds', 'Time this node was without a leader before the current one (NaN: unknown)');
    this.electionAverage = gauge('raft_average_election_duration_seconds', 'Average time without a leader per election (NaN: none yet)');
    this.sinceElection = gauge('raft_seconds_since_last_election', 'Time since this node learned of the current leader (NaN: none)');
    this.logEntries = gauge('raft_log_entries', 'Entries in the log after the snapshot');
    this.logBytes = gauge('log_bytes_on_disk', 'Bytes of log segment files on disk (preallocation included)');
    this.snapshotBytes = gauge('snapshot_bytes', 'Size of the newest snapshot');
    this.snapshotAge = gauge('snapshot_age_seconds', 'Time since this process took or installed a snapshot (NaN: none since start)');
    this.logSync = new ExportedHistogram(
      `${PREFIX}log_sync_duration_seconds`,
      'Time each log write batch took to become durable (the fsync)',
      this.registry,
    );
    this.cpu = gauge('process_cpu_percent', 'CPU time of the process over the last second, in % of one core');
    this.rss = gauge('process_resident_memory_bytes', 'Resident memory of the process');
    this.heapUsed = gauge('process_heap_used_bytes', 'V8 heap in use');
  }

  observeRequest(method: string, route: string | undefined, status: number, seconds: number): void {
    const labels = { method, route: route ?? UNMATCHED_ROUTE, status: String(status) };
    this.requests.inc(labels);
    this.latency.observe(labels, seconds);
  }

  /** The Prometheus text, with gauges refreshed from the backend now. */
  async render(openChangeStreams: number): Promise<string> {
    const status = this.backend.status();
    this.term.set(status.term);
    this.commitIndex.set(status.commitIndex);
    this.appliedIndex.set(status.appliedIndex);
    this.lastLogIndex.set(status.lastLogIndex);
    this.snapshotIndex.set(status.snapshotIndex);
    this.isLeader.set(status.role === 'leader' ? 1 : 0);
    this.changeStreams.set(openChangeStreams);
    // Members come and go: rebuild the labelled gauges from the current list.
    this.memberLag.reset();
    this.memberMatchIndex.reset();
    for (const member of status.members) {
      this.memberLag.set({ member: String(member.id) }, member.lag);
      this.memberMatchIndex.set({ member: String(member.id) }, member.matchIndex);
    }
    const report = this.backend.raftMetrics?.() ?? null;
    if (report !== null) this.setRaft(report.metrics);
    this.commitLatency.use(report?.commitLatency ?? null);
    this.logSync.use(report?.logSyncLatency ?? null);
    return this.registry.metrics();
  }

  private setRaft(m: RaftMetrics): void {
    const seconds = (ms: number | null): number => (ms === null ? NaN : ms / 1000);
    this.leaderId.set(known(m.current_leader));
    this.clusterSize.set(m.cluster_size);
    this.healthyNodes.set(m.healthy_nodes);
    this.commitLatencyAverage.set(seconds(m.commit_latency_ms));
    this.lagSeconds.reset();
    for (const lag of m.replication_lag) this.lagSeconds.set({ member: String(lag.node) }, lag.ms / 1000);
    this.throughput.set(m.throughput_ops_per_sec);
    this.elections.set(m.election_count);
    this.electionsStarted.set(m.elections_started);
    this.electionSuccess.set(known(m.election_success_rate));
    this.electionLast.set(seconds(m.last_election_duration_ms));
    this.electionAverage.set(seconds(m.average_election_duration_ms));
    this.sinceElection.set(seconds(m.time_since_last_election_ms));
    this.logEntries.set(m.log_size_entries);
    this.logBytes.set(m.log_bytes_on_disk);
    this.snapshotBytes.set(m.snapshot_bytes);
    this.snapshotAge.set(seconds(m.snapshot_age_ms));
    this.cpu.set(m.process_cpu_percent);
    this.rss.set(m.process_resident_memory_bytes);
    this.heapUsed.set(m.process_heap_used_bytes);
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}

export function registerMetrics(app: FastifyInstance, metrics: ServerMetrics, openChangeStreams: () => number): void {
  app.addHook('onResponse', async (request, reply) => {
    metrics.observeRequest(request.method, request.routeOptions.url, reply.statusCode, reply.elapsedTime / 1000);
  });
  app.get('/metrics', async (_request, reply) => {
    const text = await metrics.render(openChangeStreams());
    return reply.type(metrics.contentType).send(text);
  });
}
