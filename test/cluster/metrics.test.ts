// Issue #13: a real 3-node cluster reports its Raft metrics on /metrics and
// /cluster/metrics; killing the leader raises election_count on the survivors and a
// leader_elected event arrives on /cluster/events.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { acquireClusterLock, eventually, http, TestCluster } from './harness.ts';

interface Metrics {
  current_leader: number | null;
  election_count: number;
  cluster_size: number;
  healthy_nodes: number;
  commit_index: number;
}

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

test('metrics of 3 nodes; a killed leader raises election_count and sends leader_elected', async () => {
  const leader = await cluster.waitForLeader();
  const survivor = cluster.nodes.find((n) => n.id !== leader.nodeId)!;
  const before = (await http(survivor.url, 'GET', '/cluster/metrics')).body as Metrics;
  assert.equal(before.cluster_size, 3);
  assert.equal(before.current_leader, leader.nodeId);
  const text = await (await fetch(`${survivor.url}/metrics`)).text();
  assert.match(text, new RegExp(`^collection_store_raft_leader_id ${leader.nodeId}$`, 'm'));
  assert.match(text, /^collection_store_log_sync_duration_seconds_count [1-9]/m);
  // Subscribe before the kill: the new leader's election arrives live.
  const controller = new AbortController();
  const response = await fetch(`${survivor.url}/cluster/events?since=999999`, { signal: controller.signal });
  const reader = response.body!.getReader();
  await cluster.kill(leader.nodeId);
  const decoder = new TextDecoder();
  let received = '';
  const deadline = Date.now() + 10_000;
  while (!/event: leader_elected\n/.test(received) && Date.now() < deadline) {
    const { value, done } = await reader.read();
    if (done) break;
    received += decoder.decode(value, { stream: true });
  }
  controller.abort();
  const line = received.split('\n').find((l) => l.startsWith('data: ') && l.includes('"leader_elected"'));
  assert.ok(line !== undefined, `no leader_elected event: ${received}`);
  const event = JSON.parse(line.slice(6)) as { leader: number; term: number };
  assert.notEqual(event.leader, leader.nodeId);
  const after = await eventually('election_count rises', async () => {
    const m = (await http(survivor.url, 'GET', '/cluster/metrics')).body as Metrics;
    return m.election_count > before.election_count && m.current_leader === event.leader ? m : undefined;
  });
  assert.equal(after.healthy_nodes, 2);
});
