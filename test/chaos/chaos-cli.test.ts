// `collection-store chaos` end to end: a real local cluster of three processes, real faults
// (SIGKILL of the leader; a partition through the fault-injection endpoint), and the report
// checked against what happened. The last test plants a bug in every node (reads answered
// locally while the client asked for linearizable ones) and the command must say so.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { ChaosReport } from '../../src/chaos/report.ts';
import type { HistoryEvent } from '../../src/chaos/history.ts';
import { cleanupsAfterAll, freeConsecutivePorts, tempDir } from '../cli/cli-process.ts';
import { acquireClusterLock } from '../cluster/harness.ts';

const MAIN = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
/** One run: cluster start (tsx compiles on the fly), the load, restarts, the final reads. */
const RUN_TIMEOUT_MS = 90_000;

const cleanups = cleanupsAfterAll();
let release: () => void = () => {};
before(async () => {
  release = await acquireClusterLock();
});
after(() => release());

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly report: ChaosReport;
  readonly events: HistoryEvent[];
  readonly html: string;
}

async function chaos(args: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<Run> {
  const out = await tempDir();
  cleanups.push(out.remove);
  const base = await freeConsecutivePorts(3);
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN, 'chaos', '--base-port', String(base), '--out', out.path, ...args], {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
  child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  const timer = setTimeout(() => child.kill('SIGKILL'), RUN_TIMEOUT_MS);
  const code = await new Promise<number | null>((resolve) => child.once('close', (c) => resolve(c)));
  clearTimeout(timer);
  const read = (name: string): Promise<string> =>
    readFile(join(out.path, name), 'utf8').catch((error: unknown) => {
      throw new Error(`${name} missing (exit ${code})\nstdout:\n${stdout}\nstderr:\n${stderr}`, { cause: error });
    });
  const report = JSON.parse(await read('report.json')) as ChaosReport;
  const events = (await read('history.jsonl'))
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as HistoryEvent);
  return { code, stdout, stderr, report, events, html: await read('report.html') };
}

/** The history keeps Jepsen's rules: each process has one op at a time, an invoke then one completion of the same f and key. */
function checkJepsenShape(events: readonly HistoryEvent[]): void {
  const open = new Map<number, HistoryEvent>();
  let lastTime = -1;
  for (const e of events) {
    assert.ok(['invoke', 'ok', 'fail', 'info'].includes(e.type), `type ${e.type}`);
    assert.ok(['write', 'read', 'cas'].includes(e.f), `f ${e.f}`);
    assert.equal(typeof e.process, 'number');
    assert.match(e.key, /^k\d+$/);
    assert.ok(e.time >= lastTime, 'times never go back');
    lastTime = e.time;
    if (e.f === 'cas') assert.ok(Array.isArray(e.value) && e.value.length === 2, 'a cas value is [expected, new]');
    const pending = open.get(e.process);
    if (e.type === 'invoke') {
      assert.equal(pending, undefined, `process ${e.process} invoked while an op was open`);
      open.set(e.process, e);
    } else {
      assert.ok(pending !== undefined, `process ${e.process} completed an op it never invoked`);
      assert.equal(e.f, pending.f);
      assert.equal(e.key, pending.key);
      open.delete(e.process);
    }
  }
  assert.equal(open.size, 0, 'every op completed (pending ones as info)');
}

