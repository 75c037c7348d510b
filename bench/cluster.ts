// `npm run bench -- cluster [--quick] [--profile] [--no-etcd]`: a 3-node cluster of child
// processes on 127.0.0.1 (every write fsynced on a majority): writes at 1..256 clients,
// linearizable and lease reads, failover after kill -9 of the leader, and the same
// workload on a 3-member etcd cluster when one is installed. Writes an HTML chart.
import { copyFile, mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { benchEtcd, type EtcdResults } from './etcd.ts';
import { measureFailover, type FailoverResult } from './fixtures/failover.ts';
import { poolFor } from './fixtures/http.ts';
import { round, runLoad, type LoadResult } from './fixtures/load.ts';
import { OurCluster, type ClusterTimings } from './fixtures/our-cluster.ts';
import { summarizeProfile, type ProfileSummary } from './fixtures/profile-summary.ts';
import { writeReport } from './fixtures/report.ts';
import { OurTarget, readRun, READ_KEYS, writeSeries } from './fixtures/workloads.ts';
import { progress } from './util.ts';

export interface ClusterBenchOptions {
  readonly quick: boolean;
  /** Only profile the leader (--cpu-prof) under the 64-client write load. */
  readonly profile: boolean;
  /** Skip the etcd comparison even when etcd is installed. */
  readonly skipEtcd: boolean;
}

const TIMINGS: ClusterTimings = { electionTimeoutMs: 150, heartbeatIntervalMs: 50 };
const CONCURRENCIES = [1, 16, 64, 256] as const;
const READ_CLIENTS = 64;
const FAILOVER_ROUNDS = 5;
const RESULTS_DIR = fileURLToPath(new URL('./results/', import.meta.url));

export async function benchCluster(options: ClusterBenchOptions): Promise<Record<string, unknown>> {
  const seconds = options.quick ? 1.5 : 5;
  if (options.profile) return { profile: await profileLeader(seconds) };
  const load1AtStart = round(loadavg()[0]!);

  progress('starting a 3-node collection-store cluster');
  const cluster = await OurCluster.start({ size: 3, ...TIMINGS });
  const pools = cluster.ids.map((id) => poolFor(cluster.urlOf(id), Math.max(...CONCURRENCIES)));
  let writes: LoadResult[];
  let reads: Record<string, LoadResult>;
  let failover: FailoverResult;
  try {
    const leader = await cluster.waitForLeader(10_000);
    const target = new OurTarget(pools, cluster.ids.indexOf(leader));
    writes = await writeSeries(target, CONCURRENCIES, seconds);
    await target.preload(READ_KEYS);
    reads = {
      linearizableSpread: await readRun(target, READ_CLIENTS, seconds, 'spread', 'linearizable'),
      linearizableLeader: await readRun(target, READ_CLIENTS, seconds, 'leader', 'linearizable'),
      leaseSpread: await readRun(target, READ_CLIENTS, seconds, 'spread', 'lease'),
      leaseLeader: await readRun(target, READ_CLIENTS, seconds, 'leader', 'lease'),
    };
    failover = await measureFailover(cluster, pools, FAILOVER_ROUNDS);
  } finally {
    await Promise.all(pools.map((p) => p.close()));
    await cluster.close();
  }

  const etcd: EtcdResults | 'not installed' | 'skipped' = options.skipEtcd
    ? 'skipped'
    : await benchEtcd({ ...TIMINGS, concurrencies: CONCURRENCIES, seconds, readClients: READ_CLIENTS });
  const at64 = writes.find((w) => w.clients === 64)!;
  const results = {
    config: { nodes: 3, sync: 'batch (fsync on a majority before ack)', ...TIMINGS, secondsPerRun: seconds, readClients: READ_CLIENTS },
    load1AtStart,
    writes,
    reads,
    linearizableReadsPerWrite64: round(reads.linearizableSpread!.opsPerSecond / Math.max(1, at64.opsPerSecond)),
    failover,
    etcd,
    ...(typeof etcd === 'string' ? {} : { comparison: compare(writes, reads, etcd) }),
    targets: {
      failoverMedianUnder500Ms: failover.medianMs < 500,
      linearizableReadsAtLeast3xWrites: reads.linearizableSpread!.opsPerSecond >= 3 * at64.opsPerSecond,
      ...(typeof etcd === 'string'
        ? {}
        : {
            moreWritesThanEtcdAt64: at64.opsPerSecond > etcd.writes.find((w) => w.clients === 64)!.opsPerSecond,
            lowerP99ThanEtcdAt64: at64.p99Ms < etcd.writes.find((w) => w.clients === 64)!.p99Ms,
          }),
    },
    load1AtEnd: round(loadavg()[0]!),
  };
  const chart = join(RESULTS_DIR, `cluster-${new Date().toISOString().slice(0, 19).replace(/:/g, '-')}.html`);
  await writeReport(chart, { title: `Collection Store cluster benchmark${options.quick ? ' (quick)' : ''}`, writes, reads, failover, etcd, json: results });
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

/** Runs the 64-client write load with every node under --cpu-prof; summarizes the leader's profile. */
async function profileLeader(seconds: number): Promise<Record<string, unknown>> {
  const dir = await mkdtemp(join(tmpdir(), 'cs-bench-prof-'));
  const cluster = await OurCluster.start({ size: 3, ...TIMINGS, cpuProfileDir: dir });
  const pools = cluster.ids.map((id) => poolFor(cluster.urlOf(id), 64));
  let leader: number;
  let load: LoadResult;
  try {
    leader = await cluster.waitForLeader(10_000);
    const target = new OurTarget(pools, cluster.ids.indexOf(leader));
    await runLoad('warm-up', 16, 1, (c, n) => target.write(c, n));
    load = await runLoad('profiled writes, 64 clients', 64, seconds, (c, n) => target.write(c, n));
  } finally {
    await Promise.all(pools.map((p) => p.close()));
    await cluster.close();
  }
  const file = (await readdir(dir)).find((f) => f.startsWith(`node${leader}.`));
  if (file === undefined) throw new Error(`no CPU profile of the leader (node ${leader}) in ${dir}`);
  const summary: ProfileSummary = await summarizeProfile(join(dir, file));
  const kept = join(RESULTS_DIR, `leader-${new Date().toISOString().slice(0, 19).replace(/:/g, '-')}.cpuprofile`);
  await mkdir(RESULTS_DIR, { recursive: true });
  await copyFile(join(dir, file), kept);
  await rm(dir, { recursive: true, force: true });
  process.stderr.write(`\nleader profile: ${kept} (open in Chrome DevTools)\n`);
  return { leader, load, profileFile: kept, ...summary };
}
