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
  <section aria-labelledby="charts-heading">
    <h2 id="charts-heading">Last 5 minutes</h2>
    <div class="charts">
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
