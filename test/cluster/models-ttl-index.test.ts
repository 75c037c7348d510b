// A TTL index on a 3-node cluster of real processes (issue #14): created through a follower
// (forwarded to the leader), its definition is on every node; an expired document is hidden
// from every node's reads at once, and the leader's sweep removes it through the log, so every
// node records the same deletion in the document's history.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { acquireClusterLock, eventually, http, TestCluster } from './harness.ts';

describe('TTL index on a 3-node cluster', () => {
  let cluster: TestCluster;
  let release: (() => void) | undefined;
  before(async () => {
    release = await acquireClusterLock();
    cluster = await TestCluster.start({ size: 3 });
  });
  after(async () => {
    await cluster?.close();
    release?.();
  });

  test('definition replicated, expired documents hidden on every node, removed through the log', async () => {
    const leader = await cluster.waitForLeader();
    const follower = cluster.nodes.find((n) => n.id !== leader.nodeId)!;
    const model = await eventually('model', async () => {
      const r = await http(follower.url, 'PUT', '/api/tokens/_schema', { schema: { type: 'object' }, options: { trackHistory: true } });
      return r.status === 200 ? r : undefined;
    });
    assert.equal(model.status, 200);
    const created = await eventually('TTL index', async () => {
      const r = await http(follower.url, 'POST', '/api/tokens/_indexes', { fields: { issuedAt: 1 }, expireAfterSeconds: 2 });
      return r.status === 201 ? r : undefined;
    });
    const spec = { name: 'issuedAt_1', fields: [['issuedAt', 1]], unique: false, expireAfterSeconds: 2 };
    assert.deepEqual(created.body, spec);
    const now = Date.now();
    const docs = [
      { _id: 'expired', issuedAt: new Date(now - 10_000).toISOString() },
      { _id: 'soon', issuedAt: now },
      { _id: 'kept', issuedAt: now + 3_600_000 },
    ];
    const inserted = await eventually('insert', async () => {
      const r = await http(follower.url, 'POST', '/api/tokens', docs);
      return r.status === 201 ? r : undefined;
    });
    assert.equal((inserted.body as unknown[]).length, 3);

    for (const node of cluster.nodes) {
      const indexes = await http(node.url, 'GET', '/api/tokens/_indexes?consistency=linearizable');
      assert.deepEqual(indexes.body, [spec], `node ${node.id}`);
      // Hidden at once on every node, expired by its own clock (the sweep may not have run).
      const gone = await http(node.url, 'GET', '/api/tokens/expired?consistency=linearizable');
      assert.equal(gone.status, 404, `node ${node.id}`);
    }
    for (const node of cluster.nodes) {
      const history = await eventually(
        `both removals in node ${node.id}'s history`,
        async () => {
          const types = [];
          for (const id of ['expired', 'soon']) {
            const r = await http(node.url, 'GET', `/api/tokens/${id}/_history?consistency=linearizable`);
            if (r.status !== 200) return undefined;
            types.push((r.body as { eventType: string; sequence: number }[]).map((e) => e.eventType).join());
          }
          return types.every((t) => t === 'Created,Deleted') ? types : undefined;
        },
        15_000,
      );
      assert.deepEqual(history, ['Created,Deleted', 'Created,Deleted']);
      const left = await http(node.url, 'GET', '/api/tokens?consistency=linearizable');
      assert.deepEqual(
        (left.body as { _id: string }[]).map((d) => d._id),
        ['kept'],
        `node ${node.id}`,
      );
    }
    // The same deletions (log index and all) on every node.
    const deletions = await Promise.all(
      cluster.nodes.map(async (node) => (await http(node.url, 'GET', '/api/tokens/expired/_history?consistency=linearizable')).body),
    );
    assert.deepEqual(deletions[1], deletions[0]);
    assert.deepEqual(deletions[2], deletions[0]);
  });
});
