// Issue 13: membership changes and leadership transfer work from any node. A dead follower is
// removed and a replacement added through the other follower (forwarded to the leader); the
// replacement, which dials only the leader, is still reached after the leader changes,
// because its address is in the replicated configuration. POST /cluster/transfer on a
// follower is forwarded to the leader instead of answering 409.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { acquireClusterLock, freePort, http, TestCluster, TestNode, type NodeOptions } from './harness.ts';

/** Adds node `id` to the harness (a fresh port and data directory) and starts it joining,
 * with --peers naming only `dials`: it dials no one else. */
async function startJoining(cluster: TestCluster, id: number, dials: readonly number[], options: NodeOptions = {}): Promise<TestNode> {
  let port = await freePort();
  while (cluster.nodes.some((n) => n.port === port)) port = await freePort();
  const node = new TestNode(id, port, join(cluster.root, `node${id}`));
  // The harness gives a node every other node of `cluster.nodes` as --peers: narrow the list
  // while this one starts, then put every node back.
  const all = [...cluster.nodes];
  cluster.nodes.splice(0, cluster.nodes.length, node, ...all.filter((n) => dials.includes(n.id)));
  try {
    await cluster.startNode(id, { ...options, join: true });
  } finally {
    cluster.nodes.splice(0, cluster.nodes.length, ...all, node);
  }
  return node;
}

describe('membership and transfer from any node (3 real nodes)', () => {
  let cluster: TestCluster;
  let release: (() => void) | undefined;

  before(async () => {
    release = await acquireClusterLock();
    cluster = await TestCluster.start({ size: 3, requestTimeoutMs: 3000 });
  });
  after(async () => {
    await cluster?.close();
    release?.();
  });

  test('POST /cluster/transfer on a follower is forwarded to the leader', async () => {
    const leader = await cluster.waitForLeader();
    const [a, b] = cluster.nodes.filter((n) => n.id !== leader.nodeId);
    // To the other follower, asked of one follower; then with no target, asked of the other.
    const moved = await http(a!.url, 'POST', '/cluster/transfer', { to: b!.id }, { timeoutMs: 10_000 });
    assert.equal(moved.status, 200, JSON.stringify(moved.body));
    assert.equal((await cluster.waitForLeader()).nodeId, b!.id);
    const back = await http(a!.url, 'POST', '/cluster/transfer', {}, { timeoutMs: 10_000 });
    assert.equal(back.status, 200, JSON.stringify(back.body));
    assert.notEqual((await cluster.waitForLeader()).nodeId, b!.id);
    // A definite refusal of the leader comes back as such: not a voter.
    const refused = await http(a!.url, 'POST', '/cluster/transfer', { to: 9 }, { timeoutMs: 10_000 });
    assert.equal(refused.status, 409, JSON.stringify(refused.body));
  });

  test('a killed follower is replaced through the other follower; the replacement survives a leader change', async () => {
    const leader = await cluster.waitForLeader();
    const dead = cluster.nodes.find((n) => n.id !== leader.nodeId)!;
    const follower = cluster.nodes.find((n) => n.id !== leader.nodeId && n.id !== dead.id)!;
    await cluster.kill(dead.id);

    const removed = await http(follower.url, 'DELETE', `/cluster/members/${dead.id}`, undefined, { timeoutMs: 10_000 });
    assert.equal(removed.status, 200, JSON.stringify(removed.body));
    // The replacement dials only the leader; the follower hears of it only from the configuration.
    const replacement = await startJoining(cluster, 4, [leader.nodeId]);
    const added = await http(follower.url, 'POST', '/cluster/members', { id: 4, url: replacement.url }, { timeoutMs: 30_000 });
    assert.equal(added.status, 200, JSON.stringify(added.body));
    const status = await cluster.waitForLeader({ among: [leader.nodeId, follower.id, 4] });
    assert.deepEqual(
      status.members.map((m) => [m.id, m.voter, m.url]).sort(),
      [
        [4, true, replacement.url],
        [follower.id, true, follower.url],
        [leader.nodeId, true, leader.url],
      ].sort(),
    );

    // The follower leads now (transfer asked of the old leader); it must reach node 4.
    const moved = await http(leader.url, 'POST', '/cluster/transfer-leadership', { to: follower.id }, { timeoutMs: 10_000 });
    assert.equal(moved.status, 200, JSON.stringify(moved.body));
    assert.equal((await cluster.waitForLeader({ among: [leader.nodeId, follower.id, 4] })).nodeId, follower.id);
    const written = await http(follower.url, 'POST', '/api/docs', { _id: 'after-replacement' });
    assert.equal(written.status, 201, JSON.stringify(written.body));
    const commit = (await cluster.status(follower.id))!.commitIndex;
    await cluster.waitApplied([4], commit, 10_000);
    // With the old leader down too, the follower and node 4 are a majority of three.
    await cluster.kill(leader.nodeId);
    const survivors = await cluster.waitForLeader({ among: [follower.id, 4], timeoutMs: 15_000 });
    const last = await http(survivors.url, 'POST', '/api/docs', { _id: 'two-of-three' });
    assert.equal(last.status, 201, JSON.stringify(last.body));
  });
});
