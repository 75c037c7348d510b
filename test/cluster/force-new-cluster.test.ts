// `start --force-new-cluster` with real processes: a 3-node cluster under writes loses two
// nodes for good; the survivor, restarted with the flag (the CLI, from the sources), keeps
// every acknowledged write and also the entries it held past its commit index, takes
// writes alone, and a fresh node joins it. Starting it with the flag again once a member
// joined is refused.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { CLI_COMMAND } from '../product-process.ts';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { acquireClusterLock, freePort, http, missingIds, sleep, TestCluster, WriteLoad, type ClusterStatus } from './harness.ts';

const COLLECTION = 'events';

interface CliNode {
  readonly child: ChildProcess;
  readonly output: () => string;
  readonly exited: Promise<number | null>;
}

/** `collection-store start ...` from the sources; resolves once it listens (or it exited). */
async function startCli(args: readonly string[], children: ChildProcess[]): Promise<CliNode> {
  const child = spawn(process.execPath, [...CLI_COMMAND, 'start', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let output = '';
  child.stdout!.setEncoding('utf8').on('data', (s: string) => (output += s));
  child.stderr!.setEncoding('utf8').on('data', (s: string) => (output += s));
  const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  const deadline = Date.now() + 40_000;
  while (!/listening at/.test(output) && child.exitCode === null && Date.now() < deadline) await sleep(50);
  if (child.exitCode === null && !/listening at/.test(output)) throw new Error(`start ${args.join(' ')} did not serve:\n${output}`);
  return { child, output: () => output, exited };
}

async function statusOf(url: string): Promise<ClusterStatus | null> {
  const result = await http(url, 'GET', '/cluster/status', undefined, { timeoutMs: 2000 });
  return result.status === 200 ? (result.body as ClusterStatus) : null;
}

async function idsOn(url: string, consistency: string): Promise<Set<string>> {
  const result = await http(url, 'GET', `/api/${COLLECTION}?fields=_id&limit=100000&consistency=${consistency}`, undefined, { timeoutMs: 10_000 });
  assert.equal(result.status, 200, JSON.stringify(result.body));
  return new Set((result.body as Array<{ _id: string }>).map((d) => d._id));
}

async function until<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

describe('start --force-new-cluster (3 real nodes, 2 lost for good)', () => {
  let cluster: TestCluster;
  let release: (() => void) | undefined;
  const children: ChildProcess[] = [];
  const root = mkdtempSync(join(tmpdir(), 'cs-force-'));

  before(async () => {
    release = await acquireClusterLock();
    cluster = await TestCluster.start({ size: 3 });
  });
  after(async () => {
    for (const child of children) child.kill('SIGKILL');
    await cluster?.close();
    release?.();
    rmSync(root, { recursive: true, force: true });
  });

  test('the survivor keeps every acknowledged write and its uncommitted tail, takes writes alone, a fresh node joins; a second force is refused', async () => {
    const leader = await cluster.waitForLeader();
    const survivor = cluster.node(leader.nodeId);
    const load = new WriteLoad(COLLECTION, 'f-', 4, () => cluster.live(), { timeoutMs: 4000 });
    await sleep(1000);
    // Both followers die while writes go on: the leader appends entries it can no longer commit.
    await Promise.all(cluster.nodes.filter((n) => n.id !== survivor.id).map((n) => cluster.kill(n.id)));
    await sleep(500);
    await load.stop();
    const acknowledged = load.acknowledged();
    const uncertain = new Set(load.uncertain());
    assert.ok(acknowledged.length > 0, load.summary());
    const before = await statusOf(survivor.url);
    assert.ok(before !== null);
    assert.ok(before.lastLogIndex > before.commitIndex, `the survivor holds entries past its commit index (${JSON.stringify(before)})`);
    await cluster.kill(survivor.id);

    // Restarted alone with the flag: no peers.
    const forced = await startCli(
      ['--node-id', String(survivor.id), '--port', String(survivor.port), '--data-dir', survivor.dataDir, '--force-new-cluster'],
      children,
    );
    assert.match(forced.output(), /WARNING: --force-new-cluster/);
    const alone = await until('the survivor leads alone', async () => {
      const s = await statusOf(survivor.url);
      return s !== null && s.role === 'leader' && s.members.length === 1 && s.appliedIndex >= before.lastLogIndex ? s : undefined;
    });
    assert.equal(alone.members[0]!.id, survivor.id);
    const present = await idsOn(survivor.url, 'linearizable');
    assert.deepEqual(missingIds(acknowledged, present), [], 'acknowledged writes lost');
    const phantom = [...present].filter((id) => !uncertain.has(id) && !acknowledged.includes(id));
    assert.deepEqual(phantom, [], 'writes nobody sent');
    // The entries past the commit index were kept and committed (etcd would have dropped them).
    assert.ok(
      [...uncertain].some((id) => present.has(id)),
      `none of the ${uncertain.size} uncertain writes was kept`,
    );
    assert.equal((await http(survivor.url, 'POST', `/api/${COLLECTION}`, { _id: 'after-force' })).status, 201);

    // A fresh node joins the new cluster.
    const port4 = await freePort();
    // The leader promotes it once it has caught up as a learner: the request waits for the node to run.
    const adding = http(survivor.url, 'POST', '/cluster/members', { id: 4, url: `http://127.0.0.1:${port4}` }, { timeoutMs: 60_000 });
    await startCli(
      ['--node-id', '4', '--port', String(port4), '--data-dir', join(root, 'node4'), '--join', '--peers', `127.0.0.1:${survivor.port}`],
      children,
    );
    const added = await adding;
    assert.equal(added.status, 200, JSON.stringify(added.body));
    const target = (await statusOf(survivor.url))!.commitIndex;
    await until('node 4 caught up', async () => {
      const s = await statusOf(`http://127.0.0.1:${port4}`);
      return s !== null && s.appliedIndex >= target ? s : undefined;
    });
    const onNew = await idsOn(`http://127.0.0.1:${port4}`, 'local');
    assert.deepEqual(missingIds([...acknowledged, 'after-force'], onNew), [], 'the new member lacks acknowledged writes');

    // The flag left on by mistake: refused, since a member joined since.
    forced.child.kill('SIGTERM');
    await forced.exited;
    const again = await startCli(
      ['--node-id', String(survivor.id), '--port', String(survivor.port), '--data-dir', survivor.dataDir, '--force-new-cluster'],
      children,
    );
    assert.equal(await again.exited, 1);
    assert.match(again.output(), /was applied to .* before .* members were added since/);
  });
});
