// Issue 4, scenario 9: a 5-node cluster survives the loss of a minority (2 nodes, the
// leader among them); without a majority, writes fail fast with 503 NO_LEADER or
// COMMIT_UNKNOWN instead of hanging; once the nodes are back, nothing acknowledged is lost.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { acquireClusterLock, errorCode, http, missingIds, sleep, TestCluster, WriteLoad } from './harness.ts';

const REQUEST_TIMEOUT_MS = 2000;

describe('5 nodes: losing a minority, then a majority', () => {
  let cluster: TestCluster;
  let release: (() => void) | undefined;
  before(async () => {
    release = await acquireClusterLock();
    cluster = await TestCluster.start({ size: 5, peersWithIds: true, requestTimeoutMs: REQUEST_TIMEOUT_MS });
  });
  after(async () => {
    await cluster?.close();
    release?.();
  });

  const t0 = Date.now();
  const phase = (name: string): void => console.log(`# ${Date.now() - t0} ms: ${name}`);
  test('writes go on without 2 of 5 nodes, fail with 503 without 3, and nothing acknowledged is lost', async () => {
    const acknowledged = new Set<string>();
    const uncertain = new Set<string>();
    phase('started');
    const leader = await cluster.waitForLeader();
    phase('leader');
    const first = new WriteLoad('m', 'a-', 3, () => cluster.live(), { timeoutMs: 5000 });
    await sleep(400);
    // A minority: the leader and one follower.
    const follower = cluster.nodes.find((n) => n.id !== leader.nodeId)!;
    await Promise.all([cluster.kill(leader.nodeId), cluster.kill(follower.id)]);
    phase('killed 2');
    const newLeader = await cluster.waitForLeader();
    phase('new leader');
    const countBefore = first.acknowledged().length;
    await sleep(600);
    await first.stop();
    console.log(`# ${first.summary()}`);
    assert.ok(first.acknowledged().length > countBefore, 'writes succeeded with 3 of 5 nodes');
    for (const id of first.acknowledged()) acknowledged.add(id);
    for (const id of first.uncertain()) uncertain.add(id);

    // Lose the majority: the third node is the new leader.
    await cluster.kill(newLeader.nodeId);
    const remaining = cluster.live();
    assert.equal(remaining.length, 2);
    await sleep(300);
    for (const node of remaining) {
      for (let i = 0; i < 1; i++) {
        const started = Date.now();
        const id = `no-quorum-${node.id}-${i}`;
        const r = await http(node.url, 'POST', '/api/m', { _id: id }, { timeoutMs: REQUEST_TIMEOUT_MS * 3 });
        const took = Date.now() - started;
        assert.equal(r.status, 503, `a write without a majority: ${r.status} ${JSON.stringify(r.body) ?? r.error}`);
        assert.ok(['NO_LEADER', 'COMMIT_UNKNOWN'].includes(errorCode(r) ?? ''), JSON.stringify(r.body));
        assert.ok(took < REQUEST_TIMEOUT_MS + 1500, `the write failed within the request timeout (${took} ms)`);
        uncertain.add(id);
      }
    }
    const read = await http(remaining[0]!.url, 'GET', '/api/m?limit=1', undefined, { timeoutMs: REQUEST_TIMEOUT_MS * 3 });
    assert.equal(read.status, 503, 'a linearizable read without a majority fails too');

    phase('503s');
    // Back to five: every acknowledged write is on every node.
    await Promise.all([leader.nodeId, follower.id, newLeader.nodeId].map((id) => cluster.startNode(id)));
    phase('restarted');
    const final = await cluster.waitForLeader({ timeoutMs: 15_000 });
    phase('final leader');
    const w = await http(final.url, 'POST', '/api/m', { _id: 'after' });
    assert.equal(w.status, 201, JSON.stringify(w.body));
    acknowledged.add('after');
    const settled = (await cluster.status(final.nodeId))!;
    await cluster.waitApplied(
      cluster.nodes.map((n) => n.id),
      settled.commitIndex,
    );
    for (const node of cluster.nodes) {
      const present = await cluster.ids(node.id, 'm', 'local');
      assert.deepEqual(missingIds(acknowledged, present), [], `node ${node.id} lost acknowledged writes`);
      const phantom = [...present].filter((id) => !acknowledged.has(id) && !uncertain.has(id));
      assert.deepEqual(phantom, [], `node ${node.id} holds writes never sent`);
    }
  });
});
