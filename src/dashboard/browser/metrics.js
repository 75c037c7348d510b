// Turns a `GET /cluster/metrics` body into what the panels and charts show: a normalised
// shape the page can trust (numbers or null, bounded lists), the text of every panel value,
// and the per-sample values the charts plot. Pure; classic script shared by the page and the
// tests (node:vm). Never throws.
(function (ns) {
  'use strict';

  const MAX_FOLLOWERS = 64; // clusters are 3 to 7 nodes; bound the table anyway
  const MIB_BYTES = 1024 * 1024;

  function num(v) {
    return typeof v === 'number' && Number.isFinite(v) ? v : null;
  }

  function id(v) {
    if (typeof v === 'number' && Number.isFinite(v)) return String(v);
    if (typeof v === 'string' && v !== '' && v.length <= 64) return v;
    return null;
  }

  function latency(v) {
    const o = v !== null && typeof v === 'object' ? v : {};
    return { count: num(o.count), meanMs: num(o.mean_ms), p50Ms: num(o.p50_ms), p99Ms: num(o.p99_ms) };
  }

  /** Followers' lag in entries and ms; from `replication_lag`, else the ms-only map. */
  function followerLags(raw) {
    const lags = [];
    if (Array.isArray(raw.replication_lag)) {
      for (const l of raw.replication_lag.slice(0, MAX_FOLLOWERS)) {
        if (l === null || typeof l !== 'object' || id(l.node) === null) continue;
        lags.push({ node: id(l.node), entries: num(l.entries), ms: num(l.ms) });
      }
    } else if (raw.replication_lag_ms !== null && typeof raw.replication_lag_ms === 'object') {
      for (const key of Object.keys(raw.replication_lag_ms).slice(0, MAX_FOLLOWERS)) {
        if (id(key) !== null) lags.push({ node: key, entries: null, ms: num(raw.replication_lag_ms[key]) });
      }
    }
    return lags.sort((a, b) => a.node.localeCompare(b.node, undefined, { numeric: true }));
  }

  /** @returns the metrics with every field present (null when absent), or null for a non-object. */
  function normalizeMetrics(raw) {
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return null;
    return {
      nodeId: id(raw.node_id),
      role: typeof raw.role === 'string' ? raw.role : null,
      term: num(raw.current_term),
      leader: id(raw.current_leader),
      clusterSize: num(raw.cluster_size),
      healthyNodes: num(raw.healthy_nodes),
      commitLatencyMs: num(raw.commit_latency_ms),
      commitLatency: latency(raw.commit_latency),
      lags: followerLags(raw),
      opsPerSec: num(raw.throughput_ops_per_sec),
      electionCount: num(raw.election_count),
      electionsStarted: num(raw.elections_started),
      electionSuccessRate: num(raw.election_success_rate),
      lastElectionMs: num(raw.last_election_duration_ms),
      averageElectionMs: num(raw.average_election_duration_ms),
      sinceElectionMs: num(raw.time_since_last_election_ms),
      logEntries: num(raw.log_size_entries),
      appliedIndex: num(raw.last_applied_index),
      commitIndex: num(raw.commit_index),
      lastLogIndex: num(raw.last_log_index),
      logBytes: num(raw.log_bytes_on_disk),
      snapshotIndex: num(raw.snapshot_index),
      snapshotBytes: num(raw.snapshot_bytes),
      snapshotAgeMs: num(raw.snapshot_age_ms),
      syncLatency: latency(raw.log_sync_latency),
      cpuPercent: num(raw.process_cpu_percent),
      rssBytes: num(raw.process_resident_memory_bytes),
      heapBytes: num(raw.process_heap_used_bytes),
    };
  }

  const NONE = '—';

  /** An integer with thousands separators ("12,345"); a fraction keeps one decimal. */
  function formatCount(n) {
    if (n === null || n === undefined) return NONE;
    const sign = n < 0 ? '-' : '';
    const abs = Math.abs(n);
    const whole = Number.isInteger(abs) ? String(abs) : abs.toFixed(1);
    const [int, frac] = whole.split('.');
    return sign + int.replace(/\B(?=(\d{3})+(?!\d))/g, ',') + (frac === undefined ? '' : '.' + frac);
  }

  /** A duration for people: "0.4 ms", "312 ms", "12.3 s", "5 min 3 s", "2 h 5 min". */
  function formatDuration(ms) {
    if (ms === null || ms === undefined || !(ms >= 0)) return NONE;
    if (ms < 10) return ms.toFixed(1) + ' ms';
    if (ms < 1000) return Math.round(ms) + ' ms';
    if (ms < 60000) return (ms / 1000).toFixed(1) + ' s';
    const s = Math.floor(ms / 1000);
    if (s < 3600) return Math.floor(s / 60) + ' min ' + (s % 60) + ' s';
    const min = Math.floor(s / 60);
    return Math.floor(min / 60) + ' h ' + (min % 60) + ' min';
  }

  /** Bytes in binary units: "512 B", "1.5 KiB", "12.0 MiB", "3.2 GiB". */
  function formatBytes(bytes) {
    if (bytes === null || bytes === undefined || !(bytes >= 0)) return NONE;
    const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
    let value = bytes;
    let unit = 0;
    while (value >= 1024 && unit < units.length - 1) {
      value /= 1024;
      unit++;
    }
    return (unit === 0 ? String(Math.round(value)) : value.toFixed(1)) + ' ' + units[unit];
  }

  /** A share 0..1 as a percentage with at most one decimal: "100 %", "66.7 %". */
  function formatRatio(r) {
    if (r === null || r === undefined) return NONE;
    return String(Math.round(r * 1000) / 10) + ' %';
  }

  /** A rate: one decimal below 10 ("2.5"), whole numbers above ("1,234"). */
  function formatRate(v) {
    if (v === null || v === undefined) return NONE;
    return v < 10 ? v.toFixed(1) : formatCount(Math.round(v));
  }

  /**
   * How healthy the cluster looks from this node: 'ok' (a leader, every member reachable),
   * 'warn' (a leader, a member unreachable but a majority of the members reachable) or 'bad'
   * (no leader, or a majority unreachable); null when unknown.
   */
  function healthLevel(m) {
    if (m.clusterSize === null || m.healthyNodes === null) return null;
    if (m.leader === null || m.healthyNodes * 2 <= m.clusterSize) return 'bad';
    return m.healthyNodes >= m.clusterSize ? 'ok' : 'warn';
  }

  function plural(n, noun) {
    return n + ' ' + noun + (n === 1 ? '' : 's');
  }

  /** The text of every panel value, keyed by the element id that shows it. */
  function panelText(m) {
    const leader = m.leader === null ? 'none' : 'node ' + m.leader + (m.leader === m.nodeId ? ' (this node)' : '');
    return {
      'health-nodes': m.healthyNodes === null || m.clusterSize === null ? NONE : m.healthyNodes + ' / ' + m.clusterSize,
      'health-leader': m.term === null && m.leader === null ? NONE : leader,
      'health-since-election': formatDuration(m.sinceElectionMs),
      'health-term': formatCount(m.term),
      'elections-count': formatCount(m.electionCount),
      'elections-average': formatDuration(m.averageElectionMs),
      'elections-last': formatDuration(m.lastElectionMs),
      'elections-success': formatRatio(m.electionSuccessRate),
      'elections-success-detail':
        m.electionCount === null || m.electionsStarted === null
          ? ''
          : plural(m.electionCount, 'leader') + ' in ' + plural(m.electionsStarted, 'term'),
      'replication-commit-latency': formatDuration(m.commitLatencyMs),
      'replication-commit-p99': formatDuration(m.commitLatency.p99Ms),
      'replication-log-entries': formatCount(m.logEntries),
      'replication-log-bytes': formatBytes(m.logBytes),
      'replication-commit-index': formatCount(m.commitIndex),
      'replication-snapshot-index': formatCount(m.snapshotIndex),
      'replication-snapshot-age': m.snapshotAgeMs === null ? 'none since start' : formatDuration(m.snapshotAgeMs),
      'replication-sync-p99': formatDuration(m.syncLatency.p99Ms),
      'performance-ops': formatRate(m.opsPerSec),
      'performance-cpu': m.cpuPercent === null ? NONE : m.cpuPercent.toFixed(1) + ' %',
      'performance-memory': formatBytes(m.rssBytes),
      'performance-heap': formatBytes(m.heapBytes),
    };
  }

  /** Rows of the followers' lag table: [node, ms, entries] as shown. */
  function lagRows(m) {
    return m.lags.map((l) => [l.node, formatDuration(l.ms), formatCount(l.entries)]);
  }

  /** What one poll adds to the charts (null fields: not measured on this node now). */
  function metricsSample(m) {
    const lagMs = {};
    for (const l of m.lags) if (l.ms !== null) lagMs[l.node] = l.ms;
    return {
      opsPerSec: m.opsPerSec,
      cpuPercent: m.cpuPercent,
      rssMiB: m.rssBytes === null ? null : m.rssBytes / MIB_BYTES,
      heapMiB: m.heapBytes === null ? null : m.heapBytes / MIB_BYTES,
      commitLatencyMs: m.commitLatencyMs,
      logEntries: m.logEntries,
      lagMs,
    };
  }

  ns.normalizeMetrics = normalizeMetrics;
  ns.formatCount = formatCount;
  ns.formatDuration = formatDuration;
  ns.formatBytes = formatBytes;
  ns.formatRatio = formatRatio;
  ns.formatRate = formatRate;
  ns.healthLevel = healthLevel;
  ns.panelText = panelText;
  ns.lagRows = lagRows;
  ns.metricsSample = metricsSample;
})((globalThis.CSDash = globalThis.CSDash || {}));
