// The chaos report: availability, interruptions, recovery per fault, leader changes, op
// counts and the consistency verdict, computed from the history; printed as text and
// written as report.json.
import type { ErrorCode } from '../store/error-codes.ts';
import type { ConsistencyVerdict } from './checker.ts';
import type { FaultRecord } from './faults.ts';
import type { ChaosHistory } from './history.ts';
import { NODE_STALL_MS_MIN, type LeaderSighting, type NodeStall } from './monitor.ts';
import type { FaultStep } from './scenarios.ts';

/** The error of a cas refused because the value changed since it was read (the error table's 412). */
const CAS_CONFLICT_CODE: ErrorCode = 'PRECONDITION_FAILED';
/** Availability windows, in ms: the share of them with at least one successful write. */
export const WINDOW_MS = 100;
/** Buckets of the throughput and latency series (report.html), in ms. */
export const SERIES_BUCKET_MS = 250;

export interface FaultReport extends FaultRecord {
  /** From the fault's start to the completion of the first successful write invoked once the
   * fault was in place, in ms (null: none). */
  readonly recoveryMs: number | null;
  /** The longest gap between successful writes while the fault held and until the next fault, in ms. */
  readonly interruptionMs: number;
}

export interface SeriesPoint {
  readonly tMs: number;
  readonly okPerSec: number;
  readonly failPerSec: number;
  readonly p50LatencyMs: number | null;
  readonly p99LatencyMs: number | null;
}

export interface ChaosReport {
  readonly scenario: string;
  readonly seed: number;
  /** The run's document-id prefix: register k0 is document `chaos/<runId>-k0`. */
  readonly runId: string;
  readonly nodes: number;
  readonly clients: number;
  readonly durationMs: number;
  readonly operations: {
    readonly attempted: number;
    readonly ok: number;
    readonly failed: number;
    /** Of the failed: compare-and-sets refused because the value had changed since it was read
     * (412 PRECONDITION_FAILED), the answer the load's conflicts are meant to provoke. */
    readonly casConflicts: number;
    readonly indeterminate: number;
    /** Attempts beyond an operation's first (--retries): an operation counts once, whatever
     * its attempts, from its first to its last answer. */
    readonly retriedAttempts: number;
  };
  /** Operations the service answered (ok, or a cas refused for a changed value) over attempted, in percent. */
  readonly availabilityPercent: number;
  /** Share of 100 ms windows with at least one successful write, in percent. */
  readonly writeWindowsPercent: number;
  /** Longest time without a successful write, in ms. */
  readonly maxInterruptionMs: number;
  /** Where it was: from the last successful write before it (or the load's start) to the next
   * one (or the load's end), in ms since the load started. */
  readonly maxInterruption: { readonly fromMs: number; readonly toMs: number };
  /** What the nodes reported of their own slowness (GET /cluster/status, polled every 100 ms):
   * event-loop stalls and log writes of NODE_STALL_MS_MIN or longer; and the load generator's
   * own event-loop holds as long (kind `generator`, node 0). Times in ms since the load
   * started. A loop stall's busyMs is the node's own work (GC included), coreWaitMs its wait
   * for a core: the machine. */
  readonly nodeStalls: NodeStallsReport;
  readonly latencyMs: { readonly p50: number | null; readonly p99: number | null; readonly max: number | null };
  /** Times the leader became another node (a new term with the same leader is in `leaders`, not counted). */
  readonly leaderChanges: number;
  readonly leaders: readonly LeaderSighting[];
  /** The faults the seed planned (kind and start, ms since the load started): the same seed
   * and flags give the same schedule. */
  readonly schedule: readonly { readonly kind: FaultStep['kind']; readonly atMs: number }[];
  readonly faults: readonly FaultReport[];
  readonly skippedFaults: number;
  readonly consistency: ConsistencyVerdict;
  /** pass; fail (not linearizable, or an expectation missed); or no verdict (consistent as far
   * as it could be checked, every expectation met, but the check could not finish). */
  readonly result: ChaosResult;
  readonly series: readonly SeriesPoint[];
  /** The load generator's own event-loop delay (p99 and max, in ms): a gap between writes as
   * long as its max may be the generator's stall, not the cluster's. */
  readonly generatorLoopDelayMs: { readonly p99: number; readonly max: number };
  /** Expectations given on the command line and whether each held. */
  readonly expectations: readonly { readonly name: string; readonly expected: string; readonly actual: string; readonly met: boolean }[];
}

