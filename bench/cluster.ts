// `npm run bench -- cluster [--quick] [--profile] [--trace] [--no-etcd]`: a 3-node cluster of child
// processes on 127.0.0.1 (every write fsynced on a majority): writes at 1..256 clients,
// linearizable and lease reads, failover after kill -9 of the leader, a follower 1,000,000
// documents behind catching up by snapshot, and the same
// workload on a 3-member etcd cluster when one is installed, started beside ours: the writes
// alternate between the two, round by round (fixtures/alternate.ts). Writes an HTML chart.
import { copyFile, mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EtcdSide, type EtcdResults } from './etcd.ts';
import { alternateWrites, WARM_UP_SECONDS, type AlternatedWrites } from './fixtures/alternate.ts';
import { clusterGuard } from './cluster-guard.ts';
import { idleCpuMsPerSecond, withCpuCores, type CpuCores } from './fixtures/cpu-usage.ts';
import { measureFailover, type FailoverResult } from './fixtures/failover.ts';
import { measureSnapshotCatchUp } from './fixtures/snapshot-catch-up.ts';
import { poolFor } from './fixtures/http.ts';
import { round, runLoad, type LoadResult } from './fixtures/load.ts';
import { OurCluster, type ClusterTimings } from './fixtures/our-cluster.ts';
import { summarizeProfile, type ProfileSummary, type Window } from './fixtures/profile-summary.ts';
import { writeReport } from './fixtures/report.ts';
import { traceWrites } from './fixtures/write-trace-run.ts';
import { OurTarget, readRun, READ_KEYS, READ_WARM_UP_SECONDS, warmUpReads, writeSeries } from './fixtures/workloads.ts';
import { progress } from './util.ts';

export interface ClusterBenchOptions {
  readonly quick: boolean;
  /** Instead of the benchmark: CPU profiles (--cpu-prof) of every node under 64-client writes, then reads. */
  readonly profile: boolean;
  /** Skip the etcd comparison even when etcd is installed. */
  readonly skipEtcd: boolean;
  /** Instead of the benchmark: where a write's time goes, stage by stage, at 1 and 64 clients. */
  readonly trace?: boolean;
}

const TIMINGS: ClusterTimings = { electionTimeoutMs: 150, heartbeatIntervalMs: 50 };
const CONCURRENCIES = [1, 16, 64, 256] as const;
const READ_CLIENTS = 64;
const FAILOVER_ROUNDS = 5;
/** How long both clusters sit idle while their CPU time is read, before the write rounds. */
const IDLE_CPU_MS = 2000;
/** Rounds of each write level, alternating ours and etcd (fixtures/alternate.ts). */
const WRITE_ROUNDS = 3;
const RESULTS_DIR = fileURLToPath(new URL('./results/', import.meta.url));

