// The dashboard's pure helpers behind the metrics panels and their charts (browser/metrics.js,
// history.js), run in node:vm exactly as the page inlines them: GET /cluster/metrics
// normalised, the text of each panel, the followers' lag rows, the chart series.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { RaftMetrics } from '../../src/node/node-metrics.ts';
import { loadPureScripts, plain, type MetricsView } from './browser-scripts.ts';

const ns = loadPureScripts();

/** A leader of three, as GET /cluster/metrics answers (typed by the server's own interface). */
function leaderMetrics(): RaftMetrics {
  return {
    node_id: 1,
    role: 'leader',
    current_term: 7,
    current_leader: 1,
    cluster_size: 3,
    healthy_nodes: 2,
    commit_latency_ms: 2.345,
    commit_latency: { count: 1200, mean_ms: 2.5, p50_ms: 2, p99_ms: 25 },
    replication_lag_ms: { '3': 1500, '10': 0 },
    replication_lag: [
      { node: 10, entries: 0, ms: 0 },
      { node: 3, entries: 1234, ms: 1500 },
    ],
    throughput_ops_per_sec: 1520.4,
    election_count: 3,
    elections_started: 4,
    election_success_rate: 0.75,
    last_election_duration_ms: 312,
    average_election_duration_ms: 1250,
    time_since_last_election_ms: 125_000,
    log_size_entries: 12_345,
    last_applied_index: 20_000,
    commit_index: 20_001,
    last_log_index: 20_002,
    log_bytes_on_disk: 64 * 1024 * 1024,
    snapshot_index: 7_656,
    snapshot_bytes: 1536,
    snapshot_age_ms: null,
    log_sync_latency: { count: 10, mean_ms: 1, p50_ms: 1, p99_ms: 5 },
    process_cpu_percent: 12.34,
    process_resident_memory_bytes: 100 * 1024 * 1024,
    process_heap_used_bytes: 40.5 * 1024 * 1024,
  };
}

function normalized(raw: unknown): MetricsView {
  const m = ns.normalizeMetrics(raw);
  assert.ok(m !== null);
  return m;
}

describe('normalizeMetrics', () => {
  test('keeps every field of a well-formed body, followers in numeric order', () => {
    const m = plain(normalized(leaderMetrics()));
    assert.equal(m.nodeId, '1');
    assert.equal(m.leader, '1');
    assert.equal(m.term, 7);
    assert.equal(m.clusterSize, 3);
    assert.equal(m.healthyNodes, 2);
    assert.deepEqual(m.commitLatency, { count: 1200, meanMs: 2.5, p50Ms: 2, p99Ms: 25 });
    assert.deepEqual(m.lags, [
      { node: '3', entries: 1234, ms: 1500 },
      { node: '10', entries: 0, ms: 0 },
    ]);
    assert.equal(m.electionSuccessRate, 0.75);
    assert.equal(m.snapshotAgeMs, null);
    assert.equal(m.rssBytes, 100 * 1024 * 1024);
  });

  test('refuses non-objects; wrong types become null; the ms map stands in for replication_lag', () => {
    for (const raw of [null, undefined, 'x', 3, [1]]) assert.equal(ns.normalizeMetrics(raw), null);
    const m = normalized({ current_term: '7', current_leader: null, healthy_nodes: NaN, replication_lag_ms: { '2': 40, '1': 'x' } });
    assert.equal(m.term, null);
    assert.equal(m.leader, null);
    assert.equal(m.healthyNodes, null);
    assert.deepEqual(plain(m.lags), [
      { node: '1', entries: null, ms: null },
      { node: '2', entries: null, ms: 40 },
    ]);
    assert.deepEqual(plain(m.commitLatency), { count: null, meanMs: null, p50Ms: null, p99Ms: null });
  });

  test('bounds the followers and never throws', () => {
    const many = normalized({ replication_lag: Array.from({ length: 500 }, (_, i) => ({ node: i + 1, entries: i, ms: i })) });
    assert.equal(many.lags.length, 64);
    fc.assert(
      fc.property(fc.anything(), (raw) => {
        const m = ns.normalizeMetrics(raw);
        if (m !== null) ns.panelText(m);
      }),
      { numRuns: 300 },
    );
  });
});

