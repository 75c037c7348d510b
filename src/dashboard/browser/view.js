// Renders the header and the members table from a normalised status. Builds DOM
// nodes with textContent only: nothing from the server is parsed as HTML.
(function (ns) {
  'use strict';

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function show(value) {
    if (value === null || value === undefined) return '—';
    if (typeof value === 'number' && !Number.isInteger(value)) return value.toFixed(1);
    return String(value);
  }

  function setText(id, value) {
    const node = document.getElementById(id);
    if (node) node.textContent = show(value);
  }

  function link(url, text) {
    if (url === null) return el('span', null, text);
    const a = el('a', null, text);
    a.href = url;
    return a;
  }

  function formatTime(ms) {
    return new Date(ms).toLocaleTimeString(undefined, { hour12: false });
  }

  function renderHeader(status) {
    setText('node-id', status.nodeId);
    const nodeUrl = document.getElementById('node-url');
    if (nodeUrl) nodeUrl.textContent = status.url === null ? '' : status.url;
    const role = document.getElementById('role');
    if (role) {
      role.textContent = status.role;
      role.className = 'badge role-' + status.role.replace(/[^a-z-]/gi, '').toLowerCase();
    }
    setText('term', status.term);
    const leader = document.getElementById('leader');
    if (leader) {
      leader.replaceChildren();
      if (status.leader === null) {
        leader.append(el('span', 'badge warn', 'no leader'));
      } else {
        const label = status.leader.id + (status.leader.id === status.nodeId ? ' (this node)' : '');
        leader.append(link(ns.dashboardUrl(status.leader.url), label));
      }
    }
    setText('commit-index', status.commitIndex);
    setText('applied-index', status.appliedIndex);
    setText('snapshot-index', status.snapshotIndex);
    setText('last-log-index', status.lastLogIndex);
  }

  function lagBar(lag, maxLag) {
    const bar = el('span', 'bar');
    bar.setAttribute('aria-hidden', 'true');
    const fill = el('span', 'bar-fill' + (lag !== null && lag > 0 ? ' behind' : ''));
    const share = lag === null || maxLag <= 0 ? 0 : Math.min(1, lag / maxLag);
    fill.style.width = (share * 100).toFixed(1) + '%';
    bar.append(fill);
    return bar;
  }

  function connectedCell(connected, reachable) {
    const td = el('td', 'connected');
    const known = reachable && connected !== null;
    const state = !known ? 'unknown' : connected ? 'yes' : 'no';
    const dot = el('span', 'dot dot-' + state);
    dot.setAttribute('aria-hidden', 'true');
    td.append(dot, el('span', null, state));
    return td;
  }

  function renderMembers(status, reachable) {
    const body = document.getElementById('members-body');
    if (!body) return;
    // Match index and lag are tracked by the leader only: a follower does not know them for
    // the others, so it shows them as unknown rather than as 0.
    const members =
      status.role === 'leader' ? status.members : status.members.map((m) => (m.id === status.nodeId ? m : { ...m, matchIndex: null, lag: null }));
    let maxLag = 10; // a lag of a few entries should not fill the bar
    for (const m of members) if (m.lag !== null && m.lag > maxLag) maxLag = m.lag;
    const rows = members.map((m) => {
      const tr = el('tr');
      tr.dataset.memberId = m.id;
      const idCell = el('th', null, m.id);
      idCell.scope = 'row';
      if (status.leader !== null && status.leader.id === m.id) idCell.append(' ', el('span', 'tag', 'leader'));
      if (m.id === status.nodeId) idCell.append(' ', el('span', 'tag', 'this node'));
      const urlCell = el('td');
      urlCell.append(link(ns.dashboardUrl(m.url), show(m.url)));
      const lagCell = el('td', 'lag');
      lagCell.append(el('span', 'lag-value', show(m.lag)), lagBar(m.lag, maxLag));
      tr.append(
        idCell,
        urlCell,
        el('td', null, m.voter ? 'voter' : 'learner'),
        el('td', 'num match-index', show(m.matchIndex)),
        lagCell,
        connectedCell(m.connected, reachable),
      );
      return tr;
    });
    if (rows.length === 0) {
      const tr = el('tr');
      const td = el('td', 'empty', 'No members reported.');
      td.colSpan = 6;
      tr.append(td);
      rows.push(tr);
    }
    body.replaceChildren(...rows);
  }

  /** Connection line: live, or unreachable since the first failed poll. */
  function renderConnection(conn) {
    const node = document.getElementById('connection');
    const updated = document.getElementById('updated');
    document.body.classList.toggle('unreachable', conn.reachable === false);
    if (node) {
      if (conn.reachable === null) {
        node.textContent = 'Connecting…';
        node.className = 'badge';
      } else if (conn.reachable) {
        node.textContent = 'Live';
        node.className = 'badge ok';
      } else {
        node.textContent = 'Unreachable since ' + formatTime(conn.unreachableSince) + (conn.reason ? ' (' + conn.reason + ')' : '');
        node.className = 'badge bad';
      }
    }
    if (updated) {
      updated.textContent = conn.lastOkAt === null ? 'no data yet' : 'last data ' + formatTime(conn.lastOkAt);
    }
  }

  function setHidden(id, hidden) {
    const node = document.getElementById(id);
    if (node) node.hidden = hidden;
  }

  /**
   * The login form instead of the data while a login is needed; the user and "log out" while
   * logged in; a clear message instead of the data for a user who may not read the status.
   */
  function renderAuth(auth) {
    const showLogin = auth.needsLogin;
    const showForbidden = !showLogin && auth.forbidden;
    setHidden('login', !showLogin);
    setHidden('forbidden', !showForbidden);
    setHidden('summary', showLogin || showForbidden);
    setHidden('content', showLogin || showForbidden);
    setHidden('session', auth.user === null);
    const user = document.getElementById('session-user');
    if (user) user.textContent = auth.user === null ? '' : auth.user;
    const message = document.getElementById('login-message');
    if (message) message.textContent = auth.loginMessage || '';
    const error = document.getElementById('login-error');
    if (error) error.textContent = auth.loginError || '';
    const forbidden = document.getElementById('forbidden');
    if (forbidden) forbidden.textContent = showForbidden ? ns.forbiddenText(auth.user) : '';
  }

  ns.renderAuth = renderAuth;
  ns.renderHeader = renderHeader;
  ns.renderMembers = renderMembers;
  ns.renderConnection = renderConnection;
})((globalThis.CSDash = globalThis.CSDash || {}));
