// The dashboard in headless Chromium against a fake node whose answers change:
// a healthy 3-member cluster, a leader change, 503s, the node going down and
// coming back; then against a real server (in-process, in-memory database): the panels
// show its /cluster/metrics, and its events reach the timeline.
// Chromium is required: without it this suite fails, it does not skip.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser, Page } from 'playwright-core';
import { launchChromium, newPage } from './chromium.ts';
import type { RaftMetrics } from '../../src/node/node-metrics.ts';
import { dashboardHtml } from '../../src/dashboard/index.ts';
import { send, startTestServer, type TestServer } from '../server/helpers.ts';
import { FakeNode, type FakeStatus } from './fake-node.ts';

const WAIT = { timeout: 8000, polling: 50 } as const;

interface Snapshot {
  polls: number;
  failures: number;
  renderErrors: number;
  lastError: string | null;
  reachable: boolean | null;
  samples: number;
  requestCounter: string | null;
  charts: Record<string, { points: number; series: number; nonNull: number; labels: string[]; last: (number | null)[] } | null> | null;
}

function initialStatus(): FakeStatus {
  return {
    nodeId: '1',
    url: 'http://127.0.0.1:7001',
    role: 'leader',
    term: 3,
    leader: { id: '1', url: 'http://127.0.0.1:7001' },
    commitIndex: 100,
    appliedIndex: 100,
    snapshotIndex: 0,
    lastLogIndex: 100,
    members: [
      { id: '1', url: 'http://127.0.0.1:7001', voter: true, matchIndex: 100, lag: 0, connected: true },
      { id: '2', url: 'http://127.0.0.1:7002', voter: true, matchIndex: 95, lag: 5, connected: true },
      { id: '3', url: 'http://127.0.0.1:7003', voter: false, matchIndex: 0, lag: 120, connected: false },
    ],
  };
}

/** The leader's metrics: one follower close behind, one far behind and unreachable. */
function leaderMetrics(): RaftMetrics {
  return {
    node_id: 1,
    role: 'leader',
    current_term: 3,
    current_leader: 1,
    cluster_size: 3,
    healthy_nodes: 2,
    commit_latency_ms: 4.2,
    commit_latency: { count: 50, mean_ms: 4.2, p50_ms: 5, p99_ms: 10 },
    replication_lag_ms: { '2': 40, '3': 2500 },
    replication_lag: [
      { node: 2, entries: 5, ms: 40 },
      { node: 3, entries: 120, ms: 2500 },
    ],
    throughput_ops_per_sec: 250,
    election_count: 2,
    elections_started: 3,
    election_success_rate: 2 / 3,
    last_election_duration_ms: 420,
    average_election_duration_ms: 380,
    time_since_last_election_ms: 90_000,
    log_size_entries: 1500,
    last_applied_index: 100,
    commit_index: 100,
    last_log_index: 100,
    log_bytes_on_disk: 3 * 1024 * 1024,
    snapshot_index: 0,
    snapshot_bytes: 0,
    snapshot_age_ms: null,
    log_sync_latency: { count: 50, mean_ms: 1, p50_ms: 1, p99_ms: 2 },
    process_cpu_percent: 7.5,
    process_resident_memory_bytes: 80 * 1024 * 1024,
    process_heap_used_bytes: 30 * 1024 * 1024,
  };
}

