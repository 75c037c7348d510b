// Issue 4, scenarios 4 and 5 on one 3-node cluster with a small snapshot threshold:
// a follower that fell behind the leader's compacted log catches up by InstallSnapshot;
// a follower whose data directory was wiped is refused by its peers (it lost its term,
// vote and log), and rejoins only after being removed and added again.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { acquireClusterLock, http, missingIds, sleep, TestCluster } from './harness.ts';

const SNAPSHOT_THRESHOLD = 200;

/**
 * Inserts `count` documents `${prefix}<i>` with `concurrency` writers; returns their ids.
 * A write whose outcome is unknown (503, no answer: an election under load) is retried;
 * its id is unique, so a 409 on a retry means the first attempt committed.
 */
async function insertMany(url: string, collection: string, prefix: string, count: number, concurrency = 16): Promise<string[]> {
  const ids: string[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) {
        const id = `${prefix}${next++}`;
        for (let attempt = 0; ; attempt++) {
          const r = await http(url, 'POST', `/api/${collection}`, { _id: id, pad: 'x'.repeat(100) });
          if (r.status === 201 || (r.status === 409 && attempt > 0)) break;
          assert.ok((r.status === 503 || r.status === 0) && attempt < 10, `insert ${id}: ${r.status} ${JSON.stringify(r.body) ?? r.error}`);
          await sleep(50);
        }
        ids.push(id);
      }
    }),
  );
  return ids;
}

describe('snapshots and membership (3 real nodes, snapshot every 200 entries)', () => {
  let cluster: TestCluster;
  let release: (() => void) | undefined;
  const written: string[] = [];

  before(async () => {
    release = await acquireClusterLock();
    cluster = await TestCluster.start({ size: 3, snapshotThreshold: SNAPSHOT_THRESHOLD });
  });
  after(async () => {
    await cluster?.close();
    release?.();
  });

  test('a follower behind the compacted log catches up through InstallSnapshot', async () => {
    const leader = await cluster.waitForLeader();
    written.push(...(await insertMany(leader.url, 'docs', 'before-', 50)));
    const follower = cluster.nodes.find((n) => n.id !== leader.nodeId)!;
    const stoppedAt = (await cluster.status(follower.id))!;
    await cluster.kill(follower.id);

    // Concurrent inserts may share log entries: write until the leader's log has moved far
    // enough (snapshot index past the follower's log plus the catch-up window), bounded.
    let compacted = (await cluster.status(leader.nodeId))!;
    for (let round = 0; round < 20 && compacted.snapshotIndex - SNAPSHOT_THRESHOLD <= stoppedAt.lastLogIndex; round++) {
      written.push(...(await insertMany(leader.url, 'docs', `while-down-${round}-`, SNAPSHOT_THRESHOLD, 4)));
      compacted = (await cluster.status(leader.nodeId))!;
    }
    // The leader keeps up to one threshold of entries after its snapshot (catch-up window).
    assert.ok(
      compacted.snapshotIndex - SNAPSHOT_THRESHOLD > stoppedAt.lastLogIndex,
      `the leader compacted past the follower's log (snapshot ${compacted.snapshotIndex} - ${SNAPSHOT_THRESHOLD} > follower's last index ${stoppedAt.lastLogIndex})`,
    );

    await cluster.startNode(follower.id, { logLevel: 'info' });
    await cluster.waitApplied([follower.id], compacted.commitIndex);
    const caughtUp = (await cluster.status(follower.id))!;
    assert.ok(caughtUp.snapshotIndex > stoppedAt.lastLogIndex, 'the follower holds a snapshot past where it stopped');
    assert.match(follower.logs, /installed snapshot from the leader/, "the follower installed the leader's snapshot");
    const present = await cluster.ids(follower.id, 'docs', 'local');
    assert.deepEqual(missingIds(written, present), []);
    assert.equal(present.size, written.length);
  });

  test('a wiped follower is refused by its peers until removed and added again', async () => {
    const leader = await cluster.waitForLeader();
    const wiped = cluster.nodes.find((n) => n.id !== leader.nodeId)!;
    const other = cluster.nodes.find((n) => n.id !== leader.nodeId && n.id !== wiped.id)!;
    await cluster.kill(wiped.id);
    // The leader's match index for it never goes back (Raft): it must not advance either.
    const matchBefore = (await cluster.status(leader.nodeId))!.members.find((m) => m.id === wiped.id)!.matchIndex;
    rmSync(wiped.dataDir, { recursive: true, force: true });
    await cluster.startNode(wiped.id);

    // Its peers refuse its handshakes: it logs why, and it cannot vote or lead.
    const deadline = Date.now() + 5000;
    while (!/new data directory/.test(wiped.logs) && Date.now() < deadline) await sleep(50);
    assert.match(wiped.logs, /refused our handshake.*new data directory/, 'the wiped node logs that its peers refuse it');
    assert.match(cluster.node(leader.nodeId).logs, /refused peer node .*new data directory/, 'the leader logs the refusal');
    const writes = await insertMany(cluster.node(other.id).url, 'docs', 'while-wiped-', 30, 4);
    written.push(...writes);
    for (let i = 0; i < 10; i++) {
      const status = await cluster.status(wiped.id);
      assert.notEqual(status?.role, 'leader', 'the wiped node never leads');
      assert.equal(status?.appliedIndex, 0, 'the wiped node receives nothing (its answers are refused)');
      const view = (await cluster.status(leader.nodeId))!;
      assert.equal(view.role, 'leader');
      assert.equal(view.term, leader.term, 'the wiped node did not disturb the leader');
      const member = view.members.find((m) => m.id === wiped.id)!;
      assert.equal(member.matchIndex, matchBefore, 'the wiped node acknowledged nothing new');
      assert.ok(member.lag > 0);
      await sleep(50);
    }

    // Remove it, then add it again with a fresh data directory, joining.
    await cluster.kill(wiped.id);
    const removed = await http(cluster.node(other.id).url, 'DELETE', `/cluster/members/${wiped.id}`);
    assert.equal(removed.status, 200, JSON.stringify(removed.body));
    const afterRemove = (await cluster.status(leader.nodeId))!;
    assert.deepEqual(afterRemove.members.map((m) => m.id).sort(), [leader.nodeId, other.id].sort());
    written.push(...(await insertMany(leader.url, 'docs', 'two-members-', 20, 4)));

    rmSync(wiped.dataDir, { recursive: true, force: true });
    await cluster.startNode(wiped.id, { join: true });
    const added = await http(leader.url, 'POST', '/cluster/members', { id: wiped.id, url: wiped.url }, { timeoutMs: 30_000 });
    assert.equal(added.status, 200, JSON.stringify(added.body));
    const final = await cluster.waitForLeader();
    const member = final.members.find((m) => m.id === wiped.id);
    assert.equal(member?.voter, true, 'the re-added node is a voter');
    await cluster.waitApplied([wiped.id], final.commitIndex);
    const present = await cluster.ids(wiped.id, 'docs');
    assert.deepEqual(missingIds(written, present), []);
    assert.equal(present.size, written.length);
    // And the cluster of three serves writes, replicated to the re-added node.
    const w = await http(wiped.url, 'POST', '/api/docs', { _id: 'after-rejoin' });
    assert.equal(w.status, 201, JSON.stringify(w.body));
    const seen = await http(wiped.url, 'GET', '/api/docs/after-rejoin?consistency=local');
    assert.equal(seen.status, 200);
  });
});
