// No request the API allows costs the leader its office (issue #11, "No request can freeze
// the cluster"): on a real 3-node cluster, the largest transaction the limits allow
// commits, and the heaviest requests (that transaction, a 1 MiB document, the most keys a
// document may have, a body one value over the limit, the widest `$or`, a regex and an
// unindexed scan over 10,000 documents, a 10,000-document response, and a burst of them
// at once) change no term or leader and hold no node's event loop with its own work for
// LOOP_HOLD_BOUND_MS. `npm run bench -- abuse` measures the same at 100,000 and 1,000,000
// documents with a write load running.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { MAX_TX_OPS, REQUEST_VALUES_MAX } from '../../src/store/commands.ts';
import { FILTER_BRANCHES_MAX } from '../../src/store/validate-filter.ts';
import { DOCUMENT_KEYS_MAX } from '../../src/store/validate.ts';
import { DEFAULT_BODY_LIMIT } from '../../src/server/create-server.ts';
import type { LeaderContactStatus, LeaderGap } from '../../src/node/leader-contact.ts';
import type { LoopStall, LoopStallStatus } from '../../src/node/loop-stalls.ts';
import { acquireClusterLock, ELECTION_TIMEOUT_MS, HEARTBEAT_MS, sleep, TestCluster, type ClusterStatus } from './harness.ts';

/** Every node's leader gaps, loop stalls and terms, polled every 250 ms (a node keeps only
 * its 64 newest gaps, about 3 s of heartbeats, and 64 newest stalls). */
class GapPoller {
  readonly gaps = new Map<string, LeaderGap & { nodeId: number }>();
  readonly stalls = new Map<string, LoopStall & { nodeId: number }>();
  readonly terms = new Set<number>();
  private timer: NodeJS.Timeout | undefined;
  constructor(private readonly cluster: TestCluster) {}
  start(): void {
    this.timer = setInterval(() => void this.poll(), 250);
  }
  stopNow(): void {
    clearInterval(this.timer);
  }
  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.poll();
  }
  async poll(): Promise<void> {
    const statuses = await Promise.all(this.cluster.nodes.map((n) => this.cluster.status(n.id, 5000)));
    for (const s of statuses) {
      if (s === null) continue;
      this.terms.add(s.term);
      for (const st of stallsOf(s).recent) this.stalls.set(`${s.nodeId}:${st.endedAt}:${st.wallMs}`, { ...st, nodeId: s.nodeId });
      if (s.role === 'leader') continue;
      for (const g of gapsOf(s).recentGaps) this.gaps.set(`${s.nodeId}:${g.endedAt}:${g.gapMs}`, { ...g, nodeId: s.nodeId });
    }
  }
}

// What a request may cost is time on the event loop: heartbeats wait for the work in front
// of them. Each node measures how long its own work held its loop (loop-stalls.ts: the CPU
// and loop-active time between two turns of a 10 ms probe), apart from the time it waited for a core.
// A hold of h ms delays a heartbeat by at most h, so a follower hears from its leader within
// h + HEARTBEAT_MS; under the shortest election timeout while h < ELECTION_TIMEOUT_MS -
// HEARTBEAT_MS (100 ms), the bound. A read served in one piece (the `$or` below once held the
// loop 1.3 s and cost the leader its office) fails it by far; measured with the slices as
// they are (2026-12-06, 2-core box, load 4): the longest busy 46 to 60 ms, until the probe
// left out the loop thread's wait for a core (CI once counted 110 ms of a 142 ms interval
// as busy): 32 to 45 ms, also with a CPU hog beside the cluster.
//
// What the followers see is not bounded here, only logged: three nodes and this test share
// 2 cores, and on a busy box a node can wait longer for a core than any request makes it
// work (CI, 2026-12-05: a follower heard nothing from its leader for 166 ms; here at load 12:
// 293 ms; profiles of such stalls show the node running for a quarter of one). What a gap
// costs is checked instead: no node changed term or leader. scripts/run-tests.mjs runs this
// file alone, after the others. Issue #11's target, gaps under half the election timeout
// with a write load running, is the benchmark's (`npm run bench -- abuse`).
const LOOP_HOLD_BOUND_MS = ELECTION_TIMEOUT_MS - HEARTBEAT_MS;
const SCAN_DOCS = 10_000;
/** Documents per insert while loading: 4 JSON values each, well under REQUEST_VALUES_MAX. */
const LOAD_BATCH_DOCS = 1000;

