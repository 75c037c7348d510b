// Test helpers for the chaos files: run `collection-store chaos` (from the sources, through
// tsx) as a child process with --out, read back its report, history and HTML, and check
// the things every run must get right (the history's Jepsen shape, what the report says
// about who led when).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { HistoryEvent } from '../../src/chaos/history.ts';
import type { LeaderSighting } from '../../src/chaos/monitor.ts';
import type { ChaosReport, FaultReport } from '../../src/chaos/report.ts';
import { cleanupsAfterAll, freeConsecutivePorts, tempDir } from '../cli/cli-process.ts';
import { acquireClusterLock } from '../cluster/harness.ts';
import { CLI_COMMAND } from '../product-process.ts';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
/** One run: cluster start (tsx compiles on the fly), the load, restarts, the final reads. */
export const RUN_TIMEOUT_MS = 90_000;

export interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly report: ChaosReport;
  readonly events: HistoryEvent[];
  readonly html: string;
}

/**
 * For a test file of real clusters: takes the cross-file cluster lock for the whole file
 * (as test/cluster files do) and returns the runner, whose output directories are removed
 * after the file.
 */
export function chaosRunner(): (args: readonly string[], env?: NodeJS.ProcessEnv) => Promise<Run> {
  const cleanups = cleanupsAfterAll();
  let release: () => void = () => {};
  before(async () => {
    release = await acquireClusterLock();
  });
  after(() => release());
  return async (args, env = process.env) => {
    const out = await tempDir();
    cleanups.push(out.remove);
    // Local runs get consecutive free ports; a --cluster run names its nodes instead.
    const ports = args.includes('--cluster') ? [] : ['--base-port', String(await freeConsecutivePorts(5))];
    const run = await runChaos([...ports, '--out', out.path, ...args], out.path, env);
    // A run that did not pass keeps its local cluster's data for a post-mortem: the test's output has it.
    const kept = /\[chaos\] node data and logs kept in (\S+)/.exec(run.stdout)?.[1];
    if (kept !== undefined) cleanups.push(() => rm(kept, { recursive: true, force: true }));
    return run;
  };
}

async function runChaos(args: readonly string[], outDir: string, env: NodeJS.ProcessEnv): Promise<Run> {
  const child = spawn(process.execPath, [...CLI_COMMAND, 'chaos', ...args], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
  child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  const timer = setTimeout(() => child.kill('SIGKILL'), RUN_TIMEOUT_MS);
  const code = await new Promise<number | null>((resolve) => child.once('close', (c) => resolve(c)));
  clearTimeout(timer);
  const read = (name: string): Promise<string> =>
    readFile(join(outDir, name), 'utf8').catch((error: unknown) => {
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
export function checkJepsenShape(events: readonly HistoryEvent[]): void {
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

/** The leader the report saw last at or before `timeMs` (ms since the load started). */
export function leaderAt(report: ChaosReport, timeMs: number): LeaderSighting | undefined {
  return report.leaders.filter((l) => l.timeMs <= timeMs).at(-1);
}

/** A leader the report saw after `timeMs`, other than `old`, in a later term. */
export function newLeaderAfter(report: ChaosReport, timeMs: number, old: LeaderSighting | undefined): LeaderSighting | undefined {
  if (old === undefined) return undefined;
  return report.leaders.find((l) => l.timeMs > timeMs && l.leader !== old.leader && l.term > old.term);
}

/** Successful writes (and cas) the history shows completing in [fromMs, toMs] of the load's clock. */
export function okWritesBetween(run: Run, fromMs: number, toMs: number): number {
  // The history's clock started before the load: report times count from the load's start,
  // which is the first invoke's time at the latest.
  const loadStartNs = run.events[0]?.time ?? 0;
  return run.events.filter((e) => {
    if (e.type !== 'ok' || e.f === 'read') return false;
    const ms = (e.time - loadStartNs) / 1e6;
    return ms >= fromMs && ms <= toMs;
  }).length;
}

/** Every run that was checked: linearizable with real checking, nothing lost or applied twice. */
export function assertConsistent(run: Run): void {
  const c = run.report.consistency;
  assert.equal(c.verdict, 'linearizable', `${c.failure ?? ''}\n${run.stdout}`);
  assert.equal(c.lostAcknowledgedWrites, 0);
  assert.equal(c.duplicateApplies, 0);
  assert.ok(c.opsChecked > 20 && c.keys >= 1, `real checking: ${c.opsChecked} ops on ${c.keys} keys`);
  assert.equal(run.report.result, 'pass');
  assert.equal(run.code, 0, `exit 0 expected\n${run.stdout}\n${run.stderr}`);
  checkJepsenShape(run.events);
}

export type { FaultReport };
