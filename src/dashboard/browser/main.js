// The dashboard loop: poll /cluster/status, /cluster/metrics and /metrics, feed the history,
// render; follow /cluster/events for the timeline (event-stream.js) while the data is shown.
// Polls every second (or ?poll=<ms>, 100 to 10000), one poll at a time, each
// request bounded by a timeout. Never throws: any failure becomes the
// "unreachable" state, and the loop keeps going.
// With authentication on, a 401 shows the login form (session.js) and polling waits for
// a login; a 403 on the status (a user without role root) shows why instead of the data.
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
  let metrics = null;
  let metricsNote = null;
  const timeline = ns.createTimeline();
  const events = ns.createEventStream((event) => {
    // Drawn on the next render (at most one poll interval later), not once per event.
    ns.addTimelineEvent(timeline, event);
  });

  const sessions = ns.createSessionStore();
  const auth = { session: sessions.load(), needsLogin: false, forbidden: false, loginMessage: null, loginError: null, loggingIn: false };

  async function fetchText(path) {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), TIMEOUT_MS);
    try {
      const res = await fetch(path, { cache: 'no-store', headers: ns.requestHeaders(auth.session), signal: controller.signal });
      const body = await res.text();
      return res.ok ? { ok: true, status: res.status, body } : { ok: false, status: res.status, reason: 'HTTP ' + res.status };
    } catch (err) {
      return { ok: false, status: 0, reason: err && err.name === 'AbortError' ? 'timed out' : 'connection failed' };
    } finally {
      clearTimeout(timer);
    }
  }

  function showLogin(message) {
    auth.session = null;
    sessions.clear();
    auth.needsLogin = true;
    auth.forbidden = false;
    auth.loginMessage = message;
    auth.loginError = null;
    status = null;
    events.want(null);
  }

  function parseMetrics(result) {
    if (!result.ok) return { metrics: null, reason: result.reason };
    let raw;
    try {
      raw = JSON.parse(result.body);
    } catch {
      return { metrics: null, reason: 'invalid JSON' };
    }
    const normalized = ns.normalizeMetrics(raw);
    return normalized === null ? { metrics: null, reason: 'unexpected response' } : { metrics: normalized, reason: null };
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
    if (auth.needsLogin) return; // nothing to ask until the user logs in
    const sentWith = auth.session;
    const [statusResult, metricsResult, raftResult] = await Promise.all([
      fetchText('/cluster/status'),
      fetchText('/metrics'),
      fetchText('/cluster/metrics'),
    ]);
    const now = Date.now();
    stats.polls++;
    if (statusResult.status === 401 || metricsResult.status === 401 || raftResult.status === 401) {
      // Unless a login happened while these were in flight: the new session stands.
      if (auth.session === sentWith) {
        showLogin(sentWith === null ? null : 'Your session ended (expired, or the password changed): log in again.');
      }
      return;
    }
    // Logged in, without role root: the node answers, the page cannot show its status.
    auth.forbidden = statusResult.status === 403;
    if (auth.forbidden) {
      events.want(null);
      conn.reachable = true;
      conn.unreachableSince = null;
      conn.reason = null;
      conn.lastOkAt = now;
      return;
    }
    const parsed = parseStatus(statusResult);

    let requests = null;
    if (metricsResult.ok) {
      const counter = ns.requestCounterTotal(ns.parsePrometheusText(metricsResult.body));
      if (counter !== null) {
        requestCounterName = counter.name;
        requests = counter.total;
      }
    }

    const raft = parseMetrics(raftResult);
    // The panels keep the last numbers they had when /cluster/metrics fails, and say so.
    if (raft.metrics !== null) metrics = raft.metrics;
    metricsNote =
      raft.metrics !== null
        ? null
        : 'No Raft metrics from this node (' + raft.reason + ')' + (metrics === null ? '.' : ': the panels show the last ones received.');

    if (parsed.status !== null) {
      status = parsed.status;
      // The node answers again: a stream waiting out its backoff reconnects now.
      events.want(ns.requestHeaders(auth.session), conn.reachable === false);
      conn.reachable = true;
      conn.unreachableSince = null;
      conn.reason = null;
      conn.lastOkAt = now;
      const lags = {};
      for (const m of status.members) if (m.lag !== null) lags[m.id] = m.lag;
      ns.addSample(history, {
        t: now / 1000,
        commitIndex: status.commitIndex,
        lags,
        requests,
        metrics: raft.metrics === null ? null : ns.metricsSample(raft.metrics),
      });
    } else {
      stats.failures++;
      if (conn.reachable !== false) conn.unreachableSince = now;
      conn.reachable = false;
      conn.reason = parsed.reason;
      ns.addSample(history, { t: now / 1000, commitIndex: null, lags: {}, requests: null, metrics: null });
    }
  }

  function render() {
    ns.renderAuth({
      needsLogin: auth.needsLogin,
      forbidden: auth.forbidden,
      user: auth.session === null ? null : auth.session.user,
      loginMessage: auth.loginMessage,
      loginError: auth.loginError,
    });
    ns.renderConnection(conn);
    if (status !== null) {
      ns.renderHeader(status);
      ns.renderMembers(status, conn.reachable === true);
    }
    if (!auth.needsLogin && !auth.forbidden) {
      ns.renderPanels(metrics, metricsNote);
      ns.renderTimeline(timeline, Date.now(), WINDOW_SECONDS * 1000, events.state());
    }
    // Charts are made once their place is shown: a hidden container has no width to size them by.
    if (charts === null && !auth.needsLogin && !auth.forbidden) charts = ns.createCharts(WINDOW_SECONDS);
    if (charts !== null) charts.update(history, requestCounterName);
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

  function safeRender() {
    try {
      render();
    } catch (err) {
      stats.renderErrors++;
      stats.lastError = String(err && err.stack ? err.stack : err);
    }
  }

  async function submitLogin(event) {
    event.preventDefault();
    if (auth.loggingIn) return;
    const userInput = document.getElementById('login-user');
    const passwordInput = document.getElementById('login-password');
    const submit = document.getElementById('login-submit');
    const user = userInput ? userInput.value.trim() : '';
    const password = passwordInput ? passwordInput.value : '';
    if (user === '' || password === '') {
      auth.loginError = ns.loginFailureText(400);
      safeRender();
      return;
    }
    auth.loggingIn = true;
    if (submit) submit.disabled = true;
    const result = await ns.login(user, password);
    auth.loggingIn = false;
    if (submit) submit.disabled = false;
    if (result.ok) {
      auth.session = result.session;
      sessions.save(result.session);
      auth.needsLogin = false;
      auth.loginMessage = null;
      auth.loginError = null;
      if (passwordInput) passwordInput.value = '';
    } else {
      auth.loginError = ns.loginFailureText(result.status);
      if (passwordInput) {
        passwordInput.value = '';
        passwordInput.focus();
      }
    }
    safeRender();
  }

  function logOut() {
    // The token stays valid until it expires (a token cannot be revoked alone); this tab forgets it.
    showLogin('Logged out.');
    safeRender();
    const userInput = document.getElementById('login-user');
    if (userInput) userInput.focus();
  }

  const form = document.getElementById('login-form');
  if (form) form.addEventListener('submit', (event) => void submitLogin(event));
  const logout = document.getElementById('logout');
  if (logout) logout.addEventListener('click', logOut);

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
        auth: auth.needsLogin ? 'login' : auth.forbidden ? 'forbidden' : auth.session === null ? 'none' : 'token',
        user: auth.session === null ? null : auth.session.user,
        charts: charts === null ? null : charts.describe(),
        metrics: metrics === null ? null : { nodeId: metrics.nodeId, electionCount: metrics.electionCount, commitIndex: metrics.commitIndex },
        events: Object.assign(events.state(), { timeline: timeline.events.map((e) => ({ seq: e.seq, type: e.type })) }),
      };
    },
  };

  loop();
})((globalThis.CSDash = globalThis.CSDash || {}));
