// No request the API allows costs the leader its office (issue #11, "No request can freeze
// the cluster"): on a real 3-node cluster, the largest transaction the limits allow
// commits, and the heaviest requests (that transaction, a 1 MiB document, the most keys a
// document may have, a body one value over the limit, the widest `$or`, a regex and an
// unindexed scan over 10,000 documents, a 10,000-document response, and a burst of them
// at once) change no term and leave every follower's longest gap between leader messages
// under GAP_BOUND_MS. `npm run bench -- abuse` measures the same at 100,000 and 1,000,000
// documents with a write load running.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { MAX_TX_OPS, REQUEST_VALUES_MAX } from '../../src/store/commands.ts';
import { FILTER_BRANCHES_MAX } from '../../src/store/validate-filter.ts';
import { DOCUMENT_KEYS_MAX } from '../../src/store/validate.ts';
import { DEFAULT_BODY_LIMIT } from '../../src/server/create-server.ts';
import type { LeaderContactStatus, LeaderGap } from '../../src/node/leader-contact.ts';
import { acquireClusterLock, ELECTION_TIMEOUT_MS, sleep, TestCluster, type ClusterStatus } from './harness.ts';

/** Every node's gaps and terms, polled every 250 ms (a node keeps only its 64 newest gaps,
 * about 3 s of heartbeats). */
class GapPoller {
  readonly gaps = new Map<string, LeaderGap & { nodeId: number }>();
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
      if (s.role === 'leader') continue;
      for (const g of gapsOf(s).recentGaps) this.gaps.set(`${s.nodeId}:${g.endedAt}:${g.gapMs}`, { ...g, nodeId: s.nodeId });
    }
  }
}

// Followers hear only heartbeats here (every 50 ms, HEARTBEAT_MS), so a gap of 50 ms is
// the norm; a request may add one slice of work (READ_SLICE_MS, 5 ms; a 1 MiB parse or
// log write a few ms more). The rest is the machine: three nodes and this test share 2
// cores, and a node waiting for a core sees its leader late. Measured on an idle 2-core box
// (2026-12-05, this file alone, 14 runs of the code before and after change streams and
// history): the longest gap 72 to 138 ms; CPU profiles of the nodes (CS_TEST_NODE_ARGS, see
// harness.ts) show a node running for a quarter of such a stall, the rest waiting for a
// core. The bound is the election timeout (150 ms, ELECTION_TIMEOUT_MS), past which a
// follower campaigns: a read served in one piece (the `$or` below once held the loop 1.3 s
// and cost the leader its office) fails it by far. scripts/run-tests.mjs runs this file
// alone, after the others. Issue #11's target, half the election timeout with a write load
// running, is the benchmark's (`npm run bench -- abuse`).
const GAP_BOUND_MS = ELECTION_TIMEOUT_MS;
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
    'the largest allowed transaction commits; no heavy request, write or read, alone or in a burst, changes the term or leaves a follower without its leader for long',
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

      const statuses = await Promise.all(c.nodes.map((n) => c.status(n.id)));
      for (const s of statuses) {
        assert.ok(s !== null);
        assert.equal(s.term, leader.term, `node ${s.nodeId} is in term ${s.term}, the leader was elected in ${leader.term}`);
        assert.equal(s.leader?.id, leader.nodeId);
      }
      assert.deepEqual([...poller.terms], [leader.term], 'no node saw another term');
      const gaps = [...poller.gaps.values()].filter((g) => g.endedAt >= started);
      const longest = Math.max(0, ...gaps.map((g) => g.gapMs));
      // The measure, for the record (the bound's comment says why it is what it is).
      console.log(`heavy requests: ${gaps.length} gaps of 20 ms and more seen by followers, the longest ${longest} ms`);
      assert.ok(
        longest < GAP_BOUND_MS,
        `a follower saw a gap of ${longest} ms between messages from its leader: ${JSON.stringify(gaps.filter((g) => g.gapMs >= GAP_BOUND_MS))}`,
      );
    },
  );
});