/** Sends a prepared JSON text (the harness's http() would stringify a value again). */
async function postText(url: string, path: string, text: string): Promise<{ status: number; body: string }> {
  const res = await fetch(url + path, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: text,
    signal: AbortSignal.timeout(20_000),
  });
  return { status: res.status, body: await res.text() };
}

/** The largest transaction the limits allow: MAX_TX_OPS inserts sharing REQUEST_VALUES_MAX values. */
function largestTransaction(): string {
  // Each op is {op, collection, doc:{...}}: 4 values of its own, the rest are the document's keys.
  const keysPerDoc = Math.floor(REQUEST_VALUES_MAX / MAX_TX_OPS) - 6;
  const doc = `{${Array.from({ length: keysPerDoc }, (_, i) => `"k${i}":${i}`).join(',')}}`;
  const text = `{"ops":[${Array.from({ length: MAX_TX_OPS }, () => `{"op":"insert","collection":"tx","doc":${doc}}`).join(',')}]}`;
  assert.ok(text.length < DEFAULT_BODY_LIMIT);
  return text;
}

function stallsOf(status: ClusterStatus | null): LoopStallStatus {
  const stalls = (status as (ClusterStatus & { loopStalls?: LoopStallStatus }) | null)?.loopStalls;
  assert.ok(stalls !== undefined, 'a cluster node reports loopStalls in /cluster/status');
  return stalls;
}

function gapsOf(status: ClusterStatus | null): LeaderContactStatus {
  const contact = (status as (ClusterStatus & { leaderContact?: LeaderContactStatus }) | null)?.leaderContact;
  assert.ok(contact !== undefined, 'a cluster node reports leaderContact in /cluster/status');
  return contact;
}

