// Issue #14 on a real 3-node cluster, for what the other cluster tests leave out: a node
// restarted from a snapshot retains no change before it (GET .../_changes answers 410
// CHANGES_EXPIRED for an older token) while the others still do, so a client watch() resuming
// from that token goes on at another node and gets every change after it exactly once; and a
// model's declared indexes and history retention hold on every node.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type ChangeEvent } from '../../src/client/index.ts';
import { eventually, http, useCluster, writeToLeader } from './harness.ts';

const COLLECTION = 'feed';
/** Snapshots every this many entries: the writes below make several before the restart. */
const SNAPSHOT_EVERY_ENTRIES = 40;
const DOCS = 120;

const cluster = useCluster({ size: 3, snapshotThreshold: SNAPSHOT_EVERY_ENTRIES });

test('a 410 from a node restarted past the token: watch() goes on at another node, every change once; declared indexes and retention on every node', async () => {
  await cluster().waitForLeader();
  const model = {
    schema: { type: 'object' },
    options: { trackHistory: true, history: { maxVersions: 2 }, indexes: [{ fields: [['n', 1]], name: 'by_n' }] },
  };
  assert.equal((await writeToLeader(cluster(), 'PUT', `/api/${COLLECTION}/_schema`, model)).status, 200);
  // The writes through the client: it retries through a leader change (an election on a busy
  // machine) under one Idempotency-Key, so each applies once.
  const client = connect(
    cluster().nodes.map((n) => n.url),
    { timeout: 2000, retries: 10, backoff: { delayMsInitial: 20, delayMsMax: 200 } },
  );
  try {
    const feed = client.collection(COLLECTION);
    for (let i = 0; i < DOCS; i++) await feed.insert({ _id: `d${String(i).padStart(3, '0')}`, n: i });
    for (let v = 1; v <= 3; v++) await feed.updateById('d000', { $set: { v } });

    // The token of the fifth insert, from the start of the log (every node still has it).
    const early: ChangeEvent[] = [];
    for await (const e of client.collection(COLLECTION).watch({ resumeAfter: '0' })) {
      if (e.eventType === 'Created') early.push(e);
      if (early.length === 5) break;
    }
    const token = early[4]!.eventId;

    // A follower restarted: it starts from its snapshot, past the token.
    const now = await cluster().waitForLeader();
    const follower = cluster().nodes.find((n) => n.id !== now.nodeId)!;
    await cluster().stop(follower.id);
    await cluster().restart(follower.id);
    await cluster().waitForLeader();
    const expired = await eventually('the restarted node to answer 410', async () => {
      const r = await http(follower.url, 'GET', `/api/${COLLECTION}/_changes?resumeAfter=${token}`, undefined, { timeoutMs: 2000 });
      return r.status === 410 ? r : undefined;
    });
    assert.equal((expired.body as { error: { code: string } }).error.code, 'CHANGES_EXPIRED');

    // The watch asks the restarted node first, then the others: every change after the token, once.
    const first = connect(
      [
        follower.url,
        ...cluster()
          .nodes.filter((n) => n.id !== follower.id)
          .map((n) => n.url),
      ],
      {
        timeout: 2000,
        retries: 10,
        backoff: { delayMsInitial: 20, delayMsMax: 200 },
      },
    );
    try {
      const seen: string[] = [];
      for await (const e of first.collection(COLLECTION).watch({ resumeAfter: token })) {
        seen.push(`${e.eventType} ${e.aggregateId}`);
        if (e.eventType === 'Updated' && (e.data as { v?: number } | undefined)?.v === 3) break;
      }
      const created = Array.from({ length: DOCS - 5 }, (_, i) => `Created d${String(i + 5).padStart(3, '0')}`);
      assert.deepEqual(seen, [...created, 'Updated d000', 'Updated d000', 'Updated d000']);
    } finally {
      await first.close();
    }

    // The model on every node, the restarted one included: its index, and history kept to 2 versions.
    for (const node of cluster().nodes) {
      const indexes = await http(node.url, 'GET', `/api/${COLLECTION}/_indexes?consistency=linearizable`);
      assert.deepEqual(
        (indexes.body as Array<{ name: string }>).map((i) => i.name),
        ['by_n'],
        `node ${node.id}`,
      );
      const history = await http(node.url, 'GET', `/api/${COLLECTION}/d000/_history?consistency=linearizable`);
      assert.equal(history.status, 200, `node ${node.id}: ${JSON.stringify(history.body)}`);
      assert.deepEqual(
        (history.body as Array<{ data?: { v?: number } }>).map((h) => h.data?.v),
        [2, 3],
        `node ${node.id}`,
      );
    }
  } finally {
    await client.close();
  }
});
