// Issue 4, scenario 1: the README walkthrough against three real node processes
// started with address-only --peers (ids learned from the handshakes).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { acquireClusterLock, http, TestCluster } from './harness.ts';

describe('walkthrough: 3 nodes, address-only peers', () => {
  let cluster: TestCluster | undefined;
  let release: (() => void) | undefined;
  before(async () => {
    release = await acquireClusterLock();
  });
  after(async () => {
    await cluster?.close();
    release?.();
  });

  test('POST on node 1 is 201; GET on nodes 2 and 3 returns the same product', async () => {
    cluster = await TestCluster.start({ size: 3 });
    const leader = await cluster.waitForLeader();
    assert.equal(leader.members.length, 3, 'the bootstrap membership holds all three nodes');
    assert.deepEqual(leader.members.map((m) => m.id).sort(), [1, 2, 3]);

    const created = await http(cluster.node(1).url, 'POST', '/api/products', { name: 'Test Product', price: 19.99 });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const doc = created.body as { _id: string; _rev: number; name: string; price: number };
    assert.equal(doc.name, 'Test Product');
    assert.equal(doc.price, 19.99);
    assert.equal(typeof doc._id, 'string');
    assert.ok(doc._rev > 0);

    for (const id of [2, 3]) {
      const listed = await http(cluster.node(id).url, 'GET', '/api/products');
      assert.equal(listed.status, 200);
      assert.deepEqual(listed.body, [doc], `node ${id} lists the product`);
      const one = await http(cluster.node(id).url, 'GET', `/api/products/${doc._id}`);
      assert.equal(one.status, 200);
      assert.deepEqual(one.body, doc);
    }
    // Every node agrees on who leads, and the members learned their ids and urls.
    for (const node of cluster.nodes) {
      const status = await cluster.status(node.id);
      assert.equal(status?.leader?.id, leader.nodeId);
      assert.equal(status?.nodeId, node.id);
    }
    const members = (await cluster.status(leader.nodeId))!.members;
    for (const m of members) assert.equal(m.url, cluster.node(m.id).url, `member ${m.id} url`);
  });
});