describe('formatting', () => {
  test('durations, bytes, ratios, counts and rates read as a person would write them', () => {
    const durations: [number | null, string][] = [
      [null, '—'],
      [0.42, '0.4 ms'],
      [9.96, '10.0 ms'],
      [312.4, '312 ms'],
      [12_345, '12.3 s'],
      [303_000, '5 min 3 s'],
      [7_500_000, '2 h 5 min'],
    ];
    for (const [ms, text] of durations) assert.equal(ns.formatDuration(ms), text, String(ms));
    assert.equal(ns.formatBytes(512), '512 B');
    assert.equal(ns.formatBytes(1536), '1.5 KiB');
    assert.equal(ns.formatBytes(12 * 1024 * 1024), '12.0 MiB');
    assert.equal(ns.formatBytes(null), '—');
    assert.equal(ns.formatRatio(1), '100 %');
    assert.equal(ns.formatRatio(2 / 3), '66.7 %');
    assert.equal(ns.formatRatio(0), '0 %');
    assert.equal(ns.formatCount(1_234_567), '1,234,567');
    assert.equal(ns.formatCount(999), '999');
    assert.equal(ns.formatCount(-1234.56), '-1,234.6');
    assert.equal(ns.formatRate(2.54), '2.5');
    assert.equal(ns.formatRate(1520.4), '1,520');
  });

  test('health: ok with every member up, warn with a majority, bad without a majority or a leader', () => {
    const m = normalized(leaderMetrics());
    assert.equal(ns.healthLevel({ ...m, healthyNodes: 3 }), 'ok');
    assert.equal(ns.healthLevel(m), 'warn');
    assert.equal(ns.healthLevel({ ...m, healthyNodes: 1 }), 'bad');
    assert.equal(ns.healthLevel({ ...m, clusterSize: 4, healthyNodes: 2 }), 'bad');
    assert.equal(ns.healthLevel({ ...m, healthyNodes: 3, leader: null }), 'bad');
    assert.equal(ns.healthLevel({ ...m, healthyNodes: null }), null);
  });
});

describe('panels', () => {
  test('every panel value of a leader', () => {
    assert.deepEqual(plain(ns.panelText(normalized(leaderMetrics()))), {
      'health-nodes': '2 / 3',
      'health-leader': 'node 1 (this node)',
      'health-since-election': '2 min 5 s',
      'health-term': '7',
      'elections-count': '3',
      'elections-average': '1.3 s',
      'elections-last': '312 ms',
      'elections-success': '75 %',
      'elections-success-detail': '3 leaders in 4 terms',
      'replication-commit-latency': '2.3 ms',
      'replication-commit-p99': '25 ms',
      'replication-log-entries': '12,345',
      'replication-log-bytes': '64.0 MiB',
      'replication-commit-index': '20,001',
      'replication-snapshot-index': '7,656',
      'replication-snapshot-age': 'none since start',
      'replication-sync-p99': '5.0 ms',
      'performance-ops': '1,520',
      'performance-cpu': '12.3 %',
      'performance-memory': '100.0 MiB',
      'performance-heap': '40.5 MiB',
    });
    assert.deepEqual(plain(ns.lagRows(normalized(leaderMetrics()))), [
      ['3', '1.5 s', '1,234'],
      ['10', '0.0 ms', '0'],
    ]);
  });

  test('a follower names the leader and has no commit latency or lags', () => {
    const raw = { ...leaderMetrics(), node_id: 2, role: 'follower', commit_latency_ms: null, replication_lag: [], replication_lag_ms: {} };
    const text = ns.panelText(normalized(raw));
    assert.equal(text['health-leader'], 'node 1');
    assert.equal(text['replication-commit-latency'], '—');
    assert.deepEqual(plain(ns.lagRows(normalized(raw))), []);
    assert.equal(ns.panelText(normalized({ ...raw, current_leader: null }))['health-leader'], 'none');
  });
});

describe('chart series from the metrics', () => {
  test('each sample carries the metrics; gaps where /cluster/metrics did not answer', () => {
    const h = ns.createHistory(300, 100);
    const a = normalized(leaderMetrics());
    const b = normalized({ ...leaderMetrics(), throughput_ops_per_sec: 10, replication_lag: [{ node: 3, entries: 1, ms: 20 }] });
    ns.addSample(h, { t: 1, commitIndex: 1, lags: {}, requests: null, metrics: ns.metricsSample(a) });
    ns.addSample(h, { t: 2, commitIndex: 2, lags: {}, requests: null, metrics: null });
    ns.addSample(h, { t: 3, commitIndex: 3, lags: {}, requests: null, metrics: ns.metricsSample(b) });
    assert.deepEqual(plain(ns.metricSeries(h, 'opsPerSec')), [1520.4, null, 10]);
    assert.deepEqual(plain(ns.metricSeries(h, 'rssMiB')), [100, null, 100]);
    assert.deepEqual(plain(ns.metricSeries(h, 'heapMiB')), [40.5, null, 40.5]);
    assert.deepEqual(plain(ns.metricSeries(h, 'commitLatencyMs')), [2.345, null, 2.345]);
    assert.deepEqual(plain(ns.lagMsSeries(h)), {
      ids: ['3', '10'],
      series: [
        [1500, null, 20],
        [0, null, null],
      ],
    });
  });
});