test('leader_crash: the leader is killed, another is elected, the history is linearizable', { timeout: RUN_TIMEOUT_MS + 10_000 }, async () => {
  const run = await chaos([
    '--scenario',
    'leader-crash',
    '--duration',
    '5s',
    '--interval',
    '3s',
    '--seed',
    '11',
    '--load-test-concurrent',
    '6',
    '--expect-availability',
    '1',
  ]);
  assert.equal(run.code, 0, `exit 0 expected\n${run.stdout}\n${run.stderr}`);
  const { report } = run;
  assert.equal(report.scenario, 'leader_crash');
  assert.equal(report.faults.length, 1);
  const fault = report.faults[0]!;
  const victim = Number(/^node (\d) \(leader\) killed$/.exec(fault.description)?.[1]);
  const before = report.leaders.filter((l) => l.timeMs <= fault.startMs).at(-1);
  assert.equal(before?.leader, victim, 'the node killed was the leader at the time');
  const after = report.leaders.find((l) => l.timeMs > fault.startMs);
  assert.ok(after !== undefined && after.leader !== victim && after.term > before!.term, 'a new leader was elected in a later term');
  assert.ok(report.leaderChanges >= 1);
  assert.ok(fault.recoveryMs !== null && fault.recoveryMs > 0, 'writes resumed after the crash');
  assert.ok(report.operations.ok > 50, `operations succeeded (${report.operations.ok})`);
  assert.equal(report.operations.attempted, report.operations.ok + report.operations.failed + report.operations.indeterminate);
  assert.equal(report.consistency.verdict, 'linearizable');
  assert.equal(report.consistency.lostAcknowledgedWrites, 0);
  assert.equal(report.consistency.duplicateApplies, 0);
  assert.ok(report.consistency.opsChecked > 50);
  assert.deepEqual(
    report.expectations.map((e) => [e.name, e.met]),
    [['availability', true]],
  );
  checkJepsenShape(run.events);
  assert.match(run.stdout, /\[chaos\] \d+\.\ds\/5s {2}\d+ ops\/s {2}fault: .* {2}leader: /, 'a progress line');
  assert.match(run.stdout, /consistency {5}linearizable/);
  assert.match(run.html, /<svg[^>]*aria-label="Throughput/);
  assert.match(run.html, /<rect[^>]*><title>leader_crash: node \d \(leader\) killed<\/title>/, 'the fault is marked on the chart');
  assert.doesNotMatch(run.html, /<script|https?:\/\/(?!www\.w3\.org)/, 'self-contained: no script, no CDN');
});

test('partition: a minority is cut off and healed; a missed --expect-max-interruption exits 1', { timeout: RUN_TIMEOUT_MS + 10_000 }, async () => {
  const run = await chaos([
    '--scenario',
    'partition',
    '--duration',
    '5s',
    '--interval',
    '3s',
    '--fault-duration',
    '1500ms',
    '--seed',
    '5',
    '--load-test-concurrent',
    '6',
    '--expect-max-interruption',
    '1ms',
  ]);
  const { report } = run;
  assert.equal(report.faults.length, 1);
  const fault = report.faults[0]!;
  assert.match(fault.description, /^partition \d \| \d,\d$/);
  assert.ok(fault.endMs - fault.startMs >= 1500, 'the partition held for --fault-duration');
  assert.equal(report.consistency.verdict, 'linearizable');
  assert.ok(report.operations.ok > 20, `operations succeeded (${report.operations.ok})`);
  assert.ok(report.maxInterruptionMs > 1);
  assert.deepEqual(
    report.expectations.map((e) => [e.name, e.met]),
    [['max interruption', false]],
  );
  assert.equal(run.code, 1, 'a missed expectation exits 1');
  assert.match(run.stdout, /expect max interruption: <= 1 ms, got [\d.]+ ms: MISSED/);
  checkJepsenShape(run.events);
});

test(
  'a planted bug (stale reads claimed linearizable) is reported as a consistency failure, exit 1',
  { timeout: RUN_TIMEOUT_MS + 10_000 },
  async () => {
    const run = await chaos(
      [
        '--scenario',
        'partition',
        '--duration',
        '6s',
        '--interval',
        '2500ms',
        '--fault-duration',
        '1500ms',
        '--seed',
        '3',
        '--load-test-concurrent',
        '8',
      ],
      { ...process.env, COLLECTION_STORE_PLANTED_BUG: 'stale-reads' },
    );
    assert.equal(run.report.consistency.verdict, 'not linearizable', run.stdout);
    assert.match(run.report.consistency.failure ?? '', /^key k\d: no linearization of \d+ ops/);
    assert.equal(run.report.expectations.length, 0, 'no expectation given: the failure is the verdict alone');
    assert.equal(run.code, 1);
    assert.match(run.stdout, /result {10}FAIL/);
    checkJepsenShape(run.events);
  },
);
