// Updates by filter checked against the model before proposing, on a 3-node cluster of real
// processes (issue #14, src/server/update-precheck.ts): an `_update` or a transaction's update
// op that would make documents invalid, sent to a follower or to the leader, is refused with
// 400 VALIDATION_FAILED naming every failing document, and no node's log grows; a valid one is
// applied everywhere; and a follower that may not have applied a looser schema yet does not
// refuse an update that the schema in force allows (its failing check is repeated at a
// linearizable read point before it refuses).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeToLeader, acquireClusterLock, eventually, http, TestCluster, type HttpResult } from './harness.ts';

const PRODUCT = {
  type: 'object',
  properties: { name: { type: 'string', minLength: 1 }, price: { type: 'number', minimum: 1 } },
  required: ['name', 'price'],
};
const LOOSER = { ...PRODUCT, properties: { ...PRODUCT.properties, price: { type: 'number', minimum: 0 } } };

interface ErrorBody {
  error: { code: string; message: string };
}

describe('updates by filter checked before proposing (3 real nodes)', () => {
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

  /** Each node's last log index after `send` answered, when no election came between (else
   * the request is sent again: a new leader's no-op entry would move the index). */
  async function logIndexesAround(send: () => Promise<HttpResult>): Promise<{ result: HttpResult; before: number[]; after: number[] }> {
    return eventually(
      'a request answered within one term',
      async () => {
        const leader = await cluster.waitForLeader();
        await cluster.waitApplied([1, 2, 3], leader.commitIndex);
        const before = await Promise.all([1, 2, 3].map((id) => cluster.status(id)));
        // Start from a quiet log: an entry still in flight (a node recording its address after
        // start: CI once saw [5, 5, 6] become [6, 6, 6]) would look like the request's own.
        const indexes = new Set(before.map((s) => s?.lastLogIndex));
        if (indexes.size !== 1 || before.some((s) => s === null || s.commitIndex !== s.lastLogIndex)) return undefined;
        const result = await send();
        const leaderAfter = await cluster.waitForLeader();
        await cluster.waitApplied([1, 2, 3], leaderAfter.commitIndex);
        const after = await Promise.all([1, 2, 3].map((id) => cluster.status(id)));
        if (leaderAfter.term !== leader.term || result.status === 0 || result.status >= 500) return undefined;
        // An entry of the cluster's own (a node recording its address) may land while the request
        // runs (CI saw [4,4,4] -> [5,5,5] from a quiet start): try again. A refused update that
        // costs an entry does so every time, and the wait below then fails the test.
        const grew = after.some((s, i) => s!.lastLogIndex !== before[i]!.lastLogIndex);
        if (grew && result.status === 400) return undefined;
        return { result, before: before.map((s) => s!.lastLogIndex), after: after.map((s) => s!.lastLogIndex) };
      },
      30_000,
    );
  }

  test('refused with every failing document named and no log entry on any node; valid updates applied everywhere', async () => {
    assert.equal((await writeToLeader(cluster, 'PUT', '/api/products/_schema', { schema: PRODUCT })).status, 200);
    const docs = [
      { _id: 'a', name: 'A', price: 1, cheap: true },
      { _id: 'b', name: 'B', price: 2, cheap: true },
      { _id: 'c', name: 'C', price: 3 },
    ];
    assert.equal((await writeToLeader(cluster, 'POST', '/api/products', docs)).status, 201);

    const invalid = { filter: { cheap: true }, update: { $set: { price: 0.5 } }, multi: true };
    for (const target of ['follower', 'leader'] as const) {
      const { result, before, after } = await logIndexesAround(async () => {
        const leader = await cluster.waitForLeader();
        const id = target === 'leader' ? leader.nodeId : [1, 2, 3].find((n) => n !== leader.nodeId)!;
        return http(cluster.node(id).url, 'POST', '/api/products/_update', invalid);
      });
      assert.equal(result.status, 400, `${target}: ${JSON.stringify(result.body)}`);
      assert.deepEqual(after, before, `${target}: no node's log grew`);
      const { error } = result.body as ErrorBody;
      assert.equal(error.code, 'VALIDATION_FAILED');
      assert.match(error.message, /document "a" [^|]*\/price must be >= 1 \(minimum\) \| document "b" [^|]*\/price must be >= 1/);
    }

    const tx = await logIndexesAround(async () => {
      const leader = await cluster.waitForLeader();
      const follower = [1, 2, 3].find((n) => n !== leader.nodeId)!;
      return http(cluster.node(follower).url, 'POST', '/api/_tx', {
        ops: [
          { op: 'insert', collection: 'other', doc: { x: 1 } },
          { op: 'update', collection: 'products', filter: { _id: 'c' }, update: { $unset: { name: '' } } },
        ],
      });
    });
    assert.equal(tx.result.status, 400, JSON.stringify(tx.result.body));
    assert.match((tx.result.body as ErrorBody).error.message, /^transaction op 1: document "c" .*name/);
    assert.deepEqual(tx.after, tx.before, "the transaction grew no node's log");

    const valid = await writeToLeader(cluster, 'POST', '/api/products/_update', {
      filter: { cheap: true },
      update: { $inc: { price: 10 } },
      multi: true,
    });
    assert.equal(valid.status, 200, JSON.stringify(valid.body));
    for (const node of cluster.nodes) {
      const r = await http(node.url, 'GET', '/api/products?filter={"cheap":true}&consistency=linearizable');
      if (r.status !== 200) continue; // a node between leaders: the others show the same
      assert.deepEqual(
        (r.body as { price: number }[]).map((d) => d.price),
        [11, 12],
        `node ${node.id}`,
      );
    }
  });

  test('a follower behind a looser schema does not refuse what the schema in force allows', async () => {
    const leader = await cluster.waitForLeader();
    const follower = [1, 2, 3].find((n) => n !== leader.nodeId)!;
    // The follower misses the schema change while paused: on resuming, its first look at its
    // own state may still see the stricter schema, and only a linearizable recheck may refuse.
    cluster.pause(follower);
    try {
      const looser = await writeToLeader(cluster, 'PUT', '/api/products/_schema', { schema: LOOSER });
      assert.equal(looser.status, 200, JSON.stringify(looser.body));
    } finally {
      cluster.resume(follower);
    }
    const r = await eventually(
      'the update through the follower',
      async () => {
        const res = await http(cluster.node(follower).url, 'POST', '/api/products/_update', {
          filter: { _id: 'c' },
          update: { $set: { price: 0.5 } },
        });
        return res.status === 0 || res.status === 503 || res.status === 504 ? undefined : res;
      },
      15_000,
    );
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.deepEqual(r.body, { matched: 1, modified: 1 });
  });
});
