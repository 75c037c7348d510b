// Models, history and audit on a 3-node cluster of real processes (issue #14): the schema is
// replicated state (set on one node, enforced on every node), validation errors name every
// failing path, a schema change over bad documents is refused unless forced, and a document's
// history, written across a leader change, is the same on every node (terms and leaders
// included) with an audit chain that verifies everywhere.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { acquireClusterLock, eventually, http, TestCluster, writeToLeader } from './harness.ts';

const U1 = '7f9c2ba4-e88f-4b5a-9d3c-1a2b3c4d5e6f';
const U2 = '0e3b1c6a-2f4d-4c8e-8a1b-9d8c7b6a5f4e';

const PRODUCT = {
  type: 'object',
  properties: {
    _id: { type: 'string', format: 'uuid' },
    name: { type: 'string', minLength: 1 },
    price: { type: 'number', minimum: 0.01 },
    stock: { type: 'integer', minimum: 0, default: 0 },
  },
  required: ['_id', 'name', 'price'],
};

interface Event {
  eventId: string;
  eventType: string;
  term: number;
  nodeId: number;
  sequence: number;
  timestamp: number;
  data?: { price?: number };
}

describe('models on a 3-node cluster', () => {
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

  test('schema, validation, schema change, history across a leader change, audit on every node', async () => {
    await cluster.waitForLeader();
    // A document that the schema will refuse, written before it exists.
    assert.equal((await writeToLeader(cluster, 'PUT', `/api/products/${U2}`, { name: 'Free', price: 0 })).status, 201);
    const refused = await writeToLeader(cluster, 'PUT', '/api/products/_schema', { schema: PRODUCT, options: { trackHistory: true, audited: true } });
    assert.equal(refused.status, 400, JSON.stringify(refused.body));
    assert.match(JSON.stringify(refused.body), new RegExp(`VALIDATION_FAILED.*${U2}`));
    const forced = await writeToLeader(cluster, 'PUT', '/api/products/_schema?force=true', {
      schema: PRODUCT,
      options: { trackHistory: true, audited: true },
    });
    assert.equal(forced.status, 200, JSON.stringify(forced.body));

    const bad = await writeToLeader(cluster, 'POST', '/api/products', { _id: 'nope', name: '', price: 0 });
    assert.equal(bad.status, 400);
    const message = (bad.body as { error: { code: string; message: string } }).error;
    assert.equal(message.code, 'VALIDATION_FAILED');
    for (const rule of ['/_id', 'format', '/name', 'minLength', '/price', 'minimum']) assert.ok(message.message.includes(rule), rule);

    const created = await writeToLeader(cluster, 'POST', '/api/products', { _id: U1, name: 'Pen', price: '1.5' });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    assert.deepEqual(created.body, { _id: U1, _rev: (created.body as { _rev: number })._rev, name: 'Pen', price: 1.5, stock: 0 });

    // Every node enforces the schema it learned from the log.
    for (const node of cluster.nodes) {
      const schema = await eventually(`schema on node ${node.id}`, async () => {
        const r = await http(node.url, 'GET', '/api/products/_schema');
        return r.status === 200 ? r.body : undefined;
      });
      assert.deepEqual((schema as { schema: unknown }).schema, PRODUCT);
      const r = await http(node.url, 'POST', '/api/products', { _id: U2, name: 'X', price: -1 });
      assert.equal(r.status, 400, `node ${node.id}`);
    }

    assert.equal((await writeToLeader(cluster, 'PATCH', `/api/products/${U1}`, { $set: { price: 2 } })).status, 200);
    // The leader now (an election may already have replaced the first one).
    const killed = await cluster.waitForLeader();
    await cluster.kill(killed.nodeId);
    const next = await cluster.waitForLeader({ among: cluster.nodes.map((n) => n.id).filter((id) => id !== killed.nodeId) });
    assert.equal((await writeToLeader(cluster, 'PATCH', `/api/products/${U1}`, { $set: { price: 3 } })).status, 200);
    await cluster.restart(killed.nodeId);

    const histories = [];
    const heads = [];
    for (const node of cluster.nodes) {
      const history = await eventually(
        `history on node ${node.id}`,
        async () => {
          const r = await http(node.url, 'GET', `/api/products/${U1}/_history?consistency=linearizable`);
          return r.status === 200 && (r.body as Event[]).length === 3 ? (r.body as Event[]) : undefined;
        },
        20_000,
      );
      histories.push(history);
      const verify = await http(node.url, 'GET', '/api/products/_audit?verify=true&consistency=linearizable');
      const { head, ...verdict } = verify.body as { head: { hash: string; eventId: string } };
      assert.deepEqual(verdict, { ok: true, checked: 3 }, `audit on node ${node.id}`);
      assert.equal(head.eventId, history[2]!.eventId);
      heads.push(head);
      const old = await http(node.url, 'GET', `/api/products/${U1}/_history?asOf=${history[1]!.sequence}`);
      assert.equal((old.body as { price: number }).price, 2);
      // The same version by its log time, through GET /:id, on every node (followers included).
      const at = encodeURIComponent(new Date(history[1]!.timestamp).toISOString());
      const byTime = await http(node.url, 'GET', `/api/products/${U1}?asOf=${at}`);
      assert.equal(byTime.status, 200, `node ${node.id}: ${JSON.stringify(byTime.body)}`);
      assert.equal((byTime.body as { price: number }).price, 2);
    }
    const h = histories[0]!;
    assert.deepEqual(histories[1], h);
    assert.deepEqual(histories[2], h);
    assert.deepEqual(heads[1], heads[0], 'the same chain head on every node');
    assert.deepEqual(heads[2], heads[0], 'the same chain head on every node');
    assert.deepEqual(
      h.map((e) => [e.eventType, e.data?.price]),
      [
        ['Created', 1.5],
        ['Updated', 2],
        ['Updated', 3],
      ],
    );
    // The leader of each write (a busy machine may have elected another before the kill).
    assert.ok([1, 2, 3].includes(h[1]!.nodeId));
    assert.notEqual(h[2]!.nodeId, killed.nodeId, 'the killed leader wrote nothing after');
    assert.equal(h[2]!.nodeId, next.nodeId);

    // TTL: removed by the leader's sweep through the log, so every node records the deletion.
    const ttl = await writeToLeader(cluster, 'PUT', '/api/sessions/_schema', {
      schema: { type: 'object' },
      options: { ttlField: 'expireAt', trackHistory: true },
    });
    assert.equal(ttl.status, 200, JSON.stringify(ttl.body));
    assert.equal((await writeToLeader(cluster, 'PUT', '/api/sessions/s1', { expireAt: Date.now() + 300 })).status, 201);
    for (const node of cluster.nodes) {
      await eventually(
        `TTL removal seen on node ${node.id}`,
        async () => {
          const r = await http(node.url, 'GET', '/api/sessions/s1/_history');
          const types = (r.body as Event[]).map((e) => e.eventType);
          return r.status === 200 && types.join() === 'Created,Deleted' ? true : undefined;
        },
        10_000,
      );
    }
    assert.ok(
      h[2]!.term > h[1]!.term,
      `the new leader wrote in a later term: ${JSON.stringify(h.map((e) => [e.term, e.nodeId, e.sequence]))} (leaders ${killed.nodeId}@${killed.term}, ${next.nodeId}@${next.term})`,
    );
  });
});
