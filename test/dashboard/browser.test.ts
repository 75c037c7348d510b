// The dashboard in headless Chromium against a fake node whose answers change:
// a healthy 3-member cluster, a leader change, 503s, the node going down and
// coming back. Chromium is required: without it this suite fails, it does not skip.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';
import { FakeNode, type FakeStatus } from './fake-node.ts';

const CHROMIUM = '/usr/bin/chromium';
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

describe('dashboard in Chromium', () => {
  const node = new FakeNode(initialStatus());
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
    if (!existsSync(CHROMIUM)) {
      throw new Error(`Chromium not found at ${CHROMIUM}: install the Debian package (apt-get install -y chromium)`);
    }
    await node.start();
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    page.on('pageerror', (err) => problems.push(`pageerror: ${err.message}`));
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

  test('no errors in the page, nothing fetched from elsewhere', async () => {
    const s = await snapshot();
    assert.equal(s.renderErrors, 0, s.lastError ?? '');
    assert.deepEqual(foreignRequests, []);
    assert.deepEqual(problems, []);
    assert.ok(networkErrors.length > 0, 'the console listener saw the failed loads');
  });
});
