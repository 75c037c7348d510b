// The etcd side of the cluster benchmark: a 3-member etcd cluster with the same timings,
// the same write workload (PUT of small values to the leader) and linearizable range reads.
import { progress } from './util.ts';
import { EtcdCluster, etcdHeartbeatMs, findEtcd } from './fixtures/etcd-cluster.ts';
import { poolFor } from './fixtures/http.ts';
import type { LoadResult } from './fixtures/load.ts';
import type { ClusterTimings } from './fixtures/our-cluster.ts';
import { EtcdTarget, readRun, READ_KEYS, writeSeries } from './fixtures/workloads.ts';

export interface EtcdBenchOptions extends ClusterTimings {
  readonly concurrencies: readonly number[];
  readonly seconds: number;
  readonly readClients: number;
}

export interface EtcdResults {
  readonly version: string;
  readonly electionTimeoutMs: number;
  /** etcd needs election >= 5 heartbeats, so it may run a shorter heartbeat than ours. */
  readonly heartbeatIntervalMs: number;
  readonly writes: LoadResult[];
  readonly reads: { readonly linearizableSpread: LoadResult; readonly linearizableLeader: LoadResult };
}

export async function benchEtcd(options: EtcdBenchOptions): Promise<EtcdResults | 'not installed'> {
  const etcd = await findEtcd();
  if (etcd === null) return 'not installed';
  progress(`starting a 3-member etcd ${etcd.version} cluster`);
  const cluster = await EtcdCluster.start(etcd.path, 3, options);
  const pools = cluster.clientUrls.map((url) => poolFor(url, Math.max(...options.concurrencies)));
  try {
    const target = new EtcdTarget(pools, () => cluster.leaderIndex());
    const writes = await writeSeries(target, options.concurrencies, options.seconds);
    await target.refreshLeader();
    await target.preload(READ_KEYS);
    const linearizableSpread = await readRun(target, options.readClients, options.seconds, 'spread', 'linearizable');
    const linearizableLeader = await readRun(target, options.readClients, options.seconds, 'leader', 'linearizable');
    return {
      version: etcd.version,
      electionTimeoutMs: options.electionTimeoutMs,
      heartbeatIntervalMs: etcdHeartbeatMs(options),
      writes,
      reads: { linearizableSpread, linearizableLeader },
    };
  } finally {
    await Promise.all(pools.map((p) => p.close()));
    await cluster.close();
  }
}
