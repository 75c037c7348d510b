// Issue 13: a member's address lives in the replicated configuration. A node restarted on a
// new port with the same data directory (and so a new --advertise) registers its new address
// itself; an operator can also set one with PATCH /cluster/members/:id, on any node. Either
// way every member, including one that becomes leader afterwards, reaches it there.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { acquireClusterLock, eventually, freePort, http, TestCluster, TestNode, type ClusterStatus } from './harness.ts';

/** Moves node `id` of the harness to a new port (its data directory stays): the next
 * startNode runs it there, advertising 127.0.0.1:<new port>. */
async function movePort(cluster: TestCluster, id: number): Promise<TestNode> {
  const index = cluster.nodes.findIndex((n) => n.id === id);
  const old = cluster.nodes[index]!;
  assert.ok(!old.running, 'stop the node before moving it');
  let port = await freePort();
  while (cluster.nodes.some((n) => n.port === port)) port = await freePort();
  const moved = new TestNode(id, port, old.dataDir);
  moved.appendLog(old.logs);
  cluster.nodes[index] = moved;
  return moved;
}

/** Resolves once node `viewer` lists member `id` at `url`. */
async function memberAt(cluster: TestCluster, viewer: number, id: number, url: string): Promise<ClusterStatus> {
  return eventually(
    `node ${viewer} to list node ${id} at ${url}`,
    async () => {
      const status = await cluster.status(viewer);
      return status?.members.find((m) => m.id === id)?.url === url ? status : undefined;
    },
    10_000,
  );
}

/** Writes one document through node `via` and waits until every node in `ids` applied it. */
async function writeReaches(cluster: TestCluster, via: number, ids: readonly number[], docId: string): Promise<void> {
  const written = await http(cluster.node(via).url, 'POST', '/api/docs', { _id: docId });
  assert.equal(written.status, 201, JSON.stringify(written.body));
  const leader = (await cluster.status(via))!;
  await cluster.waitApplied(ids, leader.commitIndex, 10_000);
  for (const id of ids) {
    const seen = await http(cluster.node(id).url, 'GET', `/api/docs/${docId}?consistency=local`);
    assert.equal(seen.status, 200, `node ${id} holds ${docId}`);
  }
}

describe('member addresses in the replicated configuration (3 real nodes)', () => {
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

  test('every member knows every address: the bootstrap members register theirs', async () => {
    await cluster.waitForLeader();
    for (const viewer of [1, 2, 3]) for (const n of cluster.nodes) await memberAt(cluster, viewer, n.id, n.url);
  });

  test('a follower restarted on a new port registers its address; after a leader change it is still reached', async () => {
    const leader = await cluster.waitForLeader();
    const movedId = cluster.nodes.find((n) => n.id !== leader.nodeId)!.id;
    const otherId = cluster.nodes.find((n) => n.id !== leader.nodeId && n.id !== movedId)!.id;
    await cluster.kill(movedId);
    const moved = await movePort(cluster, movedId);
    await cluster.startNode(movedId);
    // Every node, the leader first, learns the new address from the configuration.
    for (const viewer of [leader.nodeId, otherId, movedId]) await memberAt(cluster, viewer, movedId, moved.url);
    await writeReaches(cluster, leader.nodeId, [1, 2, 3], 'after-move');

    // The other follower becomes leader (transfer, asked of the leader): it reaches the moved node.
    const transferred = await http(leader.url, 'POST', '/cluster/transfer-leadership', { to: otherId }, { timeoutMs: 10_000 });
    assert.equal(transferred.status, 200, JSON.stringify(transferred.body));
    const next = await cluster.waitForLeader();
    assert.equal(next.nodeId, otherId);
    await writeReaches(cluster, otherId, [1, 2, 3], 'after-leader-change');
  });

  test('PATCH /cluster/members/:id on a follower sets an address; the node restarted there is reached', async () => {
    const leader = await cluster.waitForLeader();
    const movedId = cluster.nodes.find((n) => n.id !== leader.nodeId)!.id;
    const followerId = cluster.nodes.find((n) => n.id !== leader.nodeId && n.id !== movedId)!.id;
    await cluster.kill(movedId);
    const moved = await movePort(cluster, movedId);
    const started = Date.now();
    const patched = await http(
      cluster.node(followerId).url,
      'PATCH',
      `/cluster/members/${movedId}`,
      { address: `127.0.0.1:${moved.port}` },
      { timeoutMs: 10_000 },
    );
    assert.equal(patched.status, 200, JSON.stringify(patched.body));
    assert.ok(Date.now() - started < 3000, `PATCH answered in ${Date.now() - started} ms`);
    for (const viewer of [leader.nodeId, followerId]) await memberAt(cluster, viewer, movedId, moved.url);

    // Refusals: an unknown member (404), a malformed address (400), extra fields (400).
    const unknown = await http(cluster.node(followerId).url, 'PATCH', '/cluster/members/9', { address: '127.0.0.1:1' });
    assert.equal(unknown.status, 404, JSON.stringify(unknown.body));
    const malformed = await http(leader.url, 'PATCH', `/cluster/members/${movedId}`, { address: 'no port here' });
    assert.equal(malformed.status, 400, JSON.stringify(malformed.body));
    const extra = await http(leader.url, 'PATCH', `/cluster/members/${movedId}`, { address: '127.0.0.1:1', voter: true });
    assert.equal(extra.status, 400, JSON.stringify(extra.body));

    await cluster.startNode(movedId);
    await writeReaches(cluster, leader.nodeId, [1, 2, 3], 'after-patch');
    // A leader change: the new leader, which never dialed the moved node, reaches it too.
    const transferred = await http(leader.url, 'POST', '/cluster/transfer-leadership', { to: followerId }, { timeoutMs: 10_000 });
    assert.equal(transferred.status, 200, JSON.stringify(transferred.body));
    assert.equal((await cluster.waitForLeader()).nodeId, followerId);
    await writeReaches(cluster, followerId, [1, 2, 3], 'after-patch-leader-change');
  });

  test('adding an existing member with a new URL changes its address at once (no 30 s wait, no 409)', async () => {
    const leader = await cluster.waitForLeader();
    const target = cluster.nodes.find((n) => n.id !== leader.nodeId)!;
    const started = Date.now();
    const added = await http(leader.url, 'POST', '/cluster/members', { id: target.id, url: 'http://127.0.0.1:1' }, { timeoutMs: 10_000 });
    assert.equal(added.status, 200, JSON.stringify(added.body));
    assert.ok(Date.now() - started < 3000, `answered in ${Date.now() - started} ms`);
    await memberAt(cluster, leader.nodeId, target.id, 'http://127.0.0.1:1');
    // Put it back where it is.
    const back = await http(leader.url, 'PATCH', `/cluster/members/${target.id}`, { address: target.url });
    assert.equal(back.status, 200, JSON.stringify(back.body));
    await writeReaches(cluster, leader.nodeId, [1, 2, 3], 'after-put-back');
  });
});
