// GET /cluster/metrics, the Raft series of GET /metrics and GET /cluster/events over a
// server of an embedded database (a group of one, its own leader; issue #13).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import Fastify from 'fastify';
import type { ClusterEvent } from '../../src/node/cluster-events.ts';
import type { RaftMetrics } from '../../src/node/node-metrics.ts';
import { registerEventRoutes } from '../../src/server/routes-events.ts';
import { send, startTestServer, type TestServer } from './helpers.ts';

const SEED_FIELDS = [
  'current_term',
  'current_leader',
  'cluster_size',
  'healthy_nodes',
  'commit_latency_ms',
  'replication_lag_ms',
  'throughput_ops_per_sec',
  'election_count',
  'last_election_duration_ms',
  'log_size_entries',
  'last_applied_index',
  'commit_index',
];

/** Reads server-sent events from a live response until `enough` says stop. */
async function readEvents(url: string, enough: (events: ClusterEvent[]) => boolean, headers: Record<string, string> = {}): Promise<ClusterEvent[]> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), 5000);
  const events: ClusterEvent[] = [];
  try {
    const response = await fetch(url, { headers, signal: controller.signal });
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', /^text\/event-stream/);
    const decoder = new TextDecoder();
    let buffer = '';
    for await (const chunk of response.body!) {
      buffer += decoder.decode(chunk as Uint8Array, { stream: true });
      let end: number;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const data = block.split('\n').find((line) => line.startsWith('data: '));
        if (data !== undefined) events.push(JSON.parse(data.slice(6)) as ClusterEvent);
      }
      if (enough(events)) break;
    }
  } finally {
    clearTimeout(timer);
    controller.abort();
  }
  return events;
}

describe('Raft metrics routes', () => {
  let server: TestServer;
  let origin: string;

  before(async () => {
    server = await startTestServer();
    origin = await server.app.listen({ port: 0, host: '127.0.0.1' });
  });
  after(() => server.close());

  test('GET /cluster/metrics has every field of the seed, measured', async () => {
    for (let i = 0; i < 20; i++) assert.equal((await send(server.app, 'POST', '/api/things', { n: i })).statusCode, 201);
    // The throughput is sampled once a second: two samples span the writes.
    await new Promise((resolve) => setTimeout(resolve, 2200));
    const res = await send(server.app, 'GET', '/cluster/metrics');
    assert.equal(res.statusCode, 200);
    const m = res.json() as RaftMetrics;
    for (const field of SEED_FIELDS) assert.ok(field in m, `missing ${field}`);
    assert.equal(m.role, 'leader');
    assert.equal(m.current_leader, m.node_id);
    assert.equal(m.cluster_size, 1);
    assert.equal(m.healthy_nodes, 1);
    assert.equal(m.election_count, 1, 'the group of one elected itself once');
    assert.ok(m.last_election_duration_ms !== null && m.last_election_duration_ms >= 0);
    assert.ok(m.commit_latency.count >= 20, `commit latency observed per batch: ${m.commit_latency.count}`);
    assert.ok(m.commit_latency_ms !== null && m.commit_latency_ms >= 0);
    assert.ok(m.last_applied_index >= 21 && m.commit_index >= m.last_applied_index, JSON.stringify(m));
    assert.ok(m.log_size_entries >= 21);
    assert.deepEqual(m.replication_lag_ms, {}, 'no followers');
    assert.ok(m.throughput_ops_per_sec > 0, `throughput ${m.throughput_ops_per_sec}`);
    assert.ok(m.process_resident_memory_bytes > 0 && m.process_heap_used_bytes > 0);
    assert.equal((await send(server.app, 'GET', '/cluster/metrics?x=1')).statusCode, 400);
  });

  test('GET /metrics carries the same numbers and the histograms', async () => {
    const text = (await send(server.app, 'GET', '/metrics')).body;
    const json = (await send(server.app, 'GET', '/cluster/metrics')).json() as RaftMetrics;
    const value = (name: string): number => {
      const line = text.split('\n').find((l) => l.startsWith(`collection_store_${name} `));
      assert.ok(line !== undefined, `no series ${name}`);
      return Number(line.split(' ')[1]);
    };
    assert.equal(value('raft_leader_id'), json.current_leader);
    assert.equal(value('raft_cluster_size'), 1);
    assert.equal(value('raft_healthy_nodes'), 1);
    assert.equal(value('raft_elections'), json.election_count);
    assert.ok(value('raft_log_entries') >= 21);
    assert.ok(value('process_resident_memory_bytes') > 0);
    assert.ok(Number.isNaN(value('snapshot_age_seconds')), 'no snapshot since start: NaN');
    const count = value('raft_commit_latency_seconds_count');
    assert.ok(count >= 20);
    const inf = text.split('\n').find((l) => l.startsWith('collection_store_raft_commit_latency_seconds_bucket{le="+Inf"}'));
    assert.equal(Number(inf?.split(' ')[1]), count, 'the +Inf bucket holds every observation');
    assert.match(text, /# TYPE collection_store_raft_commit_latency_seconds histogram/);
    assert.match(text, /# TYPE collection_store_log_sync_duration_seconds histogram/);
  });

  test('GET /cluster/events replays the kept events, then streams new ones (a snapshot)', async () => {
    const kept = await readEvents(`${origin}/cluster/events`, (events) => events.length >= 1);
    assert.equal(kept[0]!.type, 'leader_elected');
    assert.equal(kept[0]!.leader, kept[0]!.node);
    const lastSeq = kept[kept.length - 1]!.seq;
    const live = readEvents(`${origin}/cluster/events`, (events) => events.some((e) => e.type === 'snapshot_taken'), {
      'last-event-id': String(lastSeq),
    });
    await new Promise((resolve) => setTimeout(resolve, 100));
    const taken = await send(server.app, 'POST', '/cluster/snapshot');
    assert.equal(taken.statusCode, 200);
    const events = await live;
    assert.ok(
      events.every((e) => e.seq > lastSeq),
      'Last-Event-ID: only later events',
    );
    const snapshot = events.find((e) => e.type === 'snapshot_taken')!;
    assert.equal(snapshot.index, (taken.json() as { index: number }).index);
    assert.equal((await send(server.app, 'GET', '/cluster/events?since=x')).statusCode, 400);
  });
});

test('a subscriber that does not read is dropped; the events go on', async () => {
  const server = await startTestServer();
  const app = Fastify();
  app.decorate('authRequired', () => false);
  registerEventRoutes(app, { backend: server.backend }, { queuedMax: 5, heartbeatMs: 60_000 });
  const origin = await app.listen({ port: 0, host: '127.0.0.1' });
  try {
    const events = server.backend.clusterEvents();
    const port = Number(new URL(origin).port);
    const socket = connect(port, '127.0.0.1');
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    socket.write('GET /cluster/events HTTP/1.1\r\nhost: x\r\n\r\n');
    socket.pause(); // never reads: the server's socket fills, then its queue
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    await new Promise((resolve) => setTimeout(resolve, 100));
    const started = performance.now();
    for (let i = 0; i < 50_000 && !socket.destroyed; i++) {
      events.emit({ type: 'node_left', member: i }, 1);
      if (i % 1000 === 999) await new Promise((resolve) => setImmediate(resolve));
    }
    socket.resume();
    await closed;
    assert.ok(performance.now() - started < 10_000);
    assert.equal(events.subscribers, 0, 'the slow subscriber was dropped');
  } finally {
    await app.close();
    await server.close();
  }
});