export async function benchCluster(options: ClusterBenchOptions): Promise<Record<string, unknown>> {
  const seconds = options.quick ? 1.5 : 5;
  if (options.profile) return { profile: await profileLeader(seconds) };
  if (options.trace === true) return { trace: await traceWrites(TIMINGS, seconds) };
  const load1AtStart = round(loadavg()[0]!);

  progress('starting a 3-node collection-store cluster');
  const cluster = await OurCluster.start({ size: 3, ...TIMINGS });
  const pools = cluster.ids.map((id) => poolFor(cluster.urlOf(id), Math.max(...CONCURRENCIES)));
  // etcd runs beside ours from the start: the writes alternate between the two, round by round.
  let etcdSide: EtcdSide | null = null;
  let writes: LoadResult[];
  let alternated: AlternatedWrites[] | null = null;
  let idleServersCpuMsPerSecond: { ours: number | null; etcd: number | null } | null = null;
  let reads: Record<string, LoadResult>;
  let failover: FailoverResult;
  try {
    etcdSide = options.skipEtcd ? null : await EtcdSide.start(TIMINGS, Math.max(...CONCURRENCIES));
    const target = new OurTarget(pools, async () => cluster.ids.indexOf(await cluster.waitForLeader(10_000)));
    if (etcdSide !== null) {
      const side = etcdSide;
      // Both idle at once, before any load: what their timers and heartbeats cost per second.
      const [oursIdle, etcdIdle] = await Promise.all([idleCpuMsPerSecond(cluster.pids(), IDLE_CPU_MS), idleCpuMsPerSecond(side.pids(), IDLE_CPU_MS)]);
      idleServersCpuMsPerSecond = { ours: oursIdle, etcd: etcdIdle };
      alternated = await alternateWrites(target, side.target, CONCURRENCIES, seconds, WRITE_ROUNDS, WARM_UP_SECONDS, {
        ours: () => cluster.pids(),
        peer: () => side.pids(),
      });
      writes = alternated.map((a) => a.ours);
    } else {
      writes = await writeSeries(target, CONCURRENCIES, seconds);
    }
    await target.refreshLeader();
    await target.preload(READ_KEYS);
    await warmUpReads(target, READ_CLIENTS);
    // Reads with the CPU each process used: the 3x-reads target is bounded by the two cores.
    const pids = cluster.pids();
    const readWithCpu = async (
      placement: 'spread' | 'leader',
      mode: 'linearizable' | 'lease',
    ): Promise<LoadResult & { cpuCores: CpuCores | null }> => {
      const { result, cpuCores } = await withCpuCores(pids, () => readRun(target, READ_CLIENTS, seconds, placement, mode));
      return { ...result, cpuCores };
    };
    reads = {
      linearizableSpread: await readWithCpu('spread', 'linearizable'),
      linearizableLeader: await readWithCpu('leader', 'linearizable'),
      leaseSpread: await readWithCpu('spread', 'lease'),
      leaseLeader: await readWithCpu('leader', 'lease'),
    };
    failover = await measureFailover(cluster, pools, FAILOVER_ROUNDS);
  } catch (error) {
    await etcdSide?.close();
    throw error;
  } finally {
    await Promise.all(pools.map((p) => p.close()));
    await cluster.close();
  }

  let etcd: EtcdResults | 'not installed' | 'skipped' = options.skipEtcd ? 'skipped' : 'not installed';
  if (etcdSide !== null && alternated !== null) {
    try {
      etcd = await etcdSide.readsAndResults(
        alternated.map((a) => a.peer),
        READ_CLIENTS,
        seconds,
      );
    } finally {
      await etcdSide.close();
    }
  }
  // A cluster of its own: it snapshots every few entries, which would disturb the rest.
  const snapshotCatchUp = await measureSnapshotCatchUp(options.quick ? 100_000 : 1_000_000, TIMINGS);
  const at64 = writes.find((w) => w.clients === 64)!;
  const results = {
    config: {
      nodes: 3,
      sync: 'batch (fsync on a majority before ack)',
      ...TIMINGS,
      secondsPerRun: seconds,
      readClients: READ_CLIENTS,
      readsWarmUpSeconds: READ_WARM_UP_SECONDS,
      writes: alternated !== null ? `${WRITE_ROUNDS} rounds per level alternating with etcd (medians)` : 'one run per level',
    },
    load1AtStart,
    writes,
    reads,
    linearizableReadsPerWrite64: round(reads.linearizableSpread!.opsPerSecond / Math.max(1, at64.opsPerSecond)),
    failover,
    snapshotCatchUp,
    etcd,
    ...(typeof etcd === 'string' ? {} : { comparison: compare(writes, reads, etcd) }),
    ...(alternated !== null
      ? {
          idleServersCpuMsPerSecond,
          writesAlternatingWithEtcd: alternated.map((a) => ({
            clients: a.clients,
            throughputOursOverEtcdMedianOfRounds: a.throughputRatioMedian,
            byRound: a.throughputRatioByRound,
            oursByRound: a.oursByRound,
            etcdByRound: a.peerByRound,
            // CPU µs per write of the three servers together and of the load generator (peer: etcd).
            cpuUsPerWrite: a.cpu,
          })),
        }
      : {}),
    targets: {
      failoverMedianUnder500Ms: failover.medianMs < 500,
      followerCatchesUpBySnapshotUnder10s: snapshotCatchUp.msToCaughtUp < 10_000,
      linearizableReadsAtLeast3xWrites: reads.linearizableSpread!.opsPerSecond >= 3 * at64.opsPerSecond,
      ...(typeof etcd === 'string'
        ? {}
        : {
            moreWritesThanEtcdAt64: at64.opsPerSecond > etcd.writes.find((w) => w.clients === 64)!.opsPerSecond,
            lowerP99ThanEtcdAt64: at64.p99Ms < etcd.writes.find((w) => w.clients === 64)!.p99Ms,
          }),
    },
    load1AtEnd: round(loadavg()[0]!),
    guard: clusterGuard({
      writes,
      alternated,
      linearizableReadsSpread: reads.linearizableSpread!,
      etcdLinearizableReadsSpread: typeof etcd === 'string' ? null : etcd.reads.linearizableSpread,
      failoverMedianMs: failover.medianMs,
      snapshotCatchUpMs: snapshotCatchUp.msToCaughtUp,
    }),
  };
  const chart = join(RESULTS_DIR, `cluster-${new Date().toISOString().slice(0, 19).replace(/:/g, '-')}.html`);
  const subtitle = `${new Date().toISOString()}, ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, Node ${process.version}; 1-minute load average ${load1AtStart} at start, ${results.load1AtEnd} at end (each run records its own).`;
  await writeReport(chart, {
    title: `Collection Store cluster benchmark${options.quick ? ' (quick)' : ''}`,
    subtitle,
    writes,
    reads,
    failover,
    snapshotCatchUp,
    etcd,
    ...(alternated !== null ? { writeCpu: alternated.map((a) => ({ clients: a.clients, cpu: a.cpu })) } : {}),
    json: results,
  });
  process.stderr.write(`\nchart: ${chart}\n`);
  return { ...results, chart };
}

