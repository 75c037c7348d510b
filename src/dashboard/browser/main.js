// The dashboard loop: poll /cluster/status and /metrics, feed the history, render.
// Polls every second (or ?poll=<ms>, 100 to 10000), one poll at a time, each
// request bounded by a timeout. Never throws: any failure becomes the
// "unreachable" state, and the loop keeps going.
(function (ns) {
  'use strict';

  const WINDOW_SECONDS = 300;
  const params = new URLSearchParams(location.search);
  const requested = Number(params.get('poll'));
  const POLL_MS = Number.isFinite(requested) && requested >= 100 && requested <= 10000 ? Math.round(requested) : 1000;
  const TIMEOUT_MS = Math.max(2000, POLL_MS * 2);
  // Enough samples for the window at this poll rate, plus slack: at most 3,010.
  const history = ns.createHistory(WINDOW_SECONDS, Math.ceil((WINDOW_SECONDS * 1000) / POLL_MS) + 10);

  const conn = { reachable: null, unreachableSince: null, reason: null, lastOkAt: null };
  const stats = { polls: 0, failures: 0, renderErrors: 0, lastError: null };
  let status = null;
  let requestCounterName = null;
  let charts = null;

  async function fetchText(path) {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), TIMEOUT_MS);
    try {
      const res = await fetch(path, { cache: 'no-store', signal: controller.signal });
      const body = await res.text();
      return res.ok ? { ok: true, body } : { ok: false, reason: 'HTTP ' + res.status };
    } catch (err) {
      return { ok: false, reason: err && err.name === 'AbortError' ? 'timed out' : 'connection failed' };
    } finally {
      clearTimeout(timer);
    }
  }

  function parseStatus(result) {
    if (!result.ok) return { status: null, reason: result.reason };
    let raw;
    try {
      raw = JSON.parse(result.body);
    } catch {
      return { status: null, reason: 'invalid JSON' };
    }
    const normalized = ns.normalizeStatus(raw);
    return normalized === null ? { status: null, reason: 'unexpected response' } : { status: normalized, reason: null };
  }

  async function poll() {
    const [statusResult, metricsResult] = await Promise.all([fetchText('/cluster/status'), fetchText('/metrics')]);
    const now = Date.now();
    const parsed = parseStatus(statusResult);
    stats.polls++;

    let requests = null;
    if (metricsResult.ok) {
      const counter = ns.requestCounterTotal(ns.parsePrometheusText(metricsResult.body));
      if (counter !== null) {
        requestCounterName = counter.name;
        requests = counter.total;
      }
    }

    if (parsed.status !== null) {
      status = parsed.status;
      conn.reachable = true;
      conn.unreachableSince = null;
      conn.reason = null;
      conn.lastOkAt = now;
      const lags = {};
      for (const m of status.members) if (m.lag !== null) lags[m.id] = m.lag;
      ns.addSample(history, { t: now / 1000, commitIndex: status.commitIndex, lags, requests });
    } else {
      stats.failures++;
      if (conn.reachable !== false) conn.unreachableSince = now;
      conn.reachable = false;
      conn.reason = parsed.reason;
      ns.addSample(history, { t: now / 1000, commitIndex: null, lags: {}, requests: null });
    }
  }

  function render() {
    ns.renderConnection(conn);
    if (status !== null) {
      ns.renderHeader(status);
      ns.renderMembers(status, conn.reachable === true);
    }
    if (charts === null) charts = ns.createCharts(WINDOW_SECONDS);
    charts.update(history, requestCounterName);
  }

  async function loop() {
    const started = Date.now();
    try {
      await poll();
      render();
    } catch (err) {
      // A bug must not stop the loop; keep it visible to tests and devtools.
      stats.renderErrors++;
      stats.lastError = String(err && err.stack ? err.stack : err);
    }
    setTimeout(loop, Math.max(0, POLL_MS - (Date.now() - started)));
  }

  // For tests and debugging: a plain-data view of the dashboard's state.
  globalThis.__dashboard = {
    pollMs: POLL_MS,
    snapshot() {
      return {
        polls: stats.polls,
        failures: stats.failures,
        renderErrors: stats.renderErrors,
        lastError: stats.lastError,
        reachable: conn.reachable,
        unreachableSince: conn.unreachableSince,
        samples: history.samples.length,
        requestCounter: requestCounterName,
        charts: charts === null ? null : charts.describe(),
      };
    },
  };

  loop();
})((globalThis.CSDash = globalThis.CSDash || {}));
