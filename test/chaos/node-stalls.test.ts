// What the chaos report says about the nodes' own stalls: the monitor gathers the event-loop
// stalls and slow log writes each node reports in GET /cluster/status (once each, 100 ms or
// longer, malformed records skipped), and the report places the longest interruption and
// names the stalls that overlap it.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import type { ChaosCluster } from '../../src/chaos/chaos-cluster.ts';
import { ChaosHistory } from '../../src/chaos/history.ts';
import { LeaderMonitor, NODE_STALL_MS_MIN, type NodeStall } from '../../src/chaos/monitor.ts';
import { NodeClient } from '../../src/chaos/node-client.ts';
import { reportHtml } from '../../src/chaos/report-html.ts';
import { buildReport, reportText } from '../../src/chaos/report.ts';
import { reportInput } from './report-input.ts';

function statusServer(body: () => unknown): Promise<Server> {
  const server = createServer((req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify(req.url === '/cluster/status' ? body() : {}));
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

function clusterOf(urls: ReadonlyMap<number, string>): ChaosCluster {
  const none = (): Promise<void> => Promise.resolve();
  return {
    ids: [...urls.keys()],
    url: (id) => urls.get(id)!,
    reachable: () => true,
    crash: none,
    stop: none,
    restart: none,
    pause: none,
    partition: none,
    heal: none,
    close: none,
  };
}

test('the monitor gathers each node stall of 100 ms or more once, on the history clock, and skips malformed ones', async () => {
  const now = Date.now();
  let answers = 0;
  const server = await statusServer(() => {
    answers += 1;
    return {
      nodeId: 1,
      term: 2,
      leader: { id: 1, url: 'x' },
      loopStalls: {
        wallMsMax: 300,
        busyMsMax: 20,
        recent: [
          { endedAt: now - 5000, wallMs: 40, busyMs: 30, coreWaitMs: 0 },
          { endedAt: now - 2000, wallMs: 300, busyMs: 20, coreWaitMs: 250 },
          { endedAt: 'soon', wallMs: 900, busyMs: 1 },
          null,
        ],
      },
      slowLogWrites: [{ endedAt: now - 1000, durationMs: 150, bytes: 4096 }, { endedAt: now - 900, durationMs: 99.9, bytes: 1 }, 7],
    };
  });
  const client = new NodeClient(2000);
  try {
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const history = new ChaosHistory();
    const monitor = new LeaderMonitor(clusterOf(new Map([[1, url]])), client, () => history.nowMs());
    // The same records come back in every answer while they are recent: kept once.
    await monitor.current();
    await monitor.current();
    assert.equal(answers, 2);
    assert.equal(monitor.leader, 1);
    assert.equal(monitor.stalls.length, 2, JSON.stringify(monitor.stalls));
    const [loop, write] = monitor.stalls as [NodeStall, NodeStall];
    assert.equal(loop.kind, 'loop');
    assert.equal(loop.durationMs, 300);
    assert.equal(loop.busyMs, 20);
    assert.equal(loop.coreWaitMs, 250);
    assert.equal(write.kind, 'log write');
    assert.equal(write.durationMs, 150);
    // Node wall clock -> history clock: 2 s and 1 s before "now" on the history's clock. The
    // monitor maps the clocks as it polls, so the mapped times fall behind "now" on the history's
    // clock by the test's own time since `now` was read, at most (a busy CI box: over 200 ms).
    const historyNow = history.nowMs();
    const slackMs = Date.now() - now + 20;
    const behind = (endMs: number, agoMs: number): number => historyNow - agoMs - endMs;
    assert.ok(behind(loop.endMs, 2000) >= -20 && behind(loop.endMs, 2000) <= slackMs, `${loop.endMs} vs ${historyNow - 2000}, slack ${slackMs}`);
    assert.ok(behind(write.endMs, 1000) >= -20 && behind(write.endMs, 1000) <= slackMs, `${write.endMs} vs ${historyNow - 1000}, slack ${slackMs}`);
    assert.equal(monitor.stallsNotKept, 0);
  } finally {
    await client.close();
    server.close();
  }
});

/** A history on a clock the test sets (ns): a loaded box cannot stretch its gaps. */
class SetClockHistory extends ChaosHistory {
  ns = 0;
  override now(): number {
    return this.ns;
  }
}

test('the report places the longest interruption and names the node stalls that overlap it', () => {
  const history = new SetClockHistory();
  const write = (atMs: number, value: string): void => {
    history.ns = atMs * 1e6;
    const op = history.invoke(1, 'write', 'k0', value, 1);
    history.complete(op, 'ok', value);
  };
  // Writes every 3 ms for a while, then a gap of 60 ms: the longest.
  for (let i = 0; i < 10; i++) write(i * 3, `w${i}`);
  write(30, 'a');
  const gapFrom = history.nowMs();
  write(90, 'b');
  const gapTo = history.nowMs();
  write(90, 'c');
  history.ns = 110 * 1e6;
  const loadEndMs = history.nowMs();
  const stalls: NodeStall[] = [
    // Inside the gap, straddling its start, and before it.
    { node: 2, kind: 'loop', endMs: gapFrom + 40, durationMs: 30, busyMs: 2, coreWaitMs: 25 },
    { node: 3, kind: 'log write', endMs: gapFrom + 5, durationMs: 120 },
    { node: 1, kind: 'loop', endMs: gapFrom - 15, durationMs: 100, busyMs: 90, coreWaitMs: 0 },
    // The load generator's own hold, ending inside the gap.
    { node: 0, kind: 'generator', endMs: gapFrom + 50, durationMs: 110, busyMs: 100, coreWaitMs: 3 },
    // Starting inside the gap and ending after it: overlaps.
    { node: 1, kind: 'log write', endMs: gapTo + 1, durationMs: 5 },
    // Starting after the gap, and one before the load (a node's start): neither overlaps it.
    { node: 2, kind: 'log write', endMs: gapTo + 3, durationMs: 1 },
    { node: 3, kind: 'loop', endMs: -10, durationMs: 500, busyMs: 400, coreWaitMs: 0 },
  ];
  const r = buildReport(reportInput(history, { loadEndMs, nodeStalls: stalls, nodeStallsNotKept: 3 }));
  assert.ok(r.maxInterruptionMs >= 60, String(r.maxInterruptionMs));
  assert.ok(Math.abs(r.maxInterruption.fromMs - gapFrom) < 1, `${r.maxInterruption.fromMs} vs ${gapFrom}`);
  assert.ok(Math.abs(r.maxInterruption.toMs - gapTo) < 1, `${r.maxInterruption.toMs} vs ${gapTo}`);
  assert.deepEqual(
    r.nodeStalls.duringMaxInterruption.map((s) => s.node),
    [3, 2, 0, 1],
  );
  assert.deepEqual(r.nodeStalls.generator, { count: 1, maxMs: 110 });
  assert.deepEqual(r.nodeStalls.loop, { count: 2, maxMs: 100 });
  // The loop stall that ended before the load started is not counted.
  assert.deepEqual(r.nodeStalls.logWrite, { count: 3, maxMs: 120 });
  assert.equal(r.nodeStalls.notKept, 3);
  assert.deepEqual(
    r.nodeStalls.list.map((s) => s.node),
    [1, 3, 2, 0, 1, 2],
  );
  const text = reportText(r);
  assert.match(
    text,
    new RegExp(
      `node stalls +2 event-loop stalls \\(longest 100 ms\\), 3 slow log writes \\(longest 120 ms\\) of ${NODE_STALL_MS_MIN} ms or more; 3 more not kept`,
    ),
  );
  assert.match(text, /during it: node 3 log write of 120 ms/);
  assert.match(text, /during it: node 2 event loop held 30 ms \(.*its own work 2 ms, waiting for a core 25 ms\)/);
  assert.match(text, /the load generator's own: 1 stalls \(longest 110 ms\)/);
  assert.match(text, /during it: the load generator's own event loop held 110 ms/);
  assert.match(text, /during it: node 1 log write of 5 ms/);
  assert.doesNotMatch(text, /during it: node 1 event loop/);
  assert.doesNotMatch(text, /during it: node 2 log write/);
  // report.html draws the gap as a band and every stall counted as a mark with its title.
  const html = reportHtml(r);
  assert.match(html, new RegExp(`<title>longest interruption: ${r.maxInterruptionMs} ms</title>`));
  assert.match(html, /<title>node log write, node 3: 120 ms at [\d.]+ s<\/title>/);
  assert.match(html, /<title>generator stall, load generator: 110 ms at [\d.]+ s<\/title>/);
  assert.equal(
    (html.match(/<title>(node loop stall|node log write|generator stall),/g) ?? []).length,
    2 * r.nodeStalls.list.length,
    'each stall on both charts',
  );
});
