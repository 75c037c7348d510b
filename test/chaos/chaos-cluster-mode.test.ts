// `collection-store chaos --cluster` against running nodes: the test starts three
// `collection-store start --enable-fault-injection` processes itself, and the command drives
// every fault through POST /cluster/fault-injection: pause (the leader blocks itself beyond
// the election timeout), then, on the same nodes, leader_isolation (the leader's Raft traffic
// dropped both ways), a second run that must not trip over the first one's documents, and
// leader_crash (the leader ends itself; the test, as its supervisor, starts it again). The
// same nodes then serve a run whose check cannot finish (--check-budget 1): no verdict, exit
// 3, never a pass.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { after, before, test } from 'node:test';
import { probeNode } from '../../src/cli/cluster-readiness.ts';
import { EXIT_NO_VERDICT } from '../../src/cli/chaos.ts';
import { freeConsecutivePorts, tempDir } from '../cli/cli-process.ts';
import { CLI_COMMAND } from '../product-process.ts';
import { assertConsistent, chaosRunner, leaderAt, newLeaderAfter, okWritesBetween, ROOT, RUN_TIMEOUT_MS } from './chaos-run.ts';

const chaos = chaosRunner();
const ELECTION_TIMEOUT_MS = 150;
/** How long three nodes may take to start and agree on a leader (tsx compiles them), in ms. */
const CLUSTER_START_MS = 60_000;
const SHORT = ['--duration', '4s', '--interval', '3s', '--load-test-concurrent', '6'];

const nodes = new Map<number, ChildProcess>();
const stderrTails = new Map<number, string>();
/** How often the test, as the nodes' supervisor, started each node again after it ended. */
const restarts = new Map<number, number>([
  [1, 0],
  [2, 0],
  [3, 0],
]);
let supervising = true;
let cluster = '';
let urls: string[] = [];
let removeData: () => Promise<void> = async () => {};
let firstRunId = '';

