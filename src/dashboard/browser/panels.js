// Renders the panels fed by GET /cluster/metrics (cluster health, elections, replication,
// performance) and the timeline of cluster events (a strip of the last minutes, drawn as
// inline SVG, and the list of kept events). Builds DOM nodes with textContent only: nothing
// from the server is parsed as HTML.
(function (ns) {
  'use strict';

  const SVG = 'http://www.w3.org/2000/svg';
  const LANES = ['leader', 'member', 'snapshot', 'node'];
  const LANE_PX = 14;
  const STRIP_HEIGHT_PX = LANES.length * LANE_PX + 4;

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function svg(tag, attrs) {
    const node = document.createElementNS(SVG, tag);
    for (const key of Object.keys(attrs)) node.setAttribute(key, String(attrs[key]));
    return node;
  }

  function formatClock(ms) {
    return new Date(ms).toLocaleTimeString(undefined, { hour12: false });
  }

  /** The metrics panels; `metrics` null shows dashes and `note` says why. */
  function renderPanels(metrics, note) {
    const noteNode = document.getElementById('metrics-note');
    if (noteNode) {
      noteNode.textContent = note || '';
      noteNode.hidden = !note;
    }
    if (metrics === null) return;
    const texts = ns.panelText(metrics);
    for (const id of Object.keys(texts)) {
      const node = document.getElementById(id);
      if (node) node.textContent = texts[id];
    }
    const level = ns.healthLevel(metrics);
    const health = document.getElementById('health-nodes');
    if (health) health.className = 'badge' + (level === null ? '' : ' ' + level);
    const fill = document.getElementById('elections-success-bar');
    if (fill) {
      const r = metrics.electionSuccessRate;
      fill.style.width = r === null ? '0%' : (Math.max(0, Math.min(1, r)) * 100).toFixed(1) + '%';
    }
    renderLagTable(metrics);
  }

  function renderLagTable(metrics) {
    const body = document.getElementById('replication-lags-body');
    if (!body) return;
    const rows = ns.lagRows(metrics).map((cells) => {
      const tr = el('tr');
      tr.dataset.node = cells[0];
      const th = el('th', null, cells[0]);
      th.scope = 'row';
      tr.append(th, el('td', 'num lag-ms', cells[1]), el('td', 'num lag-entries', cells[2]));
      return tr;
    });
    if (rows.length === 0) {
      const tr = el('tr');
      const td = el('td', 'empty', metrics.role === 'leader' ? 'No followers.' : 'Measured by the leader: open its dashboard.');
      td.colSpan = 3;
      tr.append(td);
      rows.push(tr);
    }
    body.replaceChildren(...rows);
  }

  /** The strip: one lane per kind of event, a mark per event of the window, newest at the right. */
  function renderStrip(timeline, nowMs, windowMs) {
    const container = document.getElementById('timeline-strip');
    if (!container) return;
    const width = Math.max(240, Math.floor(container.clientWidth || 0));
    const root = svg('svg', { width, height: STRIP_HEIGHT_PX, viewBox: '0 0 ' + width + ' ' + STRIP_HEIGHT_PX, role: 'presentation' });
    LANES.forEach((lane, i) => {
      root.append(svg('rect', { class: 'lane', x: 0, y: i * LANE_PX + 2, width, height: LANE_PX - 2 }));
    });
    for (const mark of ns.timelineMarks(timeline, nowMs, windowMs)) {
      const lane = LANES.indexOf(mark.category);
      const x = Math.round(mark.x * (width - 4));
      const rect = svg('rect', { class: 'mark mark-' + mark.category, x, y: lane * LANE_PX + 2, width: 4, height: LANE_PX - 2 });
      rect.dataset.seq = String(mark.seq);
      const title = svg('title', {});
      title.textContent = mark.label;
      rect.append(title);
      root.append(rect);
    }
    container.replaceChildren(root);
  }

  let listVersion = -1;

  const BARS_MAX = 20;
  const BARS_HEIGHT_PX = 48;

  /** The elections chart: one bar per election in the timeline, its height the time without a leader. */
  function renderElectionBars(timeline) {
    const container = document.getElementById('elections-chart');
    if (!container) return;
    const bars = ns.electionBars(timeline, BARS_MAX);
    const width = Math.max(120, Math.floor(container.clientWidth || 0));
    const slot = width / BARS_MAX;
    const root = svg('svg', { width, height: BARS_HEIGHT_PX, viewBox: '0 0 ' + width + ' ' + BARS_HEIGHT_PX, role: 'presentation' });
    root.append(svg('rect', { class: 'lane', x: 0, y: 0, width, height: BARS_HEIGHT_PX }));
    bars.forEach((bar, i) => {
      const h = Math.max(2, Math.round(bar.height * (BARS_HEIGHT_PX - 4)));
      const rect = svg('rect', {
        class: 'election-bar',
        x: Math.round(i * slot + 1),
        y: BARS_HEIGHT_PX - h,
        width: Math.max(2, Math.floor(slot - 2)),
        height: h,
      });
      rect.dataset.seq = String(bar.seq);
      const title = svg('title', {});
      title.textContent = 'term ' + bar.term + ', node ' + bar.leader + ': ' + ns.formatDuration(bar.durationMs) + ' without a leader';
      rect.append(title);
      root.append(rect);
    });
    container.replaceChildren(root);
    const caption = document.getElementById('elections-chart-caption');
    if (caption)
      caption.textContent =
        bars.length === 0 ? 'No election seen by this node is kept.' : 'Time without a leader per election (' + bars.length + ' kept by this node).';
  }

  /** The list of kept events, newest first; rebuilt only when an event came (keeps the reader's scroll). */
  function renderTimelineList(timeline) {
    const list = document.getElementById('timeline-list');
    if (!list || timeline.version === listVersion) return;
    listVersion = timeline.version;
    const items = [];
    for (let i = timeline.events.length - 1; i >= 0; i--) {
      const e = timeline.events[i];
      const li = el('li', 'event event-' + ns.eventCategory(e.type));
      li.dataset.type = e.type;
      li.dataset.seq = String(e.seq);
      const time = el('time', null, formatClock(e.atMs));
      time.dateTime = new Date(e.atMs).toISOString();
      li.append(time, ' ', el('span', 'tag', ns.eventLabel(e.type)), ' ', el('span', 'event-text', ns.describeClusterEvent(e)));
      items.push(li);
    }
    if (items.length === 0) items.push(el('li', 'empty', 'No events yet.'));
    list.replaceChildren(...items);
  }

  function renderTimeline(timeline, nowMs, windowMs, streamState) {
    renderStrip(timeline, nowMs, windowMs);
    renderTimelineList(timeline);
    renderElectionBars(timeline);
    const status = document.getElementById('timeline-status');
    if (status) {
      const s = streamState.state;
      status.textContent =
        s === 'live'
          ? 'Live'
          : s === 'retrying'
            ? 'Reconnecting' + (streamState.reason ? ' (' + streamState.reason + ')' : '')
            : s === 'connecting'
              ? 'Connecting…'
              : 'Not connected';
      status.className = 'badge' + (s === 'live' ? ' ok' : s === 'retrying' ? ' warn' : '');
    }
  }

  ns.renderPanels = renderPanels;
  ns.renderTimeline = renderTimeline;
})((globalThis.CSDash = globalThis.CSDash || {}));
