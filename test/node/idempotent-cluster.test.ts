// Exactly-once writes across nodes (issue #12): the same keyed write sent through two
// different nodes of a 3-node cluster (the leader and a follower that forwards it, or two
// followers at once) is applied once, and every node holds the same session table. Three
// nodes run inside this process (startNode), on real sockets and disks.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { acquireClusterLock, eventually, http, TestCluster } from '../cluster/harness.ts';

interface KeyedAnswer {
  readonly status: number;
  readonly body: unknown;
  /** The Idempotent-Replayed header: 'true' on a replay of a recorded result, 'false' on a
   * write that ran now, null when absent (a server that ignored the key). */
  readonly replayed: string | null;
}

/** A keyed POST (the harness's http() does not return headers). */
async function postKeyed(url: string, path: string, body: unknown, key: string): Promise<KeyedAnswer> {
  const response = await fetch(url + path, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'idempotency-key': key },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(5000),
  });
  return { status: response.status, body: (await response.json()) as unknown, replayed: response.headers.get('idempotent-replayed') };
}

async function countOn(url: string, collection: string): Promise<number> {
  const res = await http(url, 'POST', `/api/${collection}/_count`, { consistency: 'linearizable' });
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return (res.body as { count: number }).count;
}

describe('a keyed write through two nodes of a 3-node cluster', () => {
  let cluster: TestCluster;
  let release: (() => void) | undefined;
  before(async () => {
    release = await acquireClusterLock();
    cluster = await TestCluster.start({ size: 3, inProcess: [1, 2, 3] });
  });
  after(async () => {
    await cluster?.close();
    release?.();
  });

  test('the leader, then a follower: one document, the same answer', async () => {
    const leader = await cluster.waitForLeader();
    const follower = cluster.nodes.find((n) => n.id !== leader.nodeId)!;
    const first = await postKeyed(leader.url, '/api/orders', { item: 'book' }, 'client-a.1');
    assert.equal(first.status, 201, JSON.stringify(first.body));
    assert.equal(first.replayed, 'false', 'the first answer ran the write');
    const retry = await postKeyed(follower.url, '/api/orders', { item: 'book' }, 'client-a.1');
    assert.equal(retry.status, 201, JSON.stringify(retry.body));
    assert.equal(retry.replayed, 'true', 'the retry through the follower is a replay');
    assert.deepEqual(retry.body, first.body);
    for (const node of cluster.nodes) assert.equal(await countOn(node.url, 'orders'), 1, `node ${node.id}`);
  });

  test('two followers at once: one document, and one of the two answers is a replay', async () => {
    const leader = await cluster.waitForLeader();
    const followers = cluster.nodes.filter((n) => n.id !== leader.nodeId);
    const results = await Promise.all(followers.map((n) => postKeyed(n.url, '/api/payments', { amount: 10 }, 'client-b.7')));
    for (const r of results) assert.equal(r.status, 201, JSON.stringify(r.body));
    assert.deepEqual(results[0]!.body, results[1]!.body);
    // Exactly one ran the write; the other answered with its recorded result.
    assert.deepEqual(results.map((r) => r.replayed).sort(), ['false', 'true']);
    for (const node of cluster.nodes) assert.equal(await countOn(node.url, 'payments'), 1, `node ${node.id}`);
  });

  test('every node holds the same session table and log clock', async () => {
    const applied = await eventually('every node applied the same index', async () => {
      const indexes = cluster.nodes.map((n) => n.inProcess!.node.store.lastApplied);
      return indexes.every((i) => i === indexes[0]) ? indexes[0] : undefined;
    });
    assert.ok(applied !== undefined && applied > 0);
    const tables = cluster.nodes.map((n) => n.inProcess!.node.store.sessions.toSnapshot());
    assert.ok(tables[0]!.records.length >= 2);
    for (const t of tables.slice(1)) assert.deepEqual(t, tables[0]);
  });
});