/** Starts node `id`; when it ends (the endpoint's crash), starts it again, as systemd would. */
function startNode(id: number, args: readonly string[]): void {
  const child = spawn(process.execPath, [...CLI_COMMAND, 'start', ...args], { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
  // The last of each node's stderr, for a failure to say why (CI once saw no leader in 60 s).
  child.stderr?.on('data', (chunk: Buffer) => stderrTails.set(id, ((stderrTails.get(id) ?? '') + chunk.toString()).slice(-600)));
  nodes.set(id, child);
  child.once('exit', () => {
    if (!supervising) return;
    restarts.set(id, restarts.get(id)! + 1);
    startNode(id, args);
  });
}

before(async () => {
  const data = await tempDir();
  removeData = data.remove;
  const base = await freeConsecutivePorts(3);
  const address = (id: number): string => `127.0.0.1:${base + id - 1}`;
  for (const id of [1, 2, 3]) {
    const peers = [1, 2, 3].filter((other) => other !== id).map((other) => `${other}=${address(other)}`);
    const args = ['--node-id', String(id), '--port', String(base + id - 1), '--data-dir', `${data.path}/node${id}`, '--peers', peers.join(',')];
    const tuning = ['--election-timeout', String(ELECTION_TIMEOUT_MS), '--heartbeat-interval', '50', '--log-level', 'warn'];
    startNode(id, [...args, ...tuning, '--enable-fault-injection']);
  }
  urls = [1, 2, 3].map((id) => `http://${address(id)}`);
  cluster = [1, 2, 3].map(address).join(',');
  const deadline = Date.now() + CLUSTER_START_MS;
  for (;;) {
    const probes = await Promise.all(urls.map((url) => probeNode(url)));
    const leaders = new Set(probes.map((p) => p.leaderId));
    if (probes.every((p) => p.healthy) && leaders.size === 1 && !leaders.has(null)) break;
    if (Date.now() > deadline) {
      throw new Error(
        `the three nodes did not agree on a leader within ${CLUSTER_START_MS} ms: ${JSON.stringify(probes)}; restarts ${JSON.stringify([...restarts])}; stderr ${JSON.stringify([...stderrTails])}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
});

after(async () => {
  supervising = false;
  await Promise.all(
    [...nodes.values()].map(async (child) => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGKILL');
      await new Promise((resolve) => child.once('exit', resolve));
    }),
  );
  await removeData();
});

test(
  '--cluster: pause through the fault-injection endpoint; a new leader is elected, the old one resumes',
  { timeout: RUN_TIMEOUT_MS + 10_000 },
  async () => {
    const run = await chaos(['--cluster', cluster, '--scenario', 'pause', ...SHORT, '--fault-duration', '500ms', '--seed', '41']);
    firstRunId = run.report.runId;
    assert.match(run.stdout, /\[chaos\] against node 1 http:\/\/127\.0\.0\.1:\d+, node 2 .*, node 3 /);
    assert.doesNotMatch(run.stdout, /starting \d+ local nodes/, 'no local cluster of its own');
    assertConsistent(run);
    const { report } = run;
    assert.equal(report.nodes, 3);
    assert.equal(report.faults.length, 1);
    const fault = report.faults[0]!;
    const match = /^node (\d) \(leader\) paused (\d+) ms$/.exec(fault.description);
    assert.ok(match !== null, fault.description);
    assert.equal(Number(match[2]), 4 * ELECTION_TIMEOUT_MS);
    const before = leaderAt(report, fault.startMs);
    assert.equal(before?.leader, Number(match[1]), 'the node paused was the leader');
    assert.ok(newLeaderAfter(report, fault.startMs, before) !== undefined, 'the others elected a new leader in a later term');
    // The endpoint paused the process; it did not end it: every node still runs and answers.
    assert.deepEqual([...restarts.values()], [0, 0, 0], 'no node process ended');
    for (const url of urls) assert.equal((await probeNode(url)).healthy, true, `${url} answers after the run`);
  },
);

test(
  '--cluster, a second checked run on the same nodes: leader_isolation; the others elect a new leader in a later term',
  { timeout: RUN_TIMEOUT_MS + 10_000 },
  async () => {
    // 3 s of isolation in a 6 s run: the majority elects (up to 2 election timeouts, more on a
    // loaded box) and its clients must find the new leader (CI once saw none acknowledged in 1.5 s).
    const run = await chaos([
      '--cluster',
      cluster,
      '--scenario',
      'leader_isolation',
      ...SHORT,
      '--duration',
      '6s',
      '--interval',
      '4s',
      '--fault-duration',
      '3000ms',
      '--seed',
      '22',
    ]);
    // The registers of the first run are still there: this run must start from its own, fresh ones.
    assert.ok(firstRunId !== '' && run.report.runId !== firstRunId, 'a run of its own');
    assertConsistent(run);
    const { report } = run;
    assert.equal(report.faults.length, 1);
    const fault = report.faults[0]!;
    const match = /^node (\d) \(leader\) cut off from (\d), (\d)$/.exec(fault.description);
    assert.ok(match !== null, fault.description);
    const isolated = Number(match[1]);
    assert.deepEqual([isolated, Number(match[2]), Number(match[3])].sort(), [1, 2, 3]);
    const before = leaderAt(report, fault.startMs);
    assert.equal(before?.leader, isolated, 'the node cut off was the leader at the time');
    const after = newLeaderAfter(report, fault.startMs, before);
    assert.ok(after !== undefined && after.timeMs <= fault.endMs, 'a new leader was elected while the isolation held');
    assert.ok(report.leaderChanges >= 1);
    assert.ok(fault.endMs - fault.startMs >= 3000, 'the isolation held for --fault-duration');
    assert.ok(okWritesBetween(run, after.timeMs, fault.endMs) > 0, 'the majority acknowledged writes under its new leader before the heal');
  },
);

test(
  '--cluster leader_crash: the endpoint ends the leader, its supervisor starts it again, another node leads meanwhile',
  { timeout: RUN_TIMEOUT_MS + 10_000 },
  async () => {
    const before = new Map(restarts);
    const run = await chaos(['--cluster', cluster, '--scenario', 'leader_crash', ...SHORT, '--seed', '43']);
    assertConsistent(run);
    const { report } = run;
    assert.equal(report.faults.length, 1);
    const fault = report.faults[0]!;
    const victim = Number(/^node (\d) \(leader\) killed$/.exec(fault.description)?.[1]);
    const old = leaderAt(report, fault.startMs);
    assert.equal(old?.leader, victim, 'the node killed was the leader');
    assert.ok(newLeaderAfter(report, fault.startMs, old) !== undefined, 'another node was elected in a later term');
    assert.deepEqual(
      [1, 2, 3].map((id) => restarts.get(id)! - before.get(id)!),
      [1, 2, 3].map((id) => (id === victim ? 1 : 0)),
      'the endpoint ended exactly the leader, once',
    );
    assert.ok(fault.endMs - fault.inPlaceMs >= 1000, 'the run waited for the node to come back');
    assert.ok(fault.recoveryMs !== null && fault.recoveryMs < fault.endMs - fault.startMs, 'writes resumed before the old leader was back');
  },
);

test('a run whose check cannot finish (--check-budget 1) has no verdict: exit 3, not 0', { timeout: RUN_TIMEOUT_MS + 10_000 }, async () => {
  // One second of load: the warm-up and no fault (a 1 s fault would end after the run).
  const run = await chaos(['--cluster', cluster, '--duration', '1s', '--check-budget', '1', '--seed', '42', '--load-test-concurrent', '4']);
  assert.equal(run.report.faults.length, 0);
  assert.ok(run.report.operations.ok > 0, 'operations succeeded: there was something to check');
  assert.equal(run.report.consistency.verdict, 'unknown');
  assert.match(run.report.consistency.failure ?? '', /search budget of 1 steps exhausted/);
  assert.equal(run.report.result, 'no verdict');
  assert.match(run.stdout, /result {10}NO VERDICT/);
  assert.equal(run.code, EXIT_NO_VERDICT, `${run.stdout}\n${run.stderr}`);
  assert.equal(EXIT_NO_VERDICT, 3);
});

// Last in this file: the node it crashes stays down.
test(
  '--cluster crash with no supervisor: the run waits --restart-wait, reports the node that did not come back and fails (exit 1)',
  { timeout: RUN_TIMEOUT_MS + 10_000 },
  async () => {
    supervising = false;
    const run = await chaos(['--cluster', cluster, '--scenario', 'leader_crash', ...SHORT, '--restart-wait', '2s', '--seed', '44']);
    assert.equal(run.code, 1, `${run.stdout}\n${run.stderr}`);
    const { report } = run;
    assert.equal(report.result, 'fail');
    assert.equal(report.faults.length, 1);
    const fault = report.faults[0]!;
    assert.match(fault.description, /^node \d \(leader\) killed$/);
    assert.match(fault.error ?? '', /did not come back within 2 s of its crash/);
    assert.equal(fault.endMs, null, 'never healed (NaN in the run, null in JSON)');
    assert.match(run.stdout, /NOT HEALED: node \d .* did not come back within 2 s/);
    assert.match(run.stdout, /result {10}FAIL/);
    // The load ran on: the two others served writes, and what they acknowledged is consistent.
    assert.ok(report.operations.ok > 0);
    assert.notEqual(report.consistency.verdict, 'not linearizable');
  },
);
