// Builds the dashboard's single HTML page with every script and stylesheet inline.
// The Content-Security-Policy allows only inline code and same-origin fetches, so
// the page cannot load anything from the network even by mistake.
import type { DashboardAssets } from './assets.ts';

const CSP = [
  "default-src 'none'",
  "script-src 'unsafe-inline'",
  "style-src 'unsafe-inline'",
  "connect-src 'self'",
  'img-src data:',
  "base-uri 'none'",
  "form-action 'none'",
].join('; ');

/** Inline code must not close its own element early. */
function inlineScript(code: string): string {
  return code.replace(/<\/(script)/gi, '<\\/$1').replace(/<!--/g, '<\\!--');
}

function inlineStyle(css: string): string {
  return css.replace(/<\/(style)/gi, '<\\/$1');
}

const BODY = `
<header class="top">
  <div class="title-row">
    <h1>Collection Store <span class="muted">· node <span id="node-id">—</span></span></h1>
    <span class="muted" id="node-url"></span>
    <span id="connection" class="badge" role="status" aria-live="polite">Connecting…</span>
    <span id="updated" class="muted">no data yet</span>
    <span id="session" class="session" hidden>User <strong id="session-user"></strong> <button type="button" id="logout">Log out</button></span>
  </div>
  <dl id="summary" class="summary" aria-label="Node state">
    <div><dt>Role</dt><dd><span id="role" class="badge">—</span></dd></div>
    <div><dt>Term</dt><dd id="term">—</dd></div>
    <div><dt>Leader</dt><dd id="leader">—</dd></div>
    <div><dt>Commit index</dt><dd id="commit-index">—</dd></div>
    <div><dt>Applied index</dt><dd id="applied-index">—</dd></div>
    <div><dt>Snapshot index</dt><dd id="snapshot-index">—</dd></div>
    <div><dt>Last log index</dt><dd id="last-log-index">—</dd></div>
  </dl>
</header>
<section id="login" class="login" aria-labelledby="login-heading" hidden>
  <h2 id="login-heading">Log in</h2>
  <p class="muted">Authentication is on for this cluster. The dashboard needs a user with role root.</p>
  <p id="login-message" class="login-message" role="status"></p>
  <form id="login-form" novalidate>
    <label for="login-user">User</label>
    <input id="login-user" name="user" autocomplete="username" maxlength="64" required>
    <label for="login-password">Password</label>
    <input id="login-password" name="password" type="password" autocomplete="current-password" maxlength="1024" required>
    <button type="submit" id="login-submit">Log in</button>
  </form>
  <p id="login-error" class="login-error" role="alert"></p>
</section>
<p id="forbidden" class="forbidden" role="alert" hidden></p>
<main id="content">
  <p id="metrics-note" class="note" role="status" hidden></p>
  <div class="panels">
    <section class="panel" aria-labelledby="health-heading">
      <h2 id="health-heading">Cluster health</h2>
      <dl class="stats">
        <div><dt>Nodes up</dt><dd><span id="health-nodes" class="badge">—</span></dd></div>
        <div><dt>Leader</dt><dd id="health-leader">—</dd></div>
        <div><dt>Since last election</dt><dd id="health-since-election">—</dd></div>
        <div><dt>Term</dt><dd id="health-term">—</dd></div>
      </dl>
    </section>
    <section class="panel" aria-labelledby="elections-heading">
      <h2 id="elections-heading">Elections</h2>
      <dl class="stats">
        <div><dt>Count</dt><dd id="elections-count">—</dd></div>
        <div><dt>Average duration</dt><dd id="elections-average">—</dd></div>
        <div><dt>Last duration</dt><dd id="elections-last">—</dd></div>
        <div><dt>Success rate</dt><dd><span id="elections-success">—</span>
          <span class="bar wide" aria-hidden="true"><span id="elections-success-bar" class="bar-fill"></span></span>
          <span id="elections-success-detail" class="detail"></span></dd></div>
      </dl>
      <div id="elections-chart" class="bars" role="img" aria-labelledby="elections-chart-caption"></div>
      <p id="elections-chart-caption" class="note"></p>
    </section>
    <section class="panel" aria-labelledby="replication-heading">
      <h2 id="replication-heading">Replication</h2>
      <dl class="stats">
        <div><dt>Commit latency</dt><dd id="replication-commit-latency">—</dd></div>
        <div><dt>Commit latency p99</dt><dd id="replication-commit-p99">—</dd></div>
        <div><dt>Log size (entries)</dt><dd id="replication-log-entries">—</dd></div>
        <div><dt>Log on disk</dt><dd id="replication-log-bytes">—</dd></div>
        <div><dt>Commit index</dt><dd id="replication-commit-index">—</dd></div>
        <div><dt>Snapshot index</dt><dd id="replication-snapshot-index">—</dd></div>
        <div><dt>Snapshot age</dt><dd id="replication-snapshot-age">—</dd></div>
        <div><dt>Log fsync p99</dt><dd id="replication-sync-p99">—</dd></div>
      </dl>
      <table id="replication-lags" class="compact">
        <caption>Lag per follower, measured by the leader.</caption>
        <thead><tr><th scope="col">Follower</th><th scope="col">Lag (time)</th><th scope="col">Lag (entries)</th></tr></thead>
        <tbody id="replication-lags-body"><tr><td colspan="3" class="empty">Waiting for data…</td></tr></tbody>
      </table>
    </section>
    <section class="panel" aria-labelledby="performance-heading">
      <h2 id="performance-heading">Performance</h2>
      <dl class="stats">
        <div><dt>Operations/s</dt><dd id="performance-ops">—</dd></div>
        <div><dt>CPU (one core)</dt><dd id="performance-cpu">—</dd></div>
        <div><dt>Memory (resident)</dt><dd id="performance-memory">—</dd></div>
        <div><dt>Heap used</dt><dd id="performance-heap">—</dd></div>
      </dl>
    </section>
  </div>
  <section aria-labelledby="charts-heading">
    <h2 id="charts-heading">Last 5 minutes</h2>
    <div class="charts">
      <figure>
        <figcaption id="ops-caption">Operations applied per second</figcaption>
        <div id="chart-ops" class="chart" role="img" aria-labelledby="ops-caption"></div>
      </figure>
      <figure>
        <figcaption id="cpu-caption">CPU (% of one core)</figcaption>
        <div id="chart-cpu" class="chart" role="img" aria-labelledby="cpu-caption"></div>
      </figure>
      <figure>
        <figcaption id="memory-caption">Memory (MiB)</figcaption>
        <div id="chart-memory" class="chart" role="img" aria-labelledby="memory-caption"></div>
      </figure>
      <figure>
        <figcaption id="latency-caption">Commit latency (ms, leader)</figcaption>
        <div id="chart-latency" class="chart" role="img" aria-labelledby="latency-caption"></div>
      </figure>
      <figure>
        <figcaption id="lag-ms-caption">Lag per follower (ms, leader)</figcaption>
        <div id="chart-lag-ms" class="chart" role="img" aria-labelledby="lag-ms-caption"></div>
      </figure>
      <figure>
        <figcaption id="commit-caption">Commit rate (entries/s)</figcaption>
        <div id="chart-commit" class="chart" role="img" aria-labelledby="commit-caption"></div>
      </figure>
      <figure>
        <figcaption id="lag-caption">Lag per member (entries)</figcaption>
        <div id="chart-lag" class="chart" role="img" aria-labelledby="lag-caption"></div>
      </figure>
      <figure>
        <figcaption id="requests-caption">Requests per second</figcaption>
        <div id="chart-requests" class="chart" role="img" aria-labelledby="requests-caption"></div>
        <p id="requests-note" class="note">No request counter found in /metrics yet.</p>
      </figure>
    </div>
  </section>
  <section aria-labelledby="timeline-heading">
    <h2 id="timeline-heading">Timeline <span id="timeline-status" class="badge">Not connected</span></h2>
    <p class="note">Leader changes and other cluster events this node saw, from <code>GET /cluster/events</code>.
      Lanes: <span class="key key-leader">leader</span> <span class="key key-member">members</span>
      <span class="key key-snapshot">snapshots</span> <span class="key key-node">reachability</span>.</p>
    <div class="strip-frame">
      <div id="timeline-strip" class="strip"></div>
      <div class="strip-axis muted"><span>5 min ago</span><span>now</span></div>
    </div>
    <ol id="timeline-list" class="timeline" aria-live="polite"><li class="empty">No events yet.</li></ol>
  </section>
  <section aria-labelledby="members-heading">
    <h2 id="members-heading">Members</h2>
    <table id="members">
      <caption>Replication progress of each member, as seen by this node (the leader tracks it: on a follower, open the leader's dashboard).</caption>
      <thead>
        <tr>
          <th scope="col">ID</th>
          <th scope="col">URL</th>
          <th scope="col">Kind</th>
          <th scope="col">Match index</th>
          <th scope="col">Lag (entries)</th>
          <th scope="col">Connected</th>
        </tr>
      </thead>
      <tbody id="members-body"><tr><td colspan="6" class="empty">Waiting for data…</td></tr></tbody>
    </table>
  </section>
</main>`;

export function renderDashboardPage(assets: DashboardAssets): string {
  const scripts = [assets.uplotJs, ...assets.appScripts].map((code) => `<script>\n${inlineScript(code)}\n</script>`);
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="${CSP}">
<title>Collection Store dashboard</title>
<link rel="icon" href="data:,">
<style>\n${inlineStyle(assets.uplotCss)}\n</style>
<style>\n${inlineStyle(assets.appCss)}\n</style>
</head>
<body>${BODY}
${scripts.join('\n')}
</body>
</html>
`;
}