/** ours / etcd: above 1 is better for throughput, below 1 is better for p99. */
function compare(writes: readonly LoadResult[], reads: Readonly<Record<string, LoadResult>>, etcd: EtcdResults): Record<string, unknown> {
  const ratio = (a: number, b: number): number | null => (b > 0 ? round(a / b) : null);
  return {
    writes: writes.map((w) => {
      const e = etcd.writes.find((x) => x.clients === w.clients)!;
      return { clients: w.clients, throughputOursOverEtcd: ratio(w.opsPerSecond, e.opsPerSecond), p99OursOverEtcd: ratio(w.p99Ms, e.p99Ms) };
    }),
    linearizableReads: (['linearizableSpread', 'linearizableLeader'] as const).map((k) => ({
      placement: k,
      throughputOursOverEtcd: ratio(reads[k]!.opsPerSecond, etcd.reads[k].opsPerSecond),
      p99OursOverEtcd: ratio(reads[k]!.p99Ms, etcd.reads[k].p99Ms),
    })),
  };
}

/**
 * Runs the 64-client write load, then 64-client linearizable reads spread over all nodes,
 * with every node under --cpu-prof; summarizes each node's profile over each load.
 */
async function profileLeader(seconds: number): Promise<Record<string, unknown>> {
  const dir = await mkdtemp(join(tmpdir(), 'cs-bench-prof-'));
  try {
    return await profileInto(dir, seconds);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function profileInto(dir: string, seconds: number): Promise<Record<string, unknown>> {
  const cluster = await OurCluster.start({ size: 3, ...TIMINGS, cpuProfileDir: dir });
  const pools = cluster.ids.map((id) => poolFor(cluster.urlOf(id), 64));
  let leader = 0;
  const phases: Array<{ name: string; load: LoadResult; window: Window }> = [];
  try {
    leader = await cluster.waitForLeader(10_000);
    const target = new OurTarget(pools, async () => cluster.ids.indexOf(leader));
    await target.refreshLeader();
    await runLoad('warm-up', 16, 1, (c, n) => target.write(c, n));
    const measure = async (name: string, operation: (c: number, n: number) => Promise<void>): Promise<void> => {
      const fromUs = monotonicUs();
      const load = await runLoad(`profiled ${name}`, READ_CLIENTS, seconds, operation);
      phases.push({ name, load, window: { fromUs, toUs: monotonicUs() } });
      const now = await cluster.waitForLeader(10_000);
      if (now !== leader) progress(`warning: the leader changed during the profile (node ${leader} -> node ${now})`);
    };
    await measure('writes, 64 clients', (c, n) => target.write(c, n));
    await target.preload(READ_KEYS);
    await warmUpReads(target, READ_CLIENTS);
    await measure('linearizable reads spread over all nodes, 64 clients', (c, n) => target.read(c, n, 'spread', 'linearizable'));
  } finally {
    await Promise.all(pools.map((p) => p.close()));
    await cluster.close();
  }
  const stamp = new Date().toISOString().slice(0, 19).replace(/:/g, '-');
  await mkdir(RESULTS_DIR, { recursive: true });
  const files = new Map<number, string>();
  for (const id of cluster.ids) {
    const nodeDir = join(dir, `node${id}`);
    const file = (await readdir(nodeDir).catch(() => [])).find((f) => /\.\d+\.0\.\d+\.cpuprofile$/.test(f));
    if (file === undefined) throw new Error(`no CPU profile of node ${id}'s main thread in ${nodeDir}`);
    const kept = join(RESULTS_DIR, `${id === leader ? 'leader' : 'follower'}-node${id}-${stamp}.cpuprofile`);
    await copyFile(join(nodeDir, file), kept);
    process.stderr.write(`\nCPU profile of node ${id}${id === leader ? ' (leader)' : ''}: ${kept} (open in Chrome DevTools)`);
    files.set(id, kept);
  }
  const summaries = [];
  for (const phase of phases) {
    const nodes: Record<string, ProfileSummary> = {};
    for (const [id, file] of files)
      nodes[`node${id}${id === leader ? ' (leader)' : ''}`] = await summarizeProfile(file, phase.window, id === leader ? 30 : 12);
    summaries.push({ phase: phase.name, load: phase.load, nodes });
  }
  return { leader, profileFiles: Object.fromEntries(files), phases: summaries };
}

function monotonicUs(): number {
  return Number(process.hrtime.bigint() / 1000n);
}
