// Issue 4, scenarios 1, 7 and 8 on one 3-node cluster of real processes started with
// address-only --peers: the README walkthrough, linearizable reads served by
// followers, and the client library across a kill -9 of the leader.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ClientError,
  ConflictError,
  NoLeaderError,
  OutcomeUnknownError,
  TimeoutError,
  UnavailableError,
  connect,
  type Client,
} from '../../src/client/index.ts';
import { acquireClusterLock, http, sleep, TestCluster } from './harness.ts';

describe('a 3-node cluster: walkthrough, follower reads, client', () => {
  let cluster: TestCluster;
  let release: (() => void) | undefined;
  let client: Client | undefined;
  before(async () => {
    release = await acquireClusterLock();
    cluster = await TestCluster.start({ size: 3 });
  });
  after(async () => {
    await client?.close();
    await cluster?.close();
    release?.();
  });

  test('walkthrough: POST on node 1 is 201; GET on nodes 2 and 3 returns the same product', async () => {
    const leader = await cluster.waitForLeader();
    assert.deepEqual(leader.members.map((m) => m.id).sort(), [1, 2, 3], 'ids learned from the handshakes');
    for (const m of leader.members) assert.equal(m.url, cluster.node(m.id).url, `member ${m.id} url`);

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
  });

  test('linearizable reads on followers never return a value older than one acknowledged before the read began', async () => {
    const leader = await cluster.waitForLeader();
    const followers = cluster.nodes.filter((n) => n.id !== leader.nodeId);
    assert.equal((await http(leader.url, 'PUT', '/api/register/x', { v: 0 })).status, 201);
    let acknowledged = 0; // highest value whose PUT was acknowledged
    let attempted = 0; // highest value a PUT was sent for
    let stop = false;
    const writer = (async () => {
      for (let v = 1; !stop; v++) {
        attempted = v;
        const r = await http(leader.url, 'PUT', '/api/register/x', { v });
        assert.equal(r.status, 200, JSON.stringify(r.body));
        acknowledged = v;
      }
    })();
    const violations: string[] = [];
    let reads = 0;
    let fresh = 0; // reads that saw the newest acknowledged value or newer
    const readers = followers.flatMap((node) =>
      [0, 1].map(async () => {
        while (!stop) {
          const floor = acknowledged;
          const r = await http(node.url, 'GET', '/api/register/x');
          const ceiling = attempted;
          assert.equal(r.status, 200, JSON.stringify(r.body));
          const v = (r.body as { v: number }).v;
          reads++;
          if (v > floor) fresh++;
          if (v < floor) violations.push(`node ${node.id} read ${v} after ${floor} was acknowledged`);
          if (v > ceiling) violations.push(`node ${node.id} read ${v}, never written`);
        }
      }),
    );
    await sleep(2000);
    stop = true;
    await Promise.all([writer, ...readers]);
    console.log(`# ${acknowledged} writes, ${reads} follower reads (${fresh} saw a write in flight)`);
    assert.deepEqual(violations, []);
    assert.ok(acknowledged > 10 && reads > 20, 'enough operations to mean something');
    // The same reads with consistency=local may be stale: that is allowed, not checked.
  });

  test('the client library: CRUD, find, indexes, transaction; then it survives a kill -9 of the leader', async () => {
    client = connect(cluster.urls(), { timeout: 3000, retries: 10, backoff: { delayMsInitial: 20, delayMsMax: 300 } });
    const items = client.collection('items');
    const a = await items.insert({ _id: 'a', sku: 'A-1', qty: 5, tags: ['x'] });
    assert.equal(a._id, 'a');
    const b = await items.insert({ sku: 'B-2', qty: 1 });
    assert.equal(typeof b._id, 'string');
    assert.deepEqual((await items.get('a'))?.qty, 5);
    assert.equal(await items.get('missing'), null);
    const updated = await items.updateById('a', { $inc: { qty: 2 }, $push: { tags: 'y' } });
    assert.equal(updated.qty, 7);
    assert.deepEqual(updated.tags, ['x', 'y']);
    assert.ok(updated._rev > a._rev);
    const replaced = await items.replace(b._id, { sku: 'B-2', qty: 3 });
    assert.equal(replaced.qty, 3);
    assert.deepEqual(
      (await items.find({ qty: { $gte: 3 } }, { sort: { qty: 1 } })).map((d) => d._id),
      [b._id, 'a'],
    );
    assert.equal(await items.count({}), 2);
    const index = await items.createIndex({ sku: 1 }, { unique: true });
    assert.equal(index.unique, true);
    assert.ok((await items.indexes()).some((i) => i.name === index.name));
    await assert.rejects(items.insert({ sku: 'A-1' }), ConflictError);
    const tx = await client.transaction({
      ops: [
        { op: 'update', collection: 'items', filter: { _id: 'a' }, update: { $inc: { qty: -7 } } },
        { op: 'insert', collection: 'items', doc: { _id: 'c', sku: 'C-3', qty: 7 } },
      ],
      if: [{ collection: 'items', id: 'c', exists: false }],
    });
    assert.equal(tx.results.length, 2);
    assert.equal((await items.get('a'))?.qty, 0);
    assert.equal((await items.get('c'))?.qty, 7);
    assert.equal(await items.remove('c'), 1);
    assert.equal(await items.get('c'), null);
    // Every node holds the same documents.
    for (const node of cluster.nodes) assert.equal((await cluster.ids(node.id, 'items')).size, 2);

    // Failover under a loop of client calls.
    const leader = await cluster.waitForLeader();
    const events = client.collection('events');
    const inserted = new Set<string>();
    const unexpected: unknown[] = [];
    let outcomeUnknown = 0;
    let successesAfterKill = 0;
    let killed = false;
    let stop = false;
    const loops = [0, 1, 2].map(async (w) => {
      for (let i = 0; !stop; i++) {
        const id = `f${w}-${i}`;
        try {
          await events.insert({ _id: id, w, i });
          inserted.add(id);
          const got = await events.get(id);
          assert.equal(got?._id, id, `the client reads its own insert ${id}`);
          if (killed) successesAfterKill++;
        } catch (error) {
          if (
            error instanceof OutcomeUnknownError ||
            error instanceof NoLeaderError ||
            error instanceof TimeoutError ||
            error instanceof UnavailableError
          ) {
            outcomeUnknown++;
          } else {
            unexpected.push(error instanceof ClientError || error instanceof Error ? `${error.name}: ${error.message}` : error);
          }
        }
      }
    });
    await sleep(500);
    await cluster.kill(leader.nodeId);
    killed = true;
    const killedAt = Date.now();
    while (successesAfterKill < 20 && Date.now() - killedAt < 8000) await sleep(20);
    stop = true;
    await Promise.all(loops);
    console.log(`# client: ${inserted.size} inserts acknowledged, ${outcomeUnknown} typed failures, ${successesAfterKill} successes after the kill`);
    assert.deepEqual(unexpected, [], 'every failure is a typed, retryable outcome');
    assert.ok(successesAfterKill >= 20, 'the client kept working after the failover');
    const survivors = cluster.live().map((n) => n.id);
    for (const id of survivors) {
      const present = await cluster.ids(id, 'events');
      const missing = [...inserted].filter((d) => !present.has(d));
      assert.deepEqual(missing, [], `node ${id} holds every insert the client reported successful`);
    }
    await cluster.startNode(leader.nodeId);
    const status = await client.status();
    assert.ok(status.leader !== null);
  });
});
