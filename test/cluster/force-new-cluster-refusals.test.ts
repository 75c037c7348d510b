// forceNewCluster on data directories it must leave alone or refuse: no identity, another
// node's directory, a node that is already the only member (nothing appended, however often).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { forceNewCluster, ForceNewClusterError, FORCED_MARKER_FILE } from '../../src/node/force-new-cluster.ts';
import { startNode } from '../../src/server/start-node.ts';

const logger = pino({ level: 'silent' });

test('refused without node.json or for another node; a node already alone is left as it is', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'cs-force-unit-'));
  try {
    await assert.rejects(
      forceNewCluster({ dataDir: join(dir, 'empty'), nodeId: 1, clusterId: 'collection-store', logger }),
      (error: unknown) => error instanceof ForceNewClusterError && /holds no node.json/.test(error.message),
    );
    const dataDir = join(dir, 'node1');
    const node = await startNode({ nodeId: 1, port: 0, peers: [], dataDir, logLevel: 'silent' });
    await node.node.leadingAndCaughtUp(10_000);
    await node.node.execute({ type: 'insert', collection: 'c', docs: [{ _id: 'a' }] });
    const lastIndex = node.node.status().lastLogIndex;
    await node.close();

    await assert.rejects(forceNewCluster({ dataDir, nodeId: 2, clusterId: 'collection-store', logger }), /belongs to node 1/);
    for (let i = 0; i < 2; i++) {
      const forced = await forceNewCluster({ dataDir, nodeId: 1, clusterId: 'collection-store', logger });
      assert.deepEqual(forced.appended, []);
      assert.equal(forced.lastIndex, lastIndex);
    }
    assert.ok(!(await readdir(dataDir)).includes(FORCED_MARKER_FILE), 'nothing was forced, nothing recorded');
    const again = await startNode({ nodeId: 1, port: 0, peers: [], dataDir, logLevel: 'silent', forceNewCluster: true });
    await again.node.leadingAndCaughtUp(10_000);
    assert.equal(again.node.store.count('c'), 1);
    await again.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