describe('dashboard in Chromium', () => {
  const node = new FakeNode(initialStatus());
  node.metrics = { ...leaderMetrics() };
  let seq = 0;
  /** An event as the node formats it, stamped now. */
  function sendEvent(details: Record<string, unknown> & { type: string }): number {
    return node.sendEvent({ seq: ++seq, at: new Date().toISOString(), node: 1, term: node.status.term, ...details });
  }
  let browser: Browser;
  let page: Page;
  const problems: string[] = [];
  // Chromium itself logs every failed fetch ("Failed to load resource: ...") as a
  // console error. Those are expected only while the test makes the node fail.
  const networkErrors: string[] = [];
  let failing = false;
  const foreignRequests: string[] = [];

  async function snapshot(): Promise<Snapshot> {
    return page.evaluate(() => (globalThis as unknown as { __dashboard: { snapshot(): Snapshot } }).__dashboard.snapshot());
  }

  async function text(selector: string): Promise<string> {
    return (await page.locator(selector).innerText()).trim();
  }

  /** Rows of the members table as [id cell, lag value, connected]. */
  async function rows(): Promise<string[][]> {
    return page.$$eval('#members-body tr', (trs) =>
      trs.map((tr) => [
        tr.querySelector('th')?.textContent ?? '',
        tr.querySelector('.lag-value')?.textContent ?? '',
        tr.querySelector('.connected')?.textContent ?? '',
      ]),
    );
  }

  before(async () => {
    await node.start();
    browser = await launchChromium(['--disable-sync']);
    page = await newPage(browser, problems);
    page.on('console', (msg) => {
      if (msg.type() !== 'error' && msg.type() !== 'warning') return;
      if (failing && msg.text().startsWith('Failed to load resource:')) networkErrors.push(msg.text());
      else problems.push(`console ${msg.type()}: ${msg.text()}`);
    });
    page.on('request', (req) => {
      if (!req.url().startsWith(node.origin + '/')) foreignRequests.push(req.url());
    });
    await page.goto(`${node.origin}/dashboard?poll=150`);
  });

  after(async () => {
    await browser?.close();
    await node.stop();
  });

  test('the header shows this node, its role, term and leader', async () => {
    await page.waitForFunction(() => document.getElementById('connection')?.textContent === 'Live', null, WAIT);
    assert.equal(await text('#node-id'), '1');
    assert.equal(await text('#role'), 'leader');
    assert.equal(await text('#term'), '3');
    assert.equal(await text('#leader'), '1 (this node)');
    assert.equal(await page.getAttribute('#leader a', 'href'), 'http://127.0.0.1:7001/dashboard');
    const commit = Number(await text('#commit-index'));
    assert.ok(commit > 100, `commit index ${commit} advanced past the initial 100`);
  });

  test('the members table has one row per member with its lag', async () => {
    assert.deepEqual(await rows(), [
      ['1 leader this node', '0', 'yes'],
      ['2', '5', 'yes'],
      ['3', '120', 'no'],
    ]);
    const kinds = await page.$$eval('#members-body tr td:nth-child(3)', (tds) => tds.map((td) => td.textContent));
    assert.deepEqual(kinds, ['voter', 'voter', 'learner']);
    const links = await page.$$eval('#members-body tr td:nth-child(2) a', (as) => as.map((a) => a.getAttribute('href')));
    assert.deepEqual(links, ['http://127.0.0.1:7001/dashboard', 'http://127.0.0.1:7002/dashboard', 'http://127.0.0.1:7003/dashboard']);
    // The biggest lag fills its bar; no lag leaves it empty.
    const widths = await page.$$eval('#members-body .bar-fill', (fills) => fills.map((f) => (f as HTMLElement).style.width));
    assert.deepEqual(widths, ['0%', '4.2%', '100%']);
  });

  test('the charts draw canvases and receive the sampled series', async () => {
    node.status.members[1]!.lag = 40; // lag changes over time
    await page.waitForFunction(
      () => {
        const s = (globalThis as unknown as { __dashboard: { snapshot(): Snapshot } }).__dashboard.snapshot();
        return s.charts !== null && s.charts.requests !== null && s.charts.commit!.nonNull >= 4;
      },
      null,
      WAIT,
    );
    for (const id of ['#chart-commit', '#chart-lag', '#chart-requests']) {
      assert.equal(await page.locator(`${id} canvas`).count(), 1, `${id} has a canvas`);
    }
    const s = await snapshot();
    assert.ok(s.charts !== null);
    assert.equal(s.requestCounter, 'http_requests_total');
    assert.equal(s.charts.commit!.points, s.samples);
    assert.deepEqual(s.charts.lag!.labels, ['member 1', 'member 2', 'member 3']);
    assert.ok(s.charts.requests!.nonNull >= 1);
    // Each poll adds 5 commits and 12 requests over the same interval, so whatever
    // the timing, the two rates stand in the ratio 12:5.
    const commitRate = s.charts.commit!.last[0]!;
    const requestRate = s.charts.requests!.last[0]!;
    assert.ok(commitRate > 0, `commit rate ${commitRate}`);
    assert.ok(Math.abs(requestRate / commitRate - 12 / 5) < 1e-9, `requests ${requestRate}/s vs commits ${commitRate}/s`);
    await page.waitForFunction(() => document.querySelector('#members-body tr:nth-child(2) .lag-value')?.textContent === '40', null, WAIT);
    await page.waitForFunction(
      () => {
        const c = (globalThis as unknown as { __dashboard: { snapshot(): Snapshot } }).__dashboard.snapshot().charts;
        return c?.lag?.last.join() === '0,40,120';
      },
      null,
      WAIT,
    );
    await page.screenshot({ path: '/tmp/dashboard.png', fullPage: true });
  });

  test("the panels show the followers' lag; an event sent on /cluster/events appears in the timeline", async () => {
    await page.waitForFunction(() => document.getElementById('health-nodes')?.textContent === '2 / 3', null, WAIT);
    assert.equal(await page.getAttribute('#health-nodes', 'class'), 'badge warn', 'a follower down, a majority up');
    assert.equal(await text('#elections-success'), '66.7 %');
    assert.equal(await text('#performance-ops'), '250');
    const lagRows = await page.$$eval('#replication-lags-body tr', (trs) => trs.map((tr) => Array.from(tr.children, (c) => c.textContent)));
    assert.deepEqual(lagRows, [
      ['2', '40 ms', '5'],
      ['3', '2.5 s', '120'],
    ]);
    await page.waitForFunction(
      () => (globalThis as unknown as { __dashboard: { snapshot(): Snapshot } }).__dashboard.snapshot().charts?.lagMs?.last.join() === '40,2500',
      null,
      WAIT,
    );
    assert.deepEqual((await snapshot()).charts!.lagMs!.labels, ['follower 2', 'follower 3']);

    await page.waitForFunction(() => document.getElementById('timeline-status')?.textContent === 'Live', null, WAIT);
    assert.equal(await page.locator('#timeline-list li.event').count(), 0);
    assert.equal(sendEvent({ type: 'node_left', member: 3 }), 1, 'one subscriber: the page');
    sendEvent({ type: 'leader_elected', leader: 1, election_duration_ms: 420 });
    await page.waitForFunction(() => document.querySelectorAll('#timeline-list li.event').length === 2, null, WAIT);
    assert.deepEqual(await page.$$eval('#timeline-list li.event .event-text', (spans) => spans.map((s) => s.textContent)), [
      'Node 1 elected leader of term 3 (420 ms without a leader)',
      'Node 3 unreachable',
    ]);
    assert.equal(await page.locator('#timeline-strip rect.mark-leader').count(), 1);
    assert.equal(await page.locator('#timeline-strip rect.mark-node').count(), 1);
    // The elections chart has the one timed election, full height.
    assert.equal(await page.locator('#elections-chart rect.election-bar').count(), 1);
    assert.match((await page.locator('#elections-chart rect.election-bar title').textContent()) ?? '', /^term 3, node 1: 420 ms without a leader$/);
    assert.equal(await text('#elections-chart-caption'), 'Time without a leader per election (1 kept by this node).');
  });

  test('a leader change is reflected in the header and the table', async () => {
    node.status.role = 'follower';
    node.status.term = 4;
    node.status.leader = { id: '2', url: 'http://127.0.0.1:7002' };
    await page.waitForFunction(() => document.getElementById('term')?.textContent === '4', null, WAIT);
    assert.equal(await text('#role'), 'follower');
    assert.equal(await text('#leader'), '2');
    assert.equal(await page.getAttribute('#leader a', 'href'), 'http://127.0.0.1:7002/dashboard');
    const table = await rows();
    assert.deepEqual(
      table.map((r) => r[0]),
      ['1 this node', '2 leader', '3'],
    );
    // A follower does not track the others' replication: unknown, not 0.
    const ownLag = String(node.status.members.find((m) => m.id === node.status.nodeId)?.lag ?? '');
    assert.deepEqual(
      table.map((r) => r[1]),
      [ownLag, '—', '—'],
    );
  });

  test('no leader is shown as such', async () => {
    node.status.role = 'candidate';
    node.status.term = 5;
    node.status.leader = null;
    await page.waitForFunction(() => document.getElementById('term')?.textContent === '5', null, WAIT);
    assert.equal(await text('#leader'), 'no leader');
    assert.equal(await page.locator('#leader a').count(), 0);
  });

  test('503 answers turn the page unreachable, and it keeps polling', async () => {
    failing = true;
    node.mode = 'error503';
    await page.waitForFunction(
      () => /^Unreachable since .+ \(HTTP 503\)$/.test(document.getElementById('connection')?.textContent ?? ''),
      null,
      WAIT,
    );
    const before = node.statusRequests;
    await page.waitForFunction(
      () => (globalThis as unknown as { __dashboard: { snapshot(): Snapshot } }).__dashboard.snapshot().failures >= 3,
      null,
      WAIT,
    );
    assert.ok(node.statusRequests > before, 'still polling');
    // The last known state stays on screen.
    assert.equal(await text('#term'), '5');
    assert.equal((await rows()).length, 3);
  });

  test('connection resets and a node that is down keep the unreachable state, then it recovers', async () => {
    const since = await text('#connection');
    node.mode = 'reset';
    await page.waitForFunction(() => /\(connection failed\)$/.test(document.getElementById('connection')?.textContent ?? ''), null, WAIT);
    // "since" is the first failure, not the latest one.
    assert.equal((await text('#connection')).replace(/ \(.*\)$/, ''), since.replace(/ \(.*\)$/, ''));

    await node.stop();
    const failures = (await snapshot()).failures;
    await page.waitForFunction(
      (n) => (globalThis as unknown as { __dashboard: { snapshot(): Snapshot } }).__dashboard.snapshot().failures >= n + 3,
      failures,
      WAIT,
    );
    assert.match(await text('#connection'), /^Unreachable since /);

    node.mode = 'ok';
    node.status.role = 'follower';
    node.status.term = 6;
    node.status.leader = { id: '3', url: 'http://127.0.0.1:7003' };
    await node.start();
    await page.waitForFunction(() => document.getElementById('connection')?.textContent === 'Live', null, WAIT);
    await page.waitForFunction(() => document.getElementById('term')?.textContent === '6', null, WAIT);
    failing = false;
    assert.equal(await text('#leader'), '3');
  });

  test("the timeline follows the node's new stream after it came back, its numbering restarted", async () => {
    await page.waitForFunction(() => document.getElementById('timeline-status')?.textContent === 'Live', null, WAIT);
    assert.ok(node.eventsRequests >= 2, `reconnected: ${node.eventsRequests} requests`);
    seq = 0; // a restarted node numbers its events from 1 again
    sendEvent({ type: 'leader_elected', leader: 3, election_duration_ms: 150 });
    await page.waitForFunction(() => document.querySelectorAll('#timeline-list li.event').length === 3, null, WAIT);
    assert.equal(
      await page.locator('#timeline-list li.event .event-text').first().innerText(),
      'Node 3 elected leader of term 6 (150 ms without a leader)',
    );
  });

  test('no errors in the page, nothing fetched from elsewhere', async () => {
    const s = await snapshot();
    assert.equal(s.renderErrors, 0, s.lastError ?? '');
    assert.deepEqual(foreignRequests, []);
    assert.deepEqual(problems, []);
    assert.ok(networkErrors.length > 0, 'the console listener saw the failed loads');
  });
});