function percentile(sorted: readonly number[], p: number): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

function round(n: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

export type ChaosResult = 'pass' | 'fail' | 'no verdict';

export interface NodeStallsReport {
  readonly loop: { readonly count: number; readonly maxMs: number | null };
  readonly logWrite: { readonly count: number; readonly maxMs: number | null };
  /** The load generator's own event-loop holds of 100 ms or more, while the load ran. */
  readonly generator: { readonly count: number; readonly maxMs: number | null };
  /** Reported beyond NODE_STALLS_KEPT_MAX (the monitor's and the generator's each): counted,
   * not listed, wherever they fell. */
  readonly notKept: number;
  /** The stalls that overlap the longest interruption. */
  readonly duringMaxInterruption: readonly NodeStall[];
  /** Every stall gathered, in the order they ended. */
  readonly list: readonly NodeStall[];
}

/** What the nodes' stalls say, with times moved to the load's clock. Only stalls that
 * overlap the load count: a node's first answer lists its recent ones, its start's included
 * (and a running cluster's may be hours old), and the monitor runs on through the final reads. */
function nodeStallsReport(
  stalls: readonly NodeStall[],
  notKept: number,
  load: { startMs: number; endMs: number },
  interruption: { fromMs: number; toMs: number },
): NodeStallsReport {
  const loadMs = load.endMs - load.startMs;
  const list = stalls
    .map((s) => ({ ...s, endMs: round(s.endMs - load.startMs) }))
    .filter((s) => s.endMs >= 0 && s.endMs - s.durationMs <= loadMs)
    .sort((a, b) => a.endMs - b.endMs);
  const of = (kind: NodeStall['kind']): { count: number; maxMs: number | null } => {
    const mine = list.filter((s) => s.kind === kind);
    return { count: mine.length, maxMs: mine.length === 0 ? null : Math.max(...mine.map((s) => s.durationMs)) };
  };
  return {
    loop: of('loop'),
    logWrite: of('log write'),
    generator: of('generator'),
    notKept,
    duringMaxInterruption: list.filter((s) => s.endMs >= interruption.fromMs && s.endMs - s.durationMs <= interruption.toMs),
    list,
  };
}

export interface ReportInput {
  readonly scenario: string;
  readonly seed: number;
  readonly runId: string;
  readonly nodes: number;
  readonly clients: number;
  /** The load's span on the history clock, in ms. */
  readonly loadStartMs: number;
  readonly loadEndMs: number;
  readonly history: ChaosHistory;
  readonly schedule: readonly FaultStep[];
  readonly faults: readonly FaultRecord[];
  /** Scheduled faults left out because an earlier one ran past their time. */
  readonly skippedFaults: number;
  readonly leaders: readonly LeaderSighting[];
  /** What the nodes reported of their own stalls (LeaderMonitor.stalls, stallsNotKept), and
   * the load generator's (kind `generator`). */
  readonly nodeStalls: readonly NodeStall[];
  readonly nodeStallsNotKept: number;
  readonly consistency: ConsistencyVerdict;
  /** The load's retried attempts (ChaosLoad.retried). */
  readonly retriedAttempts: number;
  /** The load generator's event-loop delay over the load, in ms. */
  readonly generatorLoopDelayMs: { readonly p99: number; readonly max: number };
  readonly expectAvailabilityPercent?: number;
  readonly expectMaxInterruptionMs?: number;
}

export function buildReport(input: ReportInput): ChaosReport {
  const { loadStartMs, loadEndMs } = input;
  // Only the load's ops count toward availability (not the final reads after it).
  const ops = input.history.ops.filter((op) => op.invoke.time / 1e6 <= loadEndMs);
  const count = (type: string): number => ops.filter((op) => op.complete?.type === type).length;
  const ok = count('ok');
  const okWrites = ops
    .filter((op) => op.complete?.type === 'ok' && op.invoke.f !== 'read')
    .map((op) => ({ invokeMs: op.invoke.time / 1e6, doneMs: op.complete!.time / 1e6 }))
    .sort((a, b) => a.doneMs - b.doneMs);
  const windows = Math.max(1, Math.ceil((loadEndMs - loadStartMs) / WINDOW_MS));
  const filled = new Set(okWrites.map((w) => Math.floor((w.doneMs - loadStartMs) / WINDOW_MS)).filter((i) => i >= 0 && i < windows));
  /** The longest stretch of [from, to] without a successful write, and where it lies. */
  const longestGap = (from: number, to: number): { ms: number; fromMs: number; toMs: number } => {
    let last = from;
    let gap = { ms: 0, fromMs: from, toMs: from };
    for (const w of okWrites) {
      if (w.doneMs < from) continue;
      if (w.doneMs > to) break;
      if (w.doneMs - last > gap.ms) gap = { ms: w.doneMs - last, fromMs: last, toMs: w.doneMs };
      last = w.doneMs;
    }
    return to - last > gap.ms ? { ms: to - last, fromMs: last, toMs: to } : gap;
  };
  const gapMax = (from: number, to: number): number => longestGap(from, to).ms;
  const faults: FaultReport[] = input.faults.map((fault, i) => {
    const inPlace = Number.isNaN(fault.inPlaceMs) ? fault.startMs : fault.inPlaceMs;
    const first = okWrites.find((w) => w.invokeMs >= inPlace);
    const until = input.faults[i + 1]?.startMs ?? loadEndMs;
    return {
      ...fault,
      // Times in the report count from the start of the load.
      startMs: round(fault.startMs - loadStartMs),
      inPlaceMs: round(inPlace - loadStartMs),
      endMs: round(fault.endMs - loadStartMs),
      recoveryMs: first === undefined ? null : round(first.doneMs - fault.startMs),
      interruptionMs: round(gapMax(fault.startMs, until)),
    };
  });
  const latencies = ops
    .filter((op) => op.complete?.type === 'ok')
    .map((op) => (op.complete!.time - op.invoke.time) / 1e6)
    .sort((a, b) => a - b);
  // A cas refused because another client changed the value first is the service working, not
  // unavailable: counting it as a failure would cap availability at the load's conflict rate.
  const casConflicts = ops.filter((op) => op.invoke.f === 'cas' && op.complete?.type === 'fail' && op.complete.error === CAS_CONFLICT_CODE).length;
  const availabilityPercent = ops.length === 0 ? 0 : round((100 * (ok + casConflicts)) / ops.length, 3);
  const longest = longestGap(loadStartMs, loadEndMs);
  const maxInterruptionMs = round(longest.ms);
  const maxInterruption = { fromMs: round(longest.fromMs - loadStartMs), toMs: round(longest.toMs - loadStartMs) };
  const expectations = [];
  if (input.expectAvailabilityPercent !== undefined) {
    expectations.push({
      name: 'availability',
      expected: `>= ${input.expectAvailabilityPercent} %`,
      actual: `${availabilityPercent} %`,
      met: availabilityPercent >= input.expectAvailabilityPercent,
    });
  }
  if (input.expectMaxInterruptionMs !== undefined) {
    expectations.push({
      name: 'max interruption',
      expected: `<= ${input.expectMaxInterruptionMs} ms`,
      actual: `${maxInterruptionMs} ms`,
      met: maxInterruptionMs <= input.expectMaxInterruptionMs,
    });
  }
  // A fault that could not be carried out or healed fails the run whatever the verdict: the
  // cluster did not come back to what it was (runner.ts).
  const failed =
    input.consistency.verdict === 'not linearizable' || expectations.some((e) => !e.met) || input.faults.some((f) => f.error !== undefined);
  return {
    scenario: input.scenario,
    seed: input.seed,
    runId: input.runId,
    nodes: input.nodes,
    clients: input.clients,
    durationMs: round(loadEndMs - loadStartMs, 0),
    operations: {
      attempted: ops.length,
      ok,
      failed: count('fail'),
      casConflicts,
      indeterminate: count('info'),
      retriedAttempts: input.retriedAttempts,
    },
    availabilityPercent,
    writeWindowsPercent: round((100 * filled.size) / windows, 2),
    maxInterruptionMs,
    maxInterruption,
    nodeStalls: nodeStallsReport(input.nodeStalls, input.nodeStallsNotKept, { startMs: loadStartMs, endMs: loadEndMs }, maxInterruption),
    latencyMs: {
      p50: nullableRound(percentile(latencies, 50)),
      p99: nullableRound(percentile(latencies, 99)),
      max: nullableRound(latencies.at(-1) ?? null),
    },
    leaderChanges: input.leaders.filter((l, i) => i > 0 && l.leader !== input.leaders[i - 1]!.leader).length,
    leaders: input.leaders.map((l) => ({ ...l, timeMs: round(l.timeMs - loadStartMs) })),
    schedule: input.schedule.map((step) => ({ kind: step.kind, atMs: step.atMs })),
    faults,
    skippedFaults: input.skippedFaults,
    consistency: input.consistency,
    result: failed ? 'fail' : input.consistency.verdict === 'unknown' ? 'no verdict' : 'pass',
    series: series(ops, loadStartMs, loadEndMs),
    generatorLoopDelayMs: { p99: round(input.generatorLoopDelayMs.p99), max: round(input.generatorLoopDelayMs.max) },
    expectations,
  };
}

function stallLine(stalls: NodeStallsReport): string {
  const part = (name: string, k: { count: number; maxMs: number | null }): string =>
    `${k.count} ${name}${k.maxMs !== null ? ` (longest ${k.maxMs} ms)` : ''}`;
  return `${part('event-loop stalls', stalls.loop)}, ${part('slow log writes', stalls.logWrite)} of ${NODE_STALL_MS_MIN} ms or more${stalls.notKept > 0 ? `; ${stalls.notKept} more not kept` : ''}; the load generator's own: ${part('stalls', stalls.generator)}`;
}

function describeStall(s: NodeStall): string {
  const at = `${((s.endMs - s.durationMs) / 1000).toFixed(2)} s to ${(s.endMs / 1000).toFixed(2)} s`;
  if (s.kind === 'log write') return `node ${s.node} log write of ${s.durationMs} ms (${at})`;
  if (s.kind === 'generator') return `the load generator's own event loop held ${s.durationMs} ms (${at}; its answers were stamped late)`;
  const parts = [
    s.busyMs !== undefined ? `its own work ${s.busyMs} ms` : null,
    s.coreWaitMs !== undefined ? `waiting for a core ${s.coreWaitMs} ms` : null,
  ].filter((p) => p !== null);
  return `node ${s.node} event loop held ${s.durationMs} ms (${at}${parts.length > 0 ? `; ${parts.join(', ')}` : ''})`;
}

function nullableRound(n: number | null): number | null {
  return n === null ? null : round(n);
}

function series(ops: ChaosHistory['ops'], startMs: number, endMs: number): SeriesPoint[] {
  const buckets = Math.max(1, Math.ceil((endMs - startMs) / SERIES_BUCKET_MS));
  const okCount = new Array<number>(buckets).fill(0);
  const failCount = new Array<number>(buckets).fill(0);
  const latencies: number[][] = Array.from({ length: buckets }, () => []);
  for (const op of ops) {
    const end = op.complete;
    if (end === null) continue;
    const b = Math.floor((end.time / 1e6 - startMs) / SERIES_BUCKET_MS);
    if (b < 0 || b >= buckets) continue;
    if (end.type === 'ok') {
      okCount[b]! += 1;
      latencies[b]!.push((end.time - op.invoke.time) / 1e6);
    } else failCount[b]! += 1;
  }
  const perSec = 1000 / SERIES_BUCKET_MS;
  return okCount.map((n, b) => {
    const sorted = latencies[b]!.sort((x, y) => x - y);
    return {
      tMs: b * SERIES_BUCKET_MS,
      okPerSec: n * perSec,
      failPerSec: failCount[b]! * perSec,
      p50LatencyMs: nullableRound(percentile(sorted, 50)),
      p99LatencyMs: nullableRound(percentile(sorted, 99)),
    };
  });
}

/** True when the run passed: checked and consistent, and every expectation met. */
export function passed(report: ChaosReport): boolean {
  return report.result === 'pass';
}

export function reportText(report: ChaosReport): string {
  const c = report.consistency;
  const lines = [
    `chaos report: ${report.scenario}, seed ${report.seed}, ${report.nodes} nodes, ${report.clients} clients, ${(report.durationMs / 1000).toFixed(1)} s of load`,
    `  operations      ${report.operations.attempted} attempted: ${report.operations.ok} ok, ${report.operations.failed} failed (${report.operations.casConflicts} of them cas conflicts), ${report.operations.indeterminate} indeterminate; ${report.operations.retriedAttempts} retried attempts`,
    `  availability    ${report.availabilityPercent} % of operations answered (ok or cas conflict); ${report.writeWindowsPercent} % of ${WINDOW_MS} ms windows with a successful write`,
    `  interruption    longest ${report.maxInterruptionMs} ms without a successful write (${(report.maxInterruption.fromMs / 1000).toFixed(2)} s to ${(report.maxInterruption.toMs / 1000).toFixed(2)} s)`,
    `  node stalls     ${stallLine(report.nodeStalls)}`,
    ...report.nodeStalls.duringMaxInterruption.map((s) => `    during it: ${describeStall(s)}`),
    `  latency         p50 ${report.latencyMs.p50 ?? '-'} ms, p99 ${report.latencyMs.p99 ?? '-'} ms, max ${report.latencyMs.max ?? '-'} ms`,
    `  load generator  event-loop delay p99 ${report.generatorLoopDelayMs.p99} ms, max ${report.generatorLoopDelayMs.max} ms (the generator's own stalls)`,
    `  leader changes  ${report.leaderChanges}${report.leaders.length > 0 ? ` (${report.leaders.map((l) => `t${l.term}:n${l.leader}`).join(' → ')})` : ''}`,
    `  faults          ${report.faults.length}${report.skippedFaults > 0 ? ` (${report.skippedFaults} scheduled ones left out: ${report.faults.some((f) => f.error !== undefined) ? 'a fault was not healed' : 'an earlier fault ran past their time'})` : ''}`,
    ...report.faults.map(
      (f) =>
        `    ${(f.startMs / 1000).toFixed(2)} s  ${f.kind.padEnd(16)} ${f.description}; ${f.error !== undefined ? `NOT HEALED: ${f.error}` : `healed after ${Math.round(f.endMs - f.startMs)} ms`}; recovery ${f.recoveryMs ?? 'never'} ms; longest interruption ${f.interruptionMs} ms`,
    ),
    `  consistency     ${c.verdict} (${c.opsChecked} ops on ${c.keys} keys checked); lost acknowledged writes ${c.lostAcknowledgedWrites}; duplicate applies ${c.duplicateApplies}`,
    ...(c.failure !== null ? [`  ${c.verdict === 'unknown' ? 'no verdict' : 'FAILURE'}: ${c.failure.split('\n').slice(0, 12).join('\n    ')}`] : []),
    ...report.expectations.map((e) => `  expect ${e.name}: ${e.expected}, got ${e.actual}: ${e.met ? 'met' : 'MISSED'}`),
    `  result          ${report.result === 'pass' ? 'PASS' : report.result === 'fail' ? 'FAIL' : 'NO VERDICT (the history could not be checked)'}`,
  ];
  return lines.join('\n') + '\n';
}
