// The etcd side of the cluster benchmark: a 3-member etcd cluster with the same timings,
// the same write workload (PUT of small values to the leader) and linearizable range reads.
// It starts beside ours (EtcdSide.start), so that writes are measured in alternating rounds
// (fixtures/alternate.ts), then its reads run once ours are done.
import { progress } from './util.ts';
import { EtcdCluster, etcdHeartbeatMs, findEtcd } from './fixtures/etcd-cluster.ts';
import { poolFor } from './fixtures/http.ts';
import type { LoadResult } from './fixtures/load.ts';
import type { ClusterTimings } from './fixtures/our-cluster.ts';
import { EtcdTarget, readRun, READ_KEYS, warmUpReads } from './fixtures/workloads.ts';
import type { Pool } from 'undici';

export interface EtcdResults {
  readonly version: string;
  readonly electionTimeoutMs: number;
  /** etcd needs election >= 5 heartbeats, so it may run a shorter heartbeat than ours. */
  readonly heartbeatIntervalMs: number;
  /** The medians of its alternating rounds (fixtures/alternate.ts). */
  readonly writes: LoadResult[];
  readonly reads: { readonly linearizableSpread: LoadResult; readonly linearizableLeader: LoadResult };
}

/** A running 3-member etcd cluster and a target for the shared workloads. */
export class EtcdSide {
  private constructor(
    readonly version: string,
    private readonly timings: ClusterTimings,
    private readonly cluster: EtcdCluster,
    private readonly pools: readonly Pool[],
    readonly target: EtcdTarget,
  ) {}

  /** Starts etcd when it is installed; null when it is not. */
  static async start(timings: ClusterTimings, connections: number): Promise<EtcdSide | null> {
    const etcd = await findEtcd();
    if (etcd === null) return null;
    progress(`starting a 3-member etcd ${etcd.version} cluster`);
    const cluster = await EtcdCluster.start(etcd.path, 3, timings);
    const pools = cluster.clientUrls.map((url) => poolFor(url, connections));
    return new EtcdSide(etcd.version, timings, cluster, pools, new EtcdTarget(pools, () => cluster.leaderIndex()));
  }

  /** The members' process ids (for the CPU time of each write run). */
  pids(): number[] {
    return this.cluster.pids();
  }

  /** Linearizable reads (spread over the members, and on the leader) after the same warm-up as ours, then the results. */
  async readsAndResults(writes: LoadResult[], readClients: number, seconds: number): Promise<EtcdResults> {
    await this.target.refreshLeader();
    await this.target.preload(READ_KEYS);
    await warmUpReads(this.target, readClients);
    const linearizableSpread = await readRun(this.target, readClients, seconds, 'spread', 'linearizable');
    const linearizableLeader = await readRun(this.target, readClients, seconds, 'leader', 'linearizable');
    return {
      version: this.version,
      electionTimeoutMs: this.timings.electionTimeoutMs,
      heartbeatIntervalMs: etcdHeartbeatMs(this.timings),
      writes,
      reads: { linearizableSpread, linearizableLeader },
    };
  }

  async close(): Promise<void> {
    await Promise.all(this.pools.map((p) => p.close()));
    await this.cluster.close();
  }
}
