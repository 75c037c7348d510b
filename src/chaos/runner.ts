// One chaos run: load on, faults on schedule, load off, the cluster healed, final reads,
// then the verdict and the report. The cluster is a LocalCluster or a RemoteCluster.
import { randomBytes } from 'node:crypto';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { checkChaosHistory } from './checker.ts';
import type { ChaosCluster } from './chaos-cluster.ts';
import { faultSpanMs, runFault, type FaultRecord } from './faults.ts';
import { ChaosHistory } from './history.ts';
import { ChaosLoad, sleep } from './load.ts';
import { LeaderMonitor, NODE_STALLS_KEPT_MAX, type NodeStall } from './monitor.ts';
import { LoopStalls, threadClocks } from '../node/loop-stalls.ts';
import type { NodeClient } from './node-client.ts';
import { buildReport, type ChaosReport } from './report.ts';
import { makeSchedule, type ScenarioName } from './scenarios.ts';

/** How often the progress line is printed, in ms. */
const PROGRESS_INTERVAL_MS = 1000;
/** Sampling of the load's event-loop delay (perf_hooks), in ms. */
const LOOP_DELAY_RESOLUTION_MS = 10;
/** How long the final reads may take after the load stops, in ms. */
const FINAL_READS_MS = 15_000;

export interface RunOptions {
  readonly scenario: ScenarioName;
  readonly durationMs: number;
  readonly intervalMs: number;
  readonly faultDurationMs: number;
  readonly seed: number;
  readonly clients: number;
  readonly keys: number;
  /** One operation's time, its retries included (--request-timeout). */
  readonly requestTimeoutMs: number;
  /** Retries of one operation (LoadOptions.retries) within requestTimeoutMs. */
  readonly retries: number;
  readonly electionTimeoutMs: number;
  /** Search steps the linearizability check may take per key before its verdict is unknown. */
  readonly checkBudgetSteps: number;
  readonly expectAvailabilityPercent?: number;
  readonly expectMaxInterruptionMs?: number;
}

export interface RunResult {
  readonly report: ChaosReport;
  readonly history: ChaosHistory;
}

