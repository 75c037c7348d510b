// Issue 4, scenarios 2, 3 and 6 on one 3-node cluster of real processes: kill -9 of
// the leader under concurrent writes, rolling kill -9 and restart of every node and
// of the whole cluster, and a SIGSTOPped leader that wakes up after it was replaced.
// Invariant checked throughout: no acknowledged write is lost, none is applied twice.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { acquireClusterLock, ELECTION_TIMEOUT_MS, http, missingIds, sleep, TestCluster, WriteLoad } from './harness.ts';

const COLLECTION = 'events';

describe('crash recovery (3 real nodes)', () => {
  let cluster: TestCluster;
  let release: (() => void) | undefined;
  /** Every write acknowledged in this file, and every write whose outcome is unknown. */
  const acknowledged = new Set<string>();
  const uncertain = new Set<string>();

  before(async () => {
    release = await acquireClusterLock();
    cluster = await TestCluster.start({ size: 3 });
  });
  after(async () => {
    await cluster?.close();
    release?.();
  });

  function record(load: WriteLoad): void {
    for (const id of load.acknowledged()) acknowledged.add(id);
    for (const id of load.uncertain()) uncertain.add(id);
  }

  /** Every acknowledged write is on every node in `ids`, and no node holds a write nobody sent. */
  async function assertNoLoss(ids: readonly number[]): Promise<void> {
    for (const id of ids) {
      const present = await cluster.ids(id, COLLECTION);
      const missing = missingIds(acknowledged, present);
      assert.deepEqual(missing, [], `node ${id} lost acknowledged writes`);
      const phantom = [...present].filter((d) => !acknowledged.has(d) && !uncertain.has(d));
      assert.deepEqual(phantom, [], `node ${id} holds writes that were refused`);
    }
  }

  test('kill -9 of the leader during writes: a new leader serves writes within 2 s, no acknowledged write lost', async () => {
    const first = await cluster.waitForLeader();
    const load = new WriteLoad(COLLECTION, 'a-', 4, () => cluster.live(), { timeoutMs: 4000 });
    await sleep(600);
    const before = load.acknowledged().length;
    assert.ok(before > 0, 'writes succeed before the crash');
    const killedAt = Date.now();
    await cluster.kill(first.nodeId);
    const survivors = cluster.live().map((n) => n.id);

    // Failover: the first write sent after the kill that the cluster acknowledges.
    let failoverMs = -1;
    for (let i = 0; Date.now() - killedAt < 5000; i++) {
      const target = cluster.node(survivors[i % survivors.length]!);
      const probe = await http(target.url, 'POST', `/api/probes`, { i }, { timeoutMs: 1000 });
      if (probe.status === 201) {
        failoverMs = Date.now() - killedAt;
        break;
      }
      await sleep(5);
    }
    console.log(`# failover after kill -9 of the leader: ${failoverMs} ms`);
    assert.ok(failoverMs >= 0 && failoverMs < 2000, `a new leader served a write ${failoverMs} ms after the kill (limit 2000)`);
    const second = await cluster.waitForLeader();
    assert.notEqual(second.nodeId, first.nodeId);
    assert.ok(second.term > first.term);

    await sleep(500);
    await load.stop();
    record(load);
    console.log(`# ${load.summary()}`);
    assert.ok(load.acknowledged().length > before, 'writes were acknowledged after the failover');
    await assertNoLoss(survivors);

    await cluster.startNode(first.nodeId);
    const leader = await cluster.waitForLeader();
    await cluster.waitApplied([first.nodeId], leader.commitIndex);
    await assertNoLoss([first.nodeId]);
    const local = await cluster.ids(first.nodeId, COLLECTION, 'local');
    assert.deepEqual(missingIds(acknowledged, local), [], 'the restarted node applied every acknowledged write');
  });

  test('kill -9 and restart each node in turn under writes, then the whole cluster: nothing acknowledged is lost', async () => {
    const load = new WriteLoad(COLLECTION, 'b-', 3, () => cluster.live(), { timeoutMs: 4000 });
    for (const node of cluster.nodes) {
      await sleep(300);
      await cluster.kill(node.id);
      await sleep(300);
      await cluster.startNode(node.id);
      await cluster.waitForLeader({ timeoutMs: 10_000 });
    }
    await sleep(300);
    await load.stop();
    record(load);
    console.log(`# ${load.summary()}`);
    assert.ok(load.acknowledged().length > 0);

    const before = await Promise.all(cluster.nodes.map((n) => cluster.status(n.id)));
    const commit = Math.max(...before.map((s) => s!.commitIndex));
    const term = Math.max(...before.map((s) => s!.term));
    await Promise.all(cluster.nodes.map((n) => cluster.kill(n.id)));
    await Promise.all(cluster.nodes.map((n) => cluster.startNode(n.id)));
    const leader = await cluster.waitForLeader();
    assert.ok(leader.term > term, `a new term after the restart (${leader.term} > ${term})`);
    for (const node of cluster.nodes) {
      const status = await cluster.status(node.id);
      assert.ok(status!.term >= term, `node ${node.id} kept its term`);
    }
    // The commit index is volatile (Raft Figure 2; ours rides along with the next write): a
    // new leader knows it again once the first entry of its term commits, which may be just
    // after it is seen leading (CI saw it below). Asked until then, it must not stay behind.
    let leaderCommit = leader.commitIndex;
    for (const deadline = Date.now() + 5000; leaderCommit < commit && Date.now() < deadline;) {
      await sleep(20);
      leaderCommit = (await cluster.status(leader.nodeId))?.commitIndex ?? leaderCommit;
    }
    assert.ok(leaderCommit >= commit, `the commit index did not go back (${leaderCommit} >= ${commit})`);
    const write = await http(cluster.node(1).url, 'POST', `/api/${COLLECTION}`, { _id: 'after-full-restart' });
    assert.equal(write.status, 201, JSON.stringify(write.body));
    acknowledged.add('after-full-restart');
    await assertNoLoss(cluster.nodes.map((n) => n.id));
  });

  test('SIGSTOP of the leader past the election timeout: it steps down on SIGCONT; no write lost or applied twice', async () => {
    const leader = await cluster.waitForLeader();
    const created = await http(leader.url, 'PUT', '/api/counters/c', { n: 0 });
    assert.ok(created.status === 200 || created.status === 201, JSON.stringify(created.body));
    let acked = 0;
    let unknown = 0;
    let stop = false;
    const others = cluster.nodes.filter((n) => n.id !== leader.nodeId);
    const incrementers = others.map(async (node) => {
      while (!stop) {
        const r = await http(node.url, 'PATCH', '/api/counters/c', { $inc: { n: 1 } }, { timeoutMs: 4000 });
        if (r.status === 200) acked++;
        else if (r.status === 0 || r.status >= 500) unknown++;
        else assert.fail(`unexpected ${r.status} ${JSON.stringify(r.body)}`);
        if (r.status !== 200) await sleep(20);
      }
    });
    const load = new WriteLoad(COLLECTION, 'c-', 2, () => others, { timeoutMs: 4000 });
    await sleep(300);
    cluster.pause(leader.nodeId);
    await sleep(Math.max(1000, ELECTION_TIMEOUT_MS * 6));
    const during = await cluster.waitForLeader({ among: others.map((n) => n.id) });
    assert.notEqual(during.nodeId, leader.nodeId);
    assert.ok(during.term > leader.term);
    // Reads sent to the paused old leader before it wakes: served after SIGCONT, they
    // must not return a value older than one a quorum confirmed before they were sent.
    const confirmed = await http(during.url, 'GET', '/api/counters/c');
    assert.equal(confirmed.status, 200);
    const floor = (confirmed.body as { n: number }).n;
    const staleReads = (['lease', 'linearizable'] as const).map((consistency) =>
      http(leader.url, 'GET', `/api/counters/c?consistency=${consistency}`, undefined, { timeoutMs: 5000 }).then((r) => ({ consistency, r })),
    );
    await sleep(100);
    cluster.resume(leader.nodeId);
    for (const { consistency, r } of await Promise.all(staleReads)) {
      if (r.status === 200) {
        const n = (r.body as { n: number }).n;
        assert.ok(n >= floor, `a ${consistency} read on the woken old leader returned ${n}, older than ${floor} confirmed before it was sent`);
      } else {
        assert.ok(r.status === 503 || r.status === 0, `${consistency} read: ${r.status} ${JSON.stringify(r.body)}`);
      }
    }
    const old = await waitFor(async () => {
      const s = await cluster.status(leader.nodeId);
      return s !== null && s.role === 'follower' && s.term >= during.term ? s : undefined;
    });
    assert.equal(old.leader?.id, during.nodeId, 'the old leader follows the new one');
    await sleep(300);
    stop = true;
    await Promise.all(incrementers);
    await load.stop();
    record(load);
    console.log(`# ${load.summary()}`);
    await assertNoLoss(cluster.nodes.map((n) => n.id));
    for (const node of cluster.nodes) {
      const r = await http(node.url, 'GET', '/api/counters/c');
      assert.equal(r.status, 200);
      const n = (r.body as { n: number }).n;
      assert.ok(n >= acked && n <= acked + unknown, `node ${node.id}: counter ${n} within [${acked}, ${acked + unknown}]`);
    }
    console.log(`# counter: ${acked} increments acknowledged, ${unknown} unknown`);
    assert.ok(acked > 0);
  });
});

async function waitFor<T>(check: () => Promise<T | undefined>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error('timed out');
    await sleep(25);
  }
}