describe('dashboard panels and timeline in Chromium, against a real server', () => {
  let server: TestServer;
  let origin: string;
  let browser: Browser;
  let page: Page;
  const problems: string[] = [];

  interface PanelSnapshot {
    renderErrors: number;
    lastError: string | null;
    events: { state: string; timeline: { seq: number; type: string }[] };
    charts: Record<string, { points: number; nonNull: number; labels: string[]; last: (number | null)[] } | null> | null;
  }

  async function snapshot(): Promise<PanelSnapshot> {
    return page.evaluate(() => (globalThis as unknown as { __dashboard: { snapshot(): PanelSnapshot } }).__dashboard.snapshot());
  }

  async function metrics(): Promise<RaftMetrics> {
    const res = await fetch(`${origin}/cluster/metrics`);
    assert.equal(res.status, 200);
    return (await res.json()) as RaftMetrics;
  }

  /** The panel texts the test expects, written from the raw JSON (not by the page's code). */
  function expected(m: RaftMetrics): Record<string, string> {
    return {
      '#health-nodes': `${m.healthy_nodes} / ${m.cluster_size}`,
      '#health-leader': `node ${m.current_leader} (this node)`,
      '#health-term': String(m.current_term),
      '#elections-count': String(m.election_count),
      '#elections-success': `${Math.round((m.election_success_rate ?? NaN) * 1000) / 10} %`,
      '#elections-success-detail': `${m.election_count} leader${m.election_count === 1 ? '' : 's'} in ${m.elections_started} term${m.elections_started === 1 ? '' : 's'}`,
      '#replication-log-entries': m.log_size_entries.toLocaleString('en-US'),
      '#replication-commit-index': m.commit_index.toLocaleString('en-US'),
      '#replication-snapshot-index': m.snapshot_index.toLocaleString('en-US'),
    };
  }

  async function shown(selectors: string[]): Promise<Record<string, string>> {
    const out: Record<string, string> = {};
    for (const selector of selectors) out[selector] = (await page.locator(selector).innerText()).trim();
    return out;
  }

  /** The panels agree with a /cluster/metrics read around the same time (the node is idle). */
  async function panelsMatch(): Promise<void> {
    let last = '';
    const until = Date.now() + WAIT.timeout;
    while (Date.now() < until) {
      const want = expected(await metrics());
      const got = await shown(Object.keys(want));
      if (JSON.stringify(got) === JSON.stringify(want)) return;
      last = `shown ${JSON.stringify(got)}\nexpected ${JSON.stringify(want)}`;
      await page.waitForTimeout(100);
    }
    assert.fail(last);
  }

  before(async () => {
    server = await startTestServer({ dashboardHtml: dashboardHtml() });
    origin = await server.app.listen({ port: 0, host: '127.0.0.1' });
    for (let i = 0; i < 30; i++) assert.equal((await send(server.app, 'POST', '/api/things', { n: i })).statusCode, 201);
    browser = await launchChromium();
    page = await newPage(browser, problems);
    page.on('console', (msg) => {
      if (msg.type() === 'error' || msg.type() === 'warning') problems.push(`console ${msg.type()}: ${msg.text()}`);
    });
    await page.goto(`${origin}/dashboard?poll=150`);
  });

  after(async () => {
    await browser?.close();
    await server?.close();
  });

  test("the panels show the numbers of the server's /cluster/metrics", async () => {
    await page.waitForFunction(() => document.getElementById('connection')?.textContent === 'Live', null, WAIT);
    await panelsMatch();
    const m = await metrics();
    assert.ok(m.log_size_entries >= 31 && m.election_count === 1, JSON.stringify(m));
    // A group of one: every member up, so the badge says healthy.
    assert.equal(await page.getAttribute('#health-nodes', 'class'), 'badge ok');
    assert.equal(await page.locator('#replication-lags-body td.empty').innerText(), 'No followers.');
    for (const id of ['#performance-memory', '#performance-heap']) assert.match(await page.locator(id).innerText(), /^\d+\.\d (MiB|GiB)$/, id);
    assert.match(await page.locator('#performance-cpu').innerText(), /^\d+\.\d %$/);
    assert.notEqual(await page.locator('#health-since-election').innerText(), '—');
  });

  test('the performance charts plot the metrics over time', async () => {
    for (let i = 0; i < 30; i++) assert.equal((await send(server.app, 'POST', '/api/things', { n: i })).statusCode, 201);
    // Throughput is sampled once a second over 10 s: these writes show within about a second.
    await page.waitForFunction(
      () => {
        const c = (globalThis as unknown as { __dashboard: { snapshot(): PanelSnapshot } }).__dashboard.snapshot().charts;
        return c !== null && (c.memory?.points ?? 0) >= 3 && (c.cpu?.nonNull ?? 0) >= 3 && (c.ops?.last[0] ?? 0) > 0;
      },
      null,
      WAIT,
    );
    for (const id of ['#chart-ops', '#chart-cpu', '#chart-memory', '#chart-latency', '#chart-lag-ms']) {
      assert.equal(await page.locator(`${id} canvas`).count(), 1, `${id} has a canvas`);
    }
    const charts = (await snapshot()).charts!;
    assert.deepEqual(charts.memory!.labels, ['resident MiB', 'heap used MiB']);
    const m = await metrics();
    const rssMiB = m.process_resident_memory_bytes / 1024 / 1024;
    const plotted = charts.memory!.last[0]!;
    assert.ok(plotted > rssMiB / 2 && plotted < rssMiB * 2, `resident ${plotted} MiB plotted, ${rssMiB} MiB now`);
    assert.ok(charts.latency!.nonNull >= 1, "the leader's commit latency is plotted");
  });

  test('the leader election kept by the node and a snapshot taken now appear in the timeline', async () => {
    await page.waitForFunction(() => document.querySelector('#timeline-list li[data-type="leader_elected"]') !== null, null, WAIT);
    const m = await metrics();
    const elected = await page.locator('#timeline-list li[data-type="leader_elected"] .event-text').innerText();
    assert.match(elected, new RegExp(`^Node ${m.current_leader} elected leader of term ${m.current_term}`));
    assert.equal(await page.locator('#timeline-status').innerText(), 'Live');

    const taken = await send(server.app, 'POST', '/cluster/snapshot');
    assert.equal(taken.statusCode, 200, taken.body);
    const index = (taken.json() as { index: number }).index;
    await page.waitForFunction(() => document.querySelector('#timeline-list li[data-type="snapshot_taken"]') !== null, null, WAIT);
    const items = await page.$$eval('#timeline-list li', (lis) =>
      lis.map((li) => [li.getAttribute('data-type'), li.querySelector('.event-text')?.textContent]),
    );
    assert.deepEqual(items[0]![0], 'snapshot_taken', 'newest first');
    assert.match(items[0]![1] ?? '', new RegExp(`^Snapshot taken at index ${index} \\(`));
    // Drawn on the strip too, in the snapshot lane.
    const seq = await page.getAttribute('#timeline-list li[data-type="snapshot_taken"]', 'data-seq');
    assert.equal(await page.locator(`#timeline-strip rect.mark-snapshot[data-seq="${seq}"]`).count(), 1);
    await page.waitForFunction((i) => document.getElementById('replication-snapshot-index')?.textContent === i.toLocaleString('en-US'), index, WAIT);
    await page.screenshot({ path: '/tmp/dashboard-panels.png', fullPage: true });
  });

  test('no errors in the page', async () => {
    const s = await snapshot();
    assert.equal(s.renderErrors, 0, s.lastError ?? '');
    assert.deepEqual(problems, []);
  });
});