export async function runChaos(cluster: ChaosCluster, client: NodeClient, options: RunOptions, progress: (line: string) => void): Promise<RunResult> {
  const history = new ChaosHistory();
  // Unique per run (not from the seed: the same seed twice against one cluster is two runs).
  const runId = `r${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
  const monitor = new LeaderMonitor(cluster, client, () => history.nowMs());
  const load = new ChaosLoad(history, client, cluster, {
    clients: options.clients,
    keys: options.keys,
    seed: options.seed,
    runId,
    retries: options.retries,
    opTimeoutMs: options.requestTimeoutMs,
  });
  const schedule = makeSchedule({
    scenario: options.scenario,
    durationMs: options.durationMs,
    intervalMs: options.intervalMs,
    holdMs: options.faultDurationMs,
    seed: options.seed,
  });
  const faults: FaultRecord[] = [];
  let skipped = 0;
  let current: FaultRecord | null = null;
  let faultFailed = false;
  monitor.start();
  // The load's own event loop: a gap it causes (a stall of the generator) is not the
  // cluster's, and the report says how long the longest one was.
  const loopDelay = monitorEventLoopDelay({ resolution: LOOP_DELAY_RESOLUTION_MS });
  loopDelay.enable();
  // And when: each hold of LOOP_STALL_WARN_MS or more, so the report can tell whether the
  // longest interruption was the generator's own (answers that arrived meanwhile are stamped late).
  const generatorStalls: NodeStall[] = [];
  let generatorStallsNotKept = 0;
  const generatorProbe = new LoopStalls(threadClocks(), (stall) => {
    if (generatorStalls.length >= NODE_STALLS_KEPT_MAX) {
      generatorStallsNotKept += 1;
      return;
    }
    const endMs = history.nowMs() - (Date.now() - stall.endedAt);
    generatorStalls.push({ node: 0, kind: 'generator', endMs, durationMs: stall.wallMs, busyMs: stall.busyMs, coreWaitMs: stall.coreWaitMs });
  });
  generatorProbe.start();
  const loadStartMs = history.nowMs();
  load.start();
  let lastOps = 0;
  const ticker = setInterval(() => {
    const elapsed = history.nowMs() - loadStartMs;
    const done = history.okOps;
    const rate = Math.round(((done - lastOps) * 1000) / PROGRESS_INTERVAL_MS);
    lastOps = done;
    const fault = current !== null && Number.isNaN(current.endMs) ? `${current.kind}: ${current.description}` : 'none';
    progress(
      `${(elapsed / 1000).toFixed(1)}s/${(options.durationMs / 1000).toFixed(0)}s  ${rate} ops/s  fault: ${fault}  leader: ${monitor.leader === null ? 'unknown' : `node ${monitor.leader}`}`,
    );
  }, PROGRESS_INTERVAL_MS);
  try {
    for (const step of schedule) {
      const wait = loadStartMs + step.atMs - history.nowMs();
      if (wait > 0) await sleep(wait);
      // An earlier fault took longer than the interval (a slow restart): a fault that could no
      // longer be healed within the run is left out (and counted), so the run keeps its length.
      if (history.nowMs() + faultSpanMs(step, cluster.ids.length, options.electionTimeoutMs) > loadStartMs + options.durationMs) {
        skipped += 1;
        continue;
      }
      if (faultFailed) {
        skipped += 1;
        continue;
      }
      const before = faults.length;
      try {
        await runFault(
          step,
          cluster,
          monitor,
          () => history.nowMs(),
          options.electionTimeoutMs,
          (record) => {
            current = record;
            faults.push(record);
          },
        );
      } catch (error) {
        // A fault that could not be done or undone (with --cluster, a crashed node whose
        // supervisor did not restart it): the load runs on to the end, the report says what
        // happened, and no further fault is injected into a cluster already short of a node.
        const message = error instanceof Error ? error.message : String(error);
        const record: FaultRecord =
          faults.length > before
            ? faults[faults.length - 1]!
            : { kind: step.kind, description: 'could not be started', startMs: history.nowMs(), inPlaceMs: Number.NaN, endMs: Number.NaN };
        if (faults.length === before) faults.push(record);
        record.error = message;
        faultFailed = true;
        progress(`fault failed: ${message}; no further faults are injected`);
      }
    }
    const rest = loadStartMs + options.durationMs - history.nowMs();
    if (rest > 0) await sleep(rest);
  } finally {
    clearInterval(ticker);
    loopDelay.disable();
    generatorProbe.stop();
    await load.stop();
  }
  const loadEndMs = history.nowMs();
  // The verdict needs a final state: heal everything, then read every key once.
  await cluster.heal().catch(() => {});
  const unreadKeys = await load.finalReads(options.clients, history.nowMs() + FINAL_READS_MS);
  monitor.stop();
  history.closePending();
  const consistency = checkChaosHistory(history, options.checkBudgetSteps, unreadKeys);
  const report = buildReport({
    scenario: options.scenario,
    seed: options.seed,
    runId,
    nodes: cluster.ids.length,
    clients: options.clients,
    loadStartMs,
    loadEndMs,
    history,
    retriedAttempts: load.retried,
    generatorLoopDelayMs: { p99: loopDelay.percentile(99) / 1e6, max: loopDelay.max / 1e6 },
    schedule,
    faults,
    leaders: monitor.sightings,
    nodeStalls: [...monitor.stalls, ...generatorStalls],
    nodeStallsNotKept: monitor.stallsNotKept + generatorStallsNotKept,
    consistency,
    skippedFaults: skipped,
    ...(options.expectAvailabilityPercent !== undefined ? { expectAvailabilityPercent: options.expectAvailabilityPercent } : {}),
    ...(options.expectMaxInterruptionMs !== undefined ? { expectMaxInterruptionMs: options.expectMaxInterruptionMs } : {}),
  });
  return { report, history };
}