describe('the heaviest requests the API allows, on a 3-node cluster', () => {
  let cluster: TestCluster | undefined;
  let release: (() => void) | undefined;
  let poller: GapPoller | undefined;
  before(async () => {
    release = await acquireClusterLock();
    cluster = await TestCluster.start({ size: 3 });
  });
  after(async () => {
    poller?.stopNow();
    await cluster?.close();
    release?.();
  });

  test(
    'the largest allowed transaction commits; no heavy request, write or read, alone or in a burst, changes the term or holds a node’s event loop for long',
    { timeout: 60_000 },
    async () => {
      const c = cluster!;
      const leader = await c.waitForLeader();
      const url = leader.url;
      // 10,000 documents for the reads, loaded before the measure starts.
      for (let from = 0; from < SCAN_DOCS; from += LOAD_BATCH_DOCS) {
        const batch = Array.from({ length: Math.min(LOAD_BATCH_DOCS, SCAN_DOCS - from) }, (_, k) => {
          const i = from + k;
          return { i, g: i % 100, s: i % 1000 === 0 ? 'a'.repeat(28) + '!' : `text ${i}` };
        });
        assert.equal((await postText(url, '/api/scan', JSON.stringify(batch))).status, 201);
      }
      await sleep(300); // past the load's last appends
      poller = new GapPoller(c);
      await poller.poll();
      const started = Date.now();
      poller.start();

      const tx = await postText(url, '/api/_tx', largestTransaction());
      assert.equal(tx.status, 200, tx.body.slice(0, 300));
      assert.equal((JSON.parse(tx.body) as { results: unknown[] }).results.length, MAX_TX_OPS);

      const longStrings = JSON.stringify({ _id: 'long', s: 'x'.repeat(1024 * 1024 - 64) });
      assert.ok(longStrings.length < DEFAULT_BODY_LIMIT);
      assert.equal((await postText(url, '/api/long', longStrings)).status, 201);

      const mostKeys = `{${Array.from({ length: DOCUMENT_KEYS_MAX - 1 }, (_, i) => `"k${i}":${i}`).join(',')}}`;
      assert.equal((await postText(url, '/api/keys', mostKeys)).status, 201);

      const overValues = `[${new Array<string>(REQUEST_VALUES_MAX).fill('0').join(',')}]`;
      const refused = await postText(url, '/api/keys', overValues);
      assert.equal(refused.status, 413, refused.body);
      assert.match(refused.body, /REQUEST_VALUES_MAX/);

      // Reads: the widest `$or` (1.3 s of work over 10,000 documents), a regex, a count and
      // the whole collection as one response.
      const widestOr = JSON.stringify({ filter: { $or: Array.from({ length: FILTER_BRANCHES_MAX }, (_, i) => ({ g: -1 - i })) } });
      const or = await postText(url, '/api/scan/_query', widestOr);
      assert.equal(or.status, 200, or.body.slice(0, 300));
      assert.equal(or.body, '[]');
      const regex = await postText(url, '/api/scan/_query', JSON.stringify({ filter: { s: { $regex: '(a+)+$' } } }));
      assert.equal(regex.body, '[]', 'the strings of a and ! never match (a+)+$: the slowest case for a backtracking engine');
      const count = await postText(url, '/api/scan/_count', JSON.stringify({ filter: { g: { $in: [1, 2] } } }));
      assert.deepEqual(JSON.parse(count.body), { count: (SCAN_DOCS / 100) * 2 });
      const all = await fetch(`${url}/api/scan?sort=${encodeURIComponent('{"i":-1}')}`, { signal: AbortSignal.timeout(20_000) });
      const docs = (await all.json()) as Array<{ i: number }>;
      assert.equal(docs.length, SCAN_DOCS);
      assert.equal(docs[0]!.i, SCAN_DOCS - 1);

      // All at once.
      const burst = await Promise.all([
        postText(url, '/api/_tx', largestTransaction()),
        postText(url, '/api/_tx', largestTransaction()),
        postText(url, '/api/long2', longStrings),
        postText(url, '/api/keys2', mostKeys),
        postText(url, '/api/scan/_query', widestOr),
        postText(url, '/api/scan/_query', widestOr),
        postText(url, '/api/scan/_query', JSON.stringify({ filter: { s: { $regex: '(a+)+$' } } })),
        fetch(`${url}/api/scan?sort=${encodeURIComponent('{"i":-1}')}`, { signal: AbortSignal.timeout(20_000) }).then(async (r) => ({
          status: r.status,
          body: await r.text(),
        })),
      ]);
      assert.deepEqual(
        burst.map((r) => r.status),
        [200, 200, 201, 201, 200, 200, 200, 200],
      );
      await sleep(300);
      await poller.stop();

      const gaps = [...poller.gaps.values()].filter((g) => g.endedAt >= started);
      const longest = Math.max(0, ...gaps.map((g) => g.gapMs));
      const stalls = [...poller.stalls.values()].filter((st) => st.endedAt >= started);
      const longestHold = Math.max(0, ...stalls.map((st) => st.busyMs));
      const longestStall = Math.max(0, ...stalls.map((st) => st.wallMs));
      // The measures, for the record and for a failure below (the bounds' comments say why
      // they are what they are).
      console.log(
        `heavy requests: ${gaps.length} gaps of 20 ms and more seen by followers, the longest ${longest} ms; ` +
          `${stalls.length} loop stalls of 20 ms and more, the longest ${longestStall} ms, the longest busy ${longestHold} ms`,
      );
      const statuses = await Promise.all(c.nodes.map((n) => c.status(n.id)));
      for (const s of statuses) {
        assert.ok(s !== null);
        assert.equal(s.term, leader.term, `node ${s.nodeId} is in term ${s.term}, the leader was elected in ${leader.term}`);
        assert.equal(s.leader?.id, leader.nodeId);
      }
      assert.deepEqual([...poller.terms], [leader.term], 'no node saw another term');
      assert.ok(
        longestHold < LOOP_HOLD_BOUND_MS,
        `a node's own work held its event loop for ${longestHold} ms: ${JSON.stringify(stalls.filter((st) => st.busyMs >= LOOP_HOLD_BOUND_MS))}`,
      );
    },
  );
});
