// Prometheus metrics of one server. Each server has its own Registry (tests and
// the local `cluster` command run many servers in one process), holding HTTP
// request counts and latencies by route and status, and gauges read from the
// backend's status at scrape time.
import type { FastifyInstance } from 'fastify';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { DatabaseBackend } from '../node/backend.ts';

const PREFIX = 'collection_store_';
/** Label for requests that matched no route, so unknown paths cannot grow label sets. */
const UNMATCHED_ROUTE = 'unmatched';

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
    return this.registry.metrics();
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
