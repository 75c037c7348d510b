// A leader lease is bounded by the election timeout in real time (thesis 6.4.1): once
// that much time passed without a quorum acknowledging the leader, the followers may
// have elected another leader and committed writes, so a lease read must not be served
// from the old leader's state. A leader whose event loop stalled (GC, a long sync task,
// SIGSTOP) has not ticked meanwhile; the lease must still count the stall.
// Node 1 runs inside this process so that the test can stall its event loop; nodes 2
// and 3 are real processes that keep running meanwhile.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { acquireClusterLock, ELECTION_TIMEOUT_MS, http, TestCluster, sleep } from './harness.ts';

function stallEventLoop(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

describe('leader lease across an event-loop stall', () => {
  let cluster: TestCluster | undefined;
  let release: (() => void) | undefined;
  before(async () => {
    release = await acquireClusterLock();
  });
  after(async () => {
    await cluster?.close();
    release?.();
  });

  test('after a stall longer than the election timeout, a lease read is not served from the stalled leader at once', async () => {
    cluster = await TestCluster.start({ size: 3, inProcess: [1] });
    let leader = await cluster.waitForLeader();
    // A transfer can time out right after the first election (the target still catching
    // up): try a few times.
    for (let attempt = 0; leader.nodeId !== 1 && attempt < 5; attempt++) {
      const moved = await http(leader.url, 'POST', '/cluster/transfer-leadership', { to: 1 });
      if (moved.status !== 200) console.log(`# transfer to node 1: ${moved.status} ${JSON.stringify(moved.body)}`);
      leader = await cluster.waitForLeader();
    }
    assert.equal(leader.nodeId, 1);
    const node = cluster.node(1).inProcess!.node;
    assert.equal((await http(leader.url, 'PUT', '/api/r/x', { v: 1 })).status, 201);
    await sleep(ELECTION_TIMEOUT_MS); // heartbeats acknowledged: the lease is valid now
    let servedAtOnce = false;
    await node.readBarrier('lease').then(() => {
      servedAtOnce = true;
    });
    assert.ok(servedAtOnce, 'precondition: a lease read is served by a healthy leader');

    stallEventLoop(ELECTION_TIMEOUT_MS * 7);
    // Right after the stall, before any timer or socket callback runs (as for an HTTP
    // request parsed in the first poll phase after the stall).
    let served = false;
    const barrier = node.readBarrier('lease').then(
      () => {
        served = true;
      },
      () => {},
    );
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(served, false, 'a lease read was served by a leader that has not heard from a quorum for 1 s');
    await barrier;
    // Meanwhile nodes 2 and 3 moved on without node 1 or kept it; either way the cluster serves.
    await cluster.waitForLeader();
  });
});
